"""The ONNX Runtime backend of the embedder: the same model, exported once, run without torch.

The sentence-transformers folder is exported (torch.onnx, mean pooling and L2 normalisation
inside the graph) into ``<model cache>/onnx/<folder name>-<hash>/`` the first time it is asked for,
and optionally quantized to int8 there (ONNX Runtime's dynamic quantization). Nothing is
downloaded: the export reads only the local folder. ``export.json`` records the source folder's
identity (every file's path, size and modification time), so a changed model is exported again.

The word-embedding table (250,037 × 384 float32, 384 MB of the model's 470 MB) stays out of the
graph: it is saved as ``word_embeddings.npy`` and memory-mapped, the rows of a batch's tokens
gathered in numpy and handed to the graph as ``inputs_embeds``. The workers of a server then share
one copy in the page cache (their proportional set size counts it once), and only the rows
questions actually use are ever read; the graph itself is 86 MB (fp32) or about 25 MB (int8).

Why: measured on these 2-core machines, ONNX Runtime embeds the default model's passages and
questions about 2.5 times as fast as sentence-transformers on torch when the machine is quiet (3–4
times when other work shares it), with the same vectors (cosine ≥ 0.99999), and a serving process
that never imports torch is several hundred MB smaller (BENCHMARKS.md).

The fp32 export makes the vectors of the torch model, so it keeps that model's fingerprint and
its embedding cache; the int8 one makes other vectors (cosine 0.997), so it gets a
fingerprint of its own and never mixes with them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import mmap
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chuchu.corpus.errors import ModelError

log = logging.getLogger(__name__)

FP32 = "onnx"
INT8 = "onnx-int8"
EXPORT = "export.json"
_FORMAT = 3  # of the export folder; a different one is exported again
WORDS = "word_embeddings.npy"
GRAPH = "model.onnx"  # the fp32 graph as exported, which ONNX Runtime runs and int8 is quantized from
_PAD_ID = 1  # XLM-R's <pad>; read from the tokenizer when it says
# The int8 recipe: the matrix products' weights only, one scale per output channel. Measured on
# InsuranceQA-zh answers: cosine with the fp32 vectors 0.997 (min 0.996); quantizing every
# operator with one scale per tensor (ONNX Runtime's default) gave 0.987 (min 0.984), no faster.
INT8_RECIPE = "matmul-per-channel-v1"
INT8_FILE = f"model_int8_{INT8_RECIPE}.onnx"
# Tokens per model call (rows × the longest row). ONNX Runtime does less work per text in small
# calls on these machines (probably a call of 32 passages of ~90 tokens overflows their caches):
# measured in CPU time on the seed corpus, passages took 3.8 s in calls of ≤384 tokens against
# 5.7 s in calls of 32, sentences 3.2 s against 4.3 s, questions 18% less; 256 and 512 tokens did
# about as well as 384. The vectors are the same (padding is masked; cosine with the earlier 0.9999992).
TOKEN_BUDGET = 384


def onnx_folder(source: Path, cache_dir: Path) -> Path:
    """Where the export of a model folder lives."""
    tag = hashlib.sha256(str(Path(source).resolve()).encode()).hexdigest()[:10]
    return Path(cache_dir) / "onnx" / f"{Path(source).name}-{tag}"


def ensure_onnx(source: Path, cache_dir: Path, quantized: bool) -> tuple[Path, dict[str, Any]]:
    """The exported model file (fp32, or int8 when ``quantized``) and its record; exported once."""
    folder = onnx_folder(source, cache_dir)
    identity = _identity(source)
    folder.mkdir(parents=True, exist_ok=True)
    # One process exports at a time (the workers of a server start together); the others wait
    # and then find the export made.
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = _record(folder)
        if record.get("source_identity") != identity or record.get("format") != _FORMAT:
            record = _export(source, folder, identity)
        if quantized and not (folder / INT8_FILE).exists():
            _quantize(folder)
    return folder / (INT8_FILE if quantized else GRAPH), record


class OnnxEmbedder:
    """An Embedder running the exported model in ONNX Runtime; thread-safe, as its session is.

    ONNX Runtime uses every core for a call. ``spinning``: its threads wait for the next operator
    of a call awake, for a process that is the machine's only session (a server of one worker);
    see below.
    """

    def __init__(
        self,
        source: Path,
        cache_dir: Path,
        name: str,
        quantized: bool = False,
        spinning: bool = False,
    ) -> None:
        import onnxruntime as ort

        model_file, record = ensure_onnx(Path(source), Path(cache_dir), quantized)
        self.name = name + (" (onnx int8)" if quantized else "")
        self.dimension = int(record["dimension"])
        # int8 makes other vectors than the model's: a fingerprint, and so a cache, of its own.
        self.fingerprint = (
            hashlib.sha256(f"{record['fingerprint']}\0int8\0{INT8_RECIPE}".encode()).hexdigest()[:32]
            if quantized
            else record["fingerprint"]
        )
        self._prompts: dict[str, str] = record.get("prompts", {})
        self._tokenizer = shared_tokenizer(Path(source), int(record["max_seq_length"]))
        self._pad_id = int(record.get("pad_id", _PAD_ID))
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # A call runs ~100 operators, each split over the threads. Sleeping between them, a thread
        # is woken for each; spinning, it is there at once, and force_spinning_stop sends it to
        # sleep when the call ends, so no core burns between calls. Measured on these 2-core
        # machines, one question at a time (3 paired rounds): 8.4-9.7 ms against 10.8-12.1 ms
        # sleeping, for the same CPU per question; spinning without the stop took 25-35 % more CPU.
        # Never with several sessions on the cores (workers > 1): their spinning threads wait for
        # cores the other holds (2 workers at 16 clients: 25-35 % fewer answers; once 49 ms a
        # question against 26 ms).
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._words = _map_rows(model_file.parent / WORDS)

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Vectors for passages."""
        return self._encode(texts, self._prompts.get("passage", ""), batch_size)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for questions."""
        return self._encode(texts, self._prompts.get("query", ""), 32)

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch([prompt + t for t in texts])
        # Length-sorted batches: a batch is as long as its longest text, the rest is padding.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for rows in _batches(order, [len(e.ids) for e in encodings], max(1, batch_size)):
            width = len(encodings[rows[-1]].ids)
            ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            embeds = np.ascontiguousarray(self._words[ids], dtype=np.float32)
            out[rows] = self._session.run(None, {"inputs_embeds": embeds, "attention_mask": mask})[0]
        return out


_tokenizers: dict[tuple[str, int], Any] = {}
_tokenizers_lock = threading.Lock()


def shared_tokenizer(source: Path, max_length: int) -> Any:
    """The model folder's tokenizer, loaded once per process and shared by its embedders.

    The XLM-R tokenizer takes ~280 MB of heap (its 250,002 pieces in a trie), more than the
    model's graph. Loaded by a server's master before it forks its workers (preload), it is one
    copy in memory shared by all of them: nothing writes to it after loading.
    """
    from tokenizers import Tokenizer

    key = (str(Path(source).resolve()), int(max_length))
    with _tokenizers_lock:
        tokenizer = _tokenizers.get(key)
        if tokenizer is None:
            tokenizer = Tokenizer.from_file(str(Path(source) / "tokenizer.json"))
            tokenizer.enable_truncation(int(max_length))
            tokenizer.no_padding()
            _tokenizers[key] = tokenizer
        return tokenizer


def preload_tokenizer(source: Path, cache_dir: Path) -> bool:
    """Load the tokenizer of a model already exported (nothing else: no session, no export, no torch).

    For a server's master process, before it forks: the workers then share the tokenizer, and
    each creates its own ONNX Runtime session after the fork (a session is not fork-safe).
    False when the model has not been exported yet (the first worker will do it).
    """
    record = _record(onnx_folder(Path(source), Path(cache_dir)))
    if record.get("source_identity") != _identity(Path(source)) or record.get("format") != _FORMAT:
        return False
    shared_tokenizer(Path(source), int(record["max_seq_length"]))
    return True


def _batches(order: list[int], lengths: list[int], most: int) -> Iterator[list[int]]:
    """The texts in ``order`` (shortest first) cut into model calls of at most ``most`` texts and
    ``TOKEN_BUDGET`` tokens (padded: rows × the longest), at least one text each."""
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and end - start < most and lengths[order[end]] * (end + 1 - start) <= TOKEN_BUDGET:
            end += 1
        yield order[start:end]
        start = end


def _map_rows(path: Path) -> np.ndarray:
    """The .npy table memory-mapped for random row reads, without readahead around each row.

    The pages are the page cache's: every worker of a server maps the same ones.
    """
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        shape, fortran, dtype = (
            np.lib.format.read_array_header_1_0(f) if version == (1, 0) else np.lib.format.read_array_header_2_0(f)
        )
        offset = f.tell()
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if fortran or len(shape) != 2:
        raise ModelError(f"{path} is not a table of word embeddings; delete its folder to export the model again.")
    mapped.madvise(mmap.MADV_RANDOM)
    return np.frombuffer(mapped, dtype=dtype, count=shape[0] * shape[1], offset=offset).reshape(shape)


def _export(source: Path, folder: Path, identity: str) -> dict[str, Any]:
    """Export the folder's transformer with pooling and normalisation, and record what it is."""
    log.info("exporting %s to ONNX in %s (once)", source, folder)
    import torch
    from sentence_transformers import SentenceTransformer

    from chuchu.index.embedder import _fingerprint

    try:
        # Eager attention exports plain matrix products and a softmax; PyTorch's fused attention
        # exports extra mask handling (IsNaN, Where) around them. In two paired runs (4 and 7
        # repeats) the eager graph took 9–11% less CPU for 300 InsuranceQA answers and 7–16% less
        # per question.
        # Fusing its blocks further with ONNX Runtime's transformer optimizer (12 Attention, 24
        # SkipLayerNormalization) changed neither, in 7 repeats, so the graph stays as exported.
        st = SentenceTransformer(
            str(source), device="cpu", local_files_only=True, model_kwargs={"attn_implementation": "eager"}
        )
    except Exception as exc:  # sentence-transformers raises many kinds for a bad model
        raise ModelError(f"The model folder {source} cannot be loaded to export it to ONNX ({exc}).") from exc
    pooling = st[1].get_config_dict() if len(st) > 1 else {}
    # sentence-transformers 6 says "pooling_mode": "mean"; 5 said "pooling_mode_mean_tokens": true.
    mean = pooling.get("pooling_mode") == "mean" or pooling.get("pooling_mode_mean_tokens") is True
    if not mean or not pooling.get("include_prompt", True) or len(st) != 3:
        raise ModelError(
            f"The ONNX backend exports mean-pooled, normalised models; {source} is another kind. "
            "Set CHUCHU_EMBEDDING_BACKEND=torch for it."
        )
    transformer = st[0].auto_model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, inputs_embeds: Any, attention_mask: Any) -> Any:
            hidden = self.transformer(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    folder.mkdir(parents=True, exist_ok=True)
    words = transformer.get_input_embeddings().weight.detach().cpu().numpy().astype(np.float32)
    sample = torch.ones((2, 8), dtype=torch.long)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        target = Path(tmp) / GRAPH
        # The TorchScript exporter warns that it is deprecated, and the tracer warns about every
        # Python branch on shapes; neither concerns the graph (checked against torch in
        # tests/integration/test_backend.py), and under pytest's warnings-as-errors they would
        # fail whichever test loads the model first.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(),
                (torch.zeros((2, 8, words.shape[1])), sample),
                str(target),
                input_names=["inputs_embeds", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={
                    "inputs_embeds": {0: "b", 1: "s"},
                    "attention_mask": {0: "b", 1: "s"},
                    "embedding": {0: "b"},
                },
                opset_version=17,
                dynamo=False,  # the TorchScript exporter: dynamic axes without guards, no extra files
            )
        np.save(Path(tmp) / WORDS, words)
        os.replace(Path(tmp) / WORDS, folder / WORDS)
        os.replace(target, folder / GRAPH)
    for old in folder.glob("model_int8*.onnx"):  # quantized from an older export
        old.unlink()
    record = {
        "format": _FORMAT,
        "source": str(Path(source).resolve()),
        "source_identity": identity,
        "fingerprint": _fingerprint(st),
        "dimension": int(st.get_embedding_dimension()),
        "max_seq_length": int(st.max_seq_length),
        "prompts": dict(getattr(st, "prompts", {}) or {}),
        "pad_id": int(st.tokenizer.pad_token_id if st.tokenizer.pad_token_id is not None else _PAD_ID),
    }
    tmp_record = folder / f".{EXPORT}.{os.getpid()}"
    tmp_record.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp_record, folder / EXPORT)
    return record


def _quantize(folder: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    log.info("quantizing %s to int8 (once)", folder / GRAPH)
    tmp = folder / f".model_int8.{os.getpid()}.onnx"
    quantize_dynamic(
        str(folder / GRAPH),
        str(tmp),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
    )
    os.replace(tmp, folder / INT8_FILE)


def _record(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / EXPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or not (folder / GRAPH).exists() or not (folder / WORDS).exists():
        return {}
    return data


def _identity(folder: Path) -> str:
    """Every file's path, size and modification time: what tells that the source model changed."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        stat = path.stat()
        h.update(f"{path.relative_to(folder).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()
