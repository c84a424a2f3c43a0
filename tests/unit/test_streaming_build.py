"""The streaming build, the approximate vector index and the Ray seam, with the fake embedder.

The real cluster and the real model are in tests/integration/test_ray.py and test_scale.py.
"""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import chuchu.index.build as build_module
from chuchu.corpus.documents import read_corpus
from chuchu.corpus.errors import BuildError
from chuchu.corpus.splitting import split_document
from chuchu.index.build import build_index
from chuchu.index.cache import EmbeddingCache
from chuchu.index.filters import Filter
from chuchu.index.ray_embedding import RayOptions, fill_cache
from chuchu.index.search import Searcher
from chuchu.index.snapshot import SPOOL, read_snapshot
from chuchu.index.store import Store
from chuchu.index.vectors import (
    APPROXIMATE,
    EF_SEARCH_MAX,
    EXACT,
    TARGET_RECALL,
    VectorSpool,
    choose_ef_search,
    measure_recall,
    write_index,
)
from chuchu.service.cli import main
from tests.fakes import HashingEmbedder
from tests.synthetic import make_corpus

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


@pytest.fixture(scope="module")
def ten(tmp_path_factory):
    """A synthetic corpus ten times the real one (1,348 passages)."""
    return make_corpus(CORPUS, tmp_path_factory.mktemp("ten"), 10)


def _build(corpus, root, monkeypatch=None, window=None, **kwargs):
    if window is not None:
        monkeypatch.setattr(build_module, "_WINDOW", window)
    embedder = HashingEmbedder()
    with EmbeddingCache(root / "cache", embedder.fingerprint, embedder.dimension) as cache:
        summary = build_index(corpus, Store(root / "store"), embedder, cache=cache, **kwargs)
    return summary, read_snapshot(summary.path)


def test_a_streamed_build_holds_exactly_what_the_corpus_reads_as(tmp_path, ten, monkeypatch):
    # A window far smaller than the corpus, so the passages are embedded in many windows.
    summary, snapshot = _build(ten, tmp_path, monkeypatch, window=100)
    corpus = read_corpus(ten)
    passages = [p for d in corpus.documents for p in split_document(d)]
    assert snapshot.passages == tuple(passages)
    assert list(snapshot.documents.values()) == list(corpus.documents)
    assert snapshot.manifest.corpus_hash == corpus.hash
    assert summary.embedded == len({p.text for p in passages}) and summary.reused == 0  # a cold build
    vectors = snapshot.vectors.reconstruct_n(0, snapshot.vectors.ntotal)
    assert np.array_equal(vectors, HashingEmbedder().embed_passages([p.text for p in passages]))
    assert not (summary.path / SPOOL).exists(), "the spool of raw vectors is not part of a published build"


def test_the_window_does_not_change_the_build(tmp_path, ten, monkeypatch):
    _, small = _build(ten, tmp_path / "small", monkeypatch, window=64)
    _, large = _build(ten, tmp_path / "large", monkeypatch, window=100_000)
    for name in ("passages.jsonl", "documents.jsonl", "lexical.npz", "context.npz", "duplicates.json"):
        assert (small.path / name).read_bytes() == (large.path / name).read_bytes(), name
    assert np.array_equal(small.vectors.reconstruct_n(0, 1348), large.vectors.reconstruct_n(0, 1348))


def test_above_the_threshold_the_index_is_hnsw_with_its_recall_measured(tmp_path, ten, capsys):
    summary, snapshot = _build(ten, tmp_path, approximate_above=1000)
    assert summary.passages > 1000
    assert summary.vectors.kind == APPROXIMATE and snapshot.vector_info == summary.vectors
    assert summary.vectors.sample == 256 and 0.9 <= summary.vectors.recall_at_10 <= 1.0
    ef = summary.vectors.ef_search
    assert type(snapshot.vectors).__name__ == "IndexHNSWFlat" and snapshot.vectors.hnsw.efSearch == ef
    assert summary.vectors.recall_at_10 >= TARGET_RECALL or ef == EF_SEARCH_MAX
    recorded = json.loads((summary.path / "manifest.json").read_text(encoding="utf-8"))["settings"]["vectors"]
    assert recorded == {
        "kind": "hnsw",
        "m": 32,
        "ef_search": ef,
        "sample": 256,
        "recall_at_10": recorded["recall_at_10"],
    }
    assert main(["builds", "--store", str(tmp_path / "store")]) == 0
    assert f"hnsw R@10 {summary.vectors.recall_at_10:.3f}" in capsys.readouterr().out


