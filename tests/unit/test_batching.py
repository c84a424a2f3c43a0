"""Micro-batching of concurrent questions (index.batching), and the Searcher's shortcuts that must
answer exactly as before: partial sorting, ranks of the hits only, matched terms at once."""

import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

import chuchu.index.batching as batching
from chuchu.corpus.terms import terms
from chuchu.index.batching import QueryBatcher
from chuchu.index.build import build_index
from chuchu.index.filters import Filter
from chuchu.index.search import Searcher, _rank
from chuchu.index.snapshot import read_snapshot
from chuchu.index.store import Store
from tests.fakes import HashingEmbedder

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


class SlowEmbedder(HashingEmbedder):
    """The fake model taking its time per call, like the real one, and counting its calls. A call
    with the question "占用" holds the model until ``release`` is set."""

    def __init__(self, seconds: float = 0.02) -> None:
        self.seconds = seconds
        self.calls: list[int] = []
        self.release = threading.Event()

    def embed_queries(self, texts):
        self.calls.append(len(texts))
        if "占用" in texts:
            self.release.wait(10)
        time.sleep(self.seconds)  # the real model releases the GIL while it runs
        return super().embed_queries(texts)


def test_concurrent_questions_are_embedded_together_each_getting_its_own_vector():
    model = SlowEmbedder()
    batcher = QueryBatcher(model)
    questions = [f"甲镇第{i}个问题是什么" for i in range(24)]
    results: dict[int, np.ndarray] = {}

    def ask(i: int) -> None:
        results[i] = batcher.embed_queries([questions[i]])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(model.calls) < len(questions), model.calls  # batches, not one call a question
    assert sum(model.calls) == len(questions) and max(model.calls) <= batching.MAX_BATCH
    for i, question in enumerate(questions):
        assert np.array_equal(results[i], HashingEmbedder().embed_queries([question])), i
    assert (batcher.batches, batcher.questions) == (len(model.calls), len(questions))


class _Busy:
    """The model kept busy by another thread's question until the block ends."""

    def __init__(self, batcher: QueryBatcher) -> None:
        self.batcher = batcher
        self.thread = threading.Thread(target=batcher.embed_queries, args=(["占用"],))

    def __enter__(self) -> "_Busy":
        self.batcher.embedder.release.clear()
        self.thread.start()
        deadline = time.monotonic() + 5
        while not self.batcher._busy and time.monotonic() < deadline:
            time.sleep(0.001)
        assert self.batcher._busy
        return self

    def __exit__(self, *exc: object) -> None:
        self.batcher.embedder.release.set()
        self.thread.join(10)


def test_one_question_at_a_time_is_embedded_at_once_on_the_asking_thread():
    model = SlowEmbedder(0.0)
    batcher = QueryBatcher(model)
    for i in range(3):
        job = batcher.submit([f"问题{i}"])
        assert job.future.done() and job.result().shape == (1, model.dimension) and job.done_at > 0
    assert model.calls == [1, 1, 1]
    assert batcher._thread is None, "no thread: nothing ever waited"
    assert batcher.submit([]).result().shape == (0, model.dimension)


def test_a_failure_reaches_every_question_of_its_batch_and_the_batcher_goes_on():
    class Failing(SlowEmbedder):
        def embed_queries(self, texts):
            if any("坏" in t for t in texts):
                raise RuntimeError("the model failed")
            return super().embed_queries(texts)

    batcher = QueryBatcher(Failing(0.0))
    with pytest.raises(RuntimeError, match="the model failed"):
        batcher.embed_queries(["坏问题", "好问题"])
    with _Busy(batcher):
        queued = [batcher.submit(["坏问题"]), batcher.submit(["好问题"])]  # one batch, after the busy call
    for job in queued:
        with pytest.raises(RuntimeError, match="the model failed"):
            job.result()
    assert batcher.embed_queries(["好问题"]).shape == (1, 64)


def test_questions_that_wait_are_batched_and_a_request_larger_than_a_batch_runs_alone():
    model = SlowEmbedder(0.01)
    batcher = QueryBatcher(model, max_batch=4)
    with _Busy(batcher):
        big = batcher.submit([f"问{i}" for i in range(6)])
        small = [batcher.submit([f"小{i}"]) for i in range(5)]
    assert big.result().shape == (6, 64)
    assert [j.result().shape for j in small] == [(1, 64)] * 5
    for i, job in enumerate(small):
        assert np.array_equal(job.result(), HashingEmbedder().embed_queries([f"小{i}"]))
    assert model.calls == [1, 6, 4, 1], "the busy call, the large request alone, then the waiting ones four at a time"


def test_the_thread_ends_when_idle_and_a_later_wait_starts_another(monkeypatch):
    monkeypatch.setattr(batching, "IDLE_SECONDS", 0.05)
    batcher = QueryBatcher(SlowEmbedder(0.0))
    with _Busy(batcher):
        waiting = batcher.submit(["一"])
    waiting.result()
    first = batcher._thread
    assert first is not None
    first.join(2)
    assert not first.is_alive() and batcher._thread is None
    with _Busy(batcher):
        waiting = batcher.submit(["二"])
    waiting.result()
    assert batcher._thread is not None and batcher._thread is not first


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_process_embeds_with_a_thread_of_its_own():
    batcher = QueryBatcher(SlowEmbedder(0.0))
    batcher.embed_queries(["父进程"])
    pid = os.fork()
    if pid == 0:  # the child: the parent's thread did not come along
        try:
            ok = batcher.embed_queries(["子进程"]).shape == (1, 64)
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("store"))
    summary = build_index(CORPUS, store, HashingEmbedder())
    return Searcher(read_snapshot(summary.path), SlowEmbedder(0.005))


