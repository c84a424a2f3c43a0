import json

import pytest

from chuchu.corpus.errors import BuildError, IndexCorrupt
from chuchu.index.build import build_index
from chuchu.index.manifest import FORMAT_VERSION, MANIFEST
from chuchu.index.search import Searcher
from chuchu.index.snapshot import PASSAGES, VECTORS, read_snapshot
from chuchu.index.store import Store


def test_a_build_is_published_with_a_complete_manifest(fake_store, fake_embedder):
    path = fake_store.live_path()
    manifest = read_snapshot(path).manifest
    assert manifest.format_version == FORMAT_VERSION
    assert manifest.model == fake_embedder.name and manifest.model_fingerprint == fake_embedder.fingerprint
    assert manifest.dimension == 64 and manifest.documents == 2 and manifest.passages >= 3
    assert len(manifest.corpus_hash) == 64
    assert {"faiss-cpu", "numpy", "sentence-transformers", "torch"} <= set(manifest.versions)
    assert not list(fake_store.builds.glob("*.partial"))


def test_search_finds_the_passage_and_its_span(fake_store, fake_embedder):
    searcher = Searcher(read_snapshot(fake_store.live_path()), fake_embedder)
    [hit, *_] = searcher.search("一季稻种植12330亩", 3)
    doc = hit.document
    assert "12330亩" in hit.passage.text
    assert doc.text[hit.passage.start : hit.passage.end] == hit.passage.text


def test_manifest_mismatches_name_the_path_and_the_difference(fake_store, fake_embedder):
    path = fake_store.live_path()
    snapshot = read_snapshot(path)
    with pytest.raises(IndexCorrupt, match="fingerprint") as info:
        snapshot.manifest.check_model(path, "other", "ffff", 64)
    assert str(path) in info.value.message
    with pytest.raises(IndexCorrupt, match="128-dimensional"):
        snapshot.manifest.check_model(path, "other", fake_embedder.fingerprint, 128)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: (p / MANIFEST).unlink(), "no manifest.json"),
        (lambda p: (p / MANIFEST).write_text("{broken"), "cannot be read"),
        (lambda p: _edit_manifest(p, format_version=99), "format version 99"),
        (lambda p: _edit_manifest(p, passages=999), "999 passages"),
        (lambda p: (p / VECTORS).write_bytes(b"garbage"), "vectors.faiss has changed"),
        (lambda p: (p / PASSAGES).write_text('{"doc_id": 1}\n'), "passages.jsonl has changed"),
        (lambda p: (p / PASSAGES).unlink(), "passages.jsonl cannot be read"),
        (lambda p: _without_checksums(p, lambda: (p / PASSAGES).write_text('{"doc_id": 1}\n')), "do not match"),
    ],
)
def test_a_damaged_build_fails_to_load_with_a_clear_message(fake_store, damage, message):
    path = fake_store.live_path()
    damage(path)
    with pytest.raises(IndexCorrupt, match=message) as info:
        read_snapshot(path)
    assert str(path) in info.value.message


@pytest.mark.parametrize("how", ["truncated", "emptied", "altered"])
def test_each_file_of_a_build_damaged_after_publishing_is_refused_by_name(fake_store, how):
    path = fake_store.live_path()
    names = sorted(read_snapshot(path).manifest.files or {})
    assert {"vectors.faiss", "passages.jsonl", "documents.jsonl", "lexical.npz", "context.npz"} <= set(names)
    for name in names:
        original = (path / name).read_bytes()
        damaged = {"truncated": original[: len(original) // 2], "emptied": b"", "altered": original[:-1] + b"#"}[how]
        (path / name).write_bytes(damaged)
        with pytest.raises(IndexCorrupt, match=f"{name} has changed"):
            read_snapshot(path)
        (path / name).write_bytes(original)
    assert read_snapshot(path).manifest.build_id  # whole again, it loads


def _without_checksums(path, damage) -> None:
    """A build from before the manifest recorded checksums, then damaged: its counts and records are checked."""
    _edit_manifest(path, files=None)
    damage()


def test_a_failed_build_leaves_the_live_build_untouched(fake_store, small_corpus):
    before = fake_store.live_id()

    class Exploding:
        name, fingerprint, dimension = "x", "x", 64

        def embed_passages(self, texts, batch_size=32):
            raise RuntimeError("out of memory")

    with pytest.raises(BuildError, match="live index is unchanged"):
        build_index(small_corpus, fake_store, Exploding())
    assert fake_store.live_id() == before
    assert not list(fake_store.builds.glob("*.partial"))


def test_a_new_build_replaces_the_pointer(fake_store, small_corpus, fake_embedder):
    before = fake_store.live_id()
    summary = build_index(small_corpus, fake_store, fake_embedder)
    assert fake_store.live_id() == summary.build_id != before
    assert (fake_store.builds / before).is_dir(), "the previous build is kept"


def test_an_empty_corpus_is_refused(tmp_path, fake_embedder):
    (tmp_path / "docs").mkdir()
    with pytest.raises(BuildError, match="No readable"):
        build_index(tmp_path / "docs", Store(tmp_path / "s"), fake_embedder)


def _edit_manifest(path, **changes):
    data = json.loads((path / MANIFEST).read_text())
    data.update(changes)
    (path / MANIFEST).write_text(json.dumps(data))