def test_at_or_below_the_threshold_the_index_is_exact(tmp_path, small_corpus):
    summary, snapshot = _build(small_corpus, tmp_path, approximate_above=3)
    assert summary.passages == 3 and summary.vectors.kind == EXACT and summary.vectors.recall_at_10 is None
    assert type(snapshot.vectors).__name__ == "IndexFlatIP"


def test_approximate_search_finds_what_exact_search_finds(tmp_path, ten):
    _, exact = _build(ten, tmp_path / "exact")
    _, approximate = _build(ten, tmp_path / "approximate", approximate_above=0)
    questions = [p.text[:20] for p in exact.passages[::97]]
    same = 0
    for question in questions:
        a = [h.passage.number for h in Searcher(exact, HashingEmbedder()).search(question, 5, mode="dense")]
        b = [h.passage.number for h in Searcher(approximate, HashingEmbedder()).search(question, 5, mode="dense")]
        same += a[0] == b[0]
    assert same >= 0.9 * len(questions)


def test_an_approximate_search_with_a_filter_searches_only_the_allowed_documents(tmp_path, ten):
    _, snapshot = _build(ten, tmp_path, approximate_above=0)
    doc = sorted(snapshot.documents)[7]
    hits = Searcher(snapshot, HashingEmbedder()).search("萍乡市工业发展", 10, mode="dense", where=Filter(docs=(doc,)))
    assert len(hits) == 10 and {h.passage.doc_id for h in hits} == {doc}
    assert all(h.dense > -1 for h in hits), "the allowed passages got real scores, not the floor"


def test_recall_is_measured_against_exact_search():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    class Wrong:  # an "index" returning the same ten ids for every query
        def search(self, queries, k):
            return None, np.tile(np.arange(k), (len(queries), 1))

    class Right:
        def search(self, queries, k):
            return None, np.argsort(-(queries @ vectors.T), axis=1)[:, :k]

    assert measure_recall(Right(), vectors) == (1.0, 256)
    assert measure_recall(Wrong(), vectors)[0] < 0.1


def test_the_build_widens_the_search_until_the_recall_reaches_its_target():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    class Graph:  # finds the exact neighbours only when searched at least 1,024 wide
        def __init__(self, needs: int) -> None:
            self.hnsw = SimpleNamespace(efSearch=0)
            self.needs = needs

        def search(self, queries, k):
            exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :k]
            return None, exact if self.hnsw.efSearch >= self.needs else np.tile(np.arange(k), (len(queries), 1))

    graph = Graph(1024)
    assert choose_ef_search(graph, vectors) == (1024, 1.0, 256) and graph.hnsw.efSearch == 1024
    ef, recall, _ = choose_ef_search(Graph(10**6), vectors)
    assert ef == EF_SEARCH_MAX and recall < TARGET_RECALL


def test_write_index_reads_the_spool_in_order(tmp_path):
    spool = VectorSpool(tmp_path / "v.spool", 4)
    batches = [np.eye(4, dtype=np.float32)[i : i + 1] for i in range(4)]
    for batch in batches:
        spool.add(batch)
    with pytest.raises(BuildError, match="cannot join"):
        spool.add(np.zeros((1, 3), np.float32))
    info = write_index(spool, tmp_path / "v.faiss", approximate_above=10)
    import faiss

    assert info.kind == EXACT
    assert np.array_equal(faiss.read_index(str(tmp_path / "v.faiss")).reconstruct_n(0, 4), np.eye(4, dtype=np.float32))


def test_a_build_on_ray_needs_the_cache(tmp_path, small_corpus):
    with pytest.raises(BuildError, match="needs the embedding cache"):
        build_index(small_corpus, Store(tmp_path / "store"), HashingEmbedder(), ray=RayOptions())


def test_without_ray_installed_the_build_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    embedder = HashingEmbedder()
    with EmbeddingCache(tmp_path / "cache", embedder.fingerprint, embedder.dimension) as cache:
        with pytest.raises(BuildError, match=r"pip install 'chuchu\[ray\]'"):
            fill_cache([["一段文字"]], cache, embedder, RayOptions())
        assert fill_cache([], cache, embedder, RayOptions()) == 0, "nothing to embed needs no cluster"


def test_a_rebuild_reuses_every_passage_across_windows(tmp_path, ten, monkeypatch):
    first, _ = _build(ten, tmp_path, monkeypatch, window=100)
    again, _ = _build(ten, tmp_path, monkeypatch, window=100)
    assert (again.embedded, again.reused) == (0, again.passages)
