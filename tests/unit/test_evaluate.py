import json

import pytest

from chuchu.corpus.errors import BadInput
from chuchu.index.evaluate import Question, answers, by_type, load_questions, run
from chuchu.index.question.verdict import Verdict


def test_evidence_matches_after_nfkc_and_without_whitespace():
    assert answers("今年累计出动检查人员606人次，排查整改\n安全隐患39项", ["出动检查人员606人次,排查整改安全隐患39项"])
    assert not answers("出动检查人员605人次", ["出动检查人员606人次"])


def test_recall_mrr_and_abstention_per_type():
    qs = [
        Question("1", "a", "fact", ("甲",)),
        Question("2", "b", "fact", ("乙",)),
        Question("3", "c", "number", ("丙",)),
        Question("4", "d", "unanswerable", ()),
    ]
    ranked = {"a": ["甲", "x"], "b": ["x", "y", "乙"], "c": ["x"] * 10 + ["丙"], "d": ["x"]}
    answering = Verdict(True, 0.9, 2.2, {}, "")
    table = by_type(run(qs, lambda q: (ranked[q], answering)))
    fact = table["fact"]
    assert fact.recall == {1: 0.5, 5: 1.0, 10: 1.0}
    assert fact.mrr10 == pytest.approx((1 + 1 / 3) / 2)
    assert table["number"].recall[10] == 0.0, "rank 11 is outside the top 10"
    assert table["overall"].questions == 4 and table["overall"].unanswerable == 1
    assert table["unanswerable"].abstention_accuracy == 0.0
    assert table["overall"].abstention_accuracy == 0.75


def test_the_dev_questions_load(tmp_path):
    from tests.conftest import DEV_QUESTIONS

    questions = load_questions(DEV_QUESTIONS)
    assert len(questions) == 30 and sum(not q.answerable for q in questions) == 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "no id"}) + "\n")
    with pytest.raises(BadInput, match="line 1"):
        load_questions(bad)