QUESTIONS = ["上埠镇今年种了多少亩一季稻", "萍乡市的森林覆盖率是多少", "Which villages were named?", "余江大嫂"]


def test_questions_asked_from_many_threads_get_the_answers_asked_alone(searcher):
    alone = {q: searcher.run(q, 5) for q in QUESTIONS}
    together: dict[int, object] = {}

    def ask(i: int) -> None:
        together[i] = searcher.run(QUESTIONS[i % len(QUESTIONS)], 5)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, result in together.items():
        expected = alone[QUESTIONS[i % len(QUESTIONS)]]
        assert [h.passage for h in result.hits] == [h.passage for h in expected.hits]
        assert [h.answer for h in result.hits] == [h.answer for h in expected.hits]
        assert result.verdict == expected.verdict
        assert set(result.timings_ms) == {"encode_ms", "dense_ms", "lexical_ms", "fusion_ms", "answer_ms"}


def _ranks(scores):  # every passage's rank, as a stable sort best first gives it
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return ranks


def test_ranks_of_the_hits_alone_are_those_of_the_whole_sort():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 20, 500).astype(np.float32)  # many ties
    expected = _ranks(scores)
    assert [_rank(scores, i) for i in range(len(scores))] == expected.tolist()


def _large_build(groups: np.ndarray) -> SimpleNamespace:
    """As much of a Searcher as ordering and collapsing use, for a build of len(groups) passages."""
    members: dict[int, list[int]] = {}
    for i, group in enumerate(groups.tolist()):
        members.setdefault(group, []).append(i)
    fake = SimpleNamespace(snapshot=SimpleNamespace(groups=groups), _members=members)
    fake._collapse = lambda order, k: Searcher._collapse(fake, order, k)
    return fake


def test_the_partial_sort_of_a_large_build_orders_as_the_whole_sort():
    rng = np.random.default_rng(1)
    n = 20_000
    ranking = np.round(rng.standard_normal(n), 2).astype(np.float32)  # ties at every score
    full = np.argsort(-ranking, kind="stable")
    fake = _large_build(np.arange(n))
    order = Searcher._order(fake, ranking, None, 5)
    assert len(order) < n and np.array_equal(order, full[: len(order)])
    allowed = rng.random(n) < 0.1
    order = Searcher._order(fake, ranking, allowed, 5)
    assert np.array_equal(order, full[allowed[full]][: len(order)])
    # The best 5,000 passages all copies of one: the partial sort holds too few groups, all are sorted.
    groups = np.arange(n)
    groups[full[:5000]] = full[0]
    order = Searcher._order(_large_build(groups), ranking, None, 5)
    assert np.array_equal(order, full)


def _sliced(index, question):
    """BM25 the plain way, for comparison: the question's columns sliced out of the matrix and
    summed; the terms each passage matched are the columns its row holds."""
    ids = sorted({index.vocabulary[t] for t in terms(question) if t in index.vocabulary})
    matrix = index.weights[:, ids] if ids else sp.csc_matrix((index.weights.shape[0], 0), dtype=np.float32)
    scores = np.asarray(matrix.sum(axis=1)).ravel() if ids else np.zeros(index.weights.shape[0], np.float32)

    def matched(i):
        return [index.terms[ids[j]] for j in matrix.getrow(i).indices] if ids else []

    return SimpleNamespace(scores=scores, terms=tuple(index.terms[i] for i in ids), matched=matched)


def test_lexical_scores_and_matched_terms_are_the_lexical_index_s_own(searcher):
    questions = QUESTIONS + [p.text for p in searcher.snapshot.passages[:40]]
    rows = list(range(0, len(searcher.snapshot.passages), 7))
    for question in questions:
        for index in (searcher.snapshot.lexical, searcher.snapshot.context):
            expected, got = _sliced(index, question), index.score_terms(terms(question))
            assert np.array_equal(got.scores, expected.scores) and got.scores.dtype == expected.scores.dtype
            assert got.terms == expected.terms
            assert got.matched_rows(rows) == [tuple(expected.matched(i)) for i in rows]


def test_lexical_scores_gathered_in_small_pieces_are_the_same(searcher, monkeypatch):
    # A large build gathers a question's column entries a few columns at a time (and does not keep
    # them for the matched terms): pieces of a handful of entries take every path.
    import chuchu.index.lexical as lexical

    questions = QUESTIONS + [p.text for p in searcher.snapshot.passages[:10]]
    rows = list(range(0, len(searcher.snapshot.passages), 5))
    index = searcher.snapshot.lexical
    whole = {q: index.score_terms(terms(q)) for q in questions}
    monkeypatch.setattr(lexical, "_GATHER_AT_MOST", 7)
    for question in questions:
        got = index.score_terms(terms(question))
        assert np.array_equal(got.scores, whole[question].scores) and got.terms == whole[question].terms
        assert got.matched_rows(rows) == whole[question].matched_rows(rows)


def test_filtered_and_exact_dense_scores_are_faiss_scores(searcher):
    from chuchu.index import vectors

    query = searcher.embedder.embed_queries(["上埠镇的一季稻"])
    n = len(searcher.snapshot.passages)
    expected = vectors.search(searcher.snapshot.vectors, searcher.snapshot.vector_info, query, n, None)
    expected[searcher._short] -= searcher.fusion.short_penalty
    assert np.allclose(searcher._dense(query, n, None), expected, atol=1e-6)
    docs = sorted(searcher.snapshot.documents)[:1]
    hits = searcher.run("上埠镇", 5, where=Filter(docs=frozenset(docs))).hits
    assert hits and all(h.passage.doc_id in docs for h in hits)
