"""Quality floors on the development questions, with the real model and index.

The floors sit a little under what was measured (`chuchu eval --questions tests/data/dev.jsonl
--compare`: hybrid R@1 0.963, R@5 1.000, MRR@10 0.981, abstention right on 30 of 30; dense R@1
0.741, R@5 0.926; with tests/data/dev_abstain.jsonl too: "no good answer" on 13 of the 15
unanswerable questions and on none of the 39 answerable ones), so a change that costs quality
fails here, while the noise of one reworded question does not.
"""

import pytest

from chuchu.index import evaluate
from tests.conftest import DEV_ABSTAIN, DEV_QUESTIONS

pytestmark = pytest.mark.integration


def _outcomes(live, mode, *files):
    retrieve = evaluate.retriever(live.searcher(), 10, mode)
    return evaluate.run([q for f in files or (DEV_QUESTIONS,) for q in evaluate.load_questions(f)], retrieve)


def _overall(live, mode):
    return evaluate.by_type(_outcomes(live, mode))["overall"]


def test_hybrid_quality_floor(live):
    overall = _overall(live, "hybrid")
    assert overall.recall[5] >= 0.96, overall
    assert overall.recall[1] >= 0.92, overall
    assert overall.mrr10 >= 0.95, overall


def test_unanswerable_questions_get_no_good_answer_and_answerable_ones_do_not(live):
    outcomes = _outcomes(live, "hybrid")
    wrong = [o.question.id for o in outcomes if o.abstained == o.question.answerable]
    # At most one question of the thirty judged wrongly, and every unanswerable one caught.
    assert len(wrong) <= 1, wrong
    assert all(o.abstained for o in outcomes if not o.question.answerable), wrong


def test_no_good_answer_where_the_documents_do_not_say_and_an_answer_where_they_do(live):
    outcomes = _outcomes(live, "hybrid", DEV_QUESTIONS, DEV_ABSTAIN)
    unanswerable = [o for o in outcomes if not o.question.answerable]
    missed = [o.question.id for o in unanswerable if not o.abstained]
    refused = [o.question.id for o in outcomes if o.question.answerable and o.abstained]
    assert len(unanswerable) == 15 and len(missed) <= 3, missed
    assert len(refused) <= 1, refused


def test_the_answering_sentence_holds_the_evidence(live):
    searcher = live.searcher()
    questions = [q for q in evaluate.load_questions(DEV_QUESTIONS) if q.answerable]
    right = 0
    for q in questions:
        hit = searcher.run(q.question, 1).hits[0]
        sentence = hit.document.text[hit.answer.start : hit.answer.end]
        right += evaluate.answers_partly(sentence, q.evidence)
    assert right / len(questions) >= 0.8, right


def test_dense_alone_still_meets_the_foundation_floor(live):
    assert _overall(live, "dense").recall[5] >= 0.85


def test_english_questions_are_answered_by_the_dense_leg_alone(live):
    searcher = live.searcher()
    question = "Which two township health centers in Yujiang have completed construction?"
    hybrid = searcher.search(question, 5, "hybrid")
    assert not any(h.lexical for h in hybrid), "no term in common: the lexical leg must not vote"
    assert [h.passage.number for h in hybrid] == [h.passage.number for h in searcher.search(question, 5, "dense")]
    assert any("刘垦卫生院" in h.passage.text for h in hybrid)
