"""The quality floor on the development questions, with the real model and index."""

import pytest

from index import evaluate
from tests.conftest import DEV_QUESTIONS

pytestmark = pytest.mark.integration


def test_recall_at_5_on_the_development_questions(live):
    searcher = live.searcher()
    outcomes = evaluate.run(
        evaluate.load_questions(DEV_QUESTIONS),
        lambda q: ([h.passage.text for h in searcher.search(q, 10)], False),
    )
    overall = evaluate.by_type(outcomes)["overall"]
    assert overall.recall[5] >= 0.85, overall
