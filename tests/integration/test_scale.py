"""The approximate vector index with the real model: the build's recall report, and the answers.

The real corpus is far below the default threshold, so these builds lower it to 0 passages.
A 100× synthetic corpus with the real model takes about 15 minutes to embed; its figures come
from `python benchmarks/build_memory.py` (the closing note gives them), not from this suite.
"""

import pytest

from chuchu.index import evaluate
from chuchu.index.build import build_index
from chuchu.index.search import Searcher
from chuchu.index.snapshot import read_snapshot
from chuchu.index.store import Store
from chuchu.index.vectors import APPROXIMATE
from tests.conftest import CORPUS, DEV_QUESTIONS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def approximate(tmp_path_factory, embedder):
    store = Store(tmp_path_factory.mktemp("approximate"))
    summary = build_index(CORPUS, store, embedder, approximate_above=0)
    return summary, read_snapshot(summary.path)


def test_the_build_reports_the_recall_of_its_approximate_index(approximate):
    summary, snapshot = approximate
    print(f"\nHNSW over the real corpus: recall@10 {summary.vectors.recall_at_10} on {summary.vectors.sample} queries")
    assert summary.vectors.kind == APPROXIMATE == snapshot.vector_info.kind
    assert summary.vectors.sample == 136 and summary.vectors.recall_at_10 >= 0.95


@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_the_approximate_index_answers_the_development_questions_as_the_exact_one(approximate, live, embedder, mode):
    questions = evaluate.load_questions(DEV_QUESTIONS)
    exact = evaluate.score(evaluate.run(questions, evaluate.retriever(live.searcher(), 10, mode)))
    hnsw = evaluate.score(evaluate.run(questions, evaluate.retriever(Searcher(approximate[1], embedder), 10, mode)))
    assert hnsw.recall == exact.recall and hnsw.mrr10 == pytest.approx(exact.mrr10)
    assert hnsw.abstention_accuracy == exact.abstention_accuracy
