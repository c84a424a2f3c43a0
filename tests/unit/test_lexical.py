import numpy as np
import pytest

from chuchu.corpus.errors import IndexCorrupt
from chuchu.corpus.terms import fold, terms
from chuchu.index.fusion import Fusion
from chuchu.index.lexical import LexicalIndex

PASSAGES = [
    "今年1至9月，全镇财政总收入完成22554万元，同比增长9.1%。",
    "1至8月41家规模工业企业完成工业总产值27.86亿元。",
    "新時代文明實踐所開展志願服務400余次。",
]


def test_folding_makes_full_width_traditional_and_case_alike():
    assert fold("ＡＢＣ１２３，萍鄉") == "abc123,萍乡"


def test_terms_are_characters_bigrams_and_numbers_with_units_as_written():
    got = terms("财政收入22554万元，增长9.1%")
    assert {"财", "财政", "政收", "22554", "22554万元", "9.1", "9.1%"} <= set(got)
    assert "的" not in terms("发展的目标"), "function characters carry nothing"
    assert {"27.86亿元", "99%"} <= set(terms("27.86亿元 99%"))


def test_bm25_ranks_the_passage_with_the_number_first():
    index = LexicalIndex.build(PASSAGES)
    scores = index.score("工业总产值是多少亿元").scores
    assert int(np.argmax(scores)) == 1
    assert index.score("财政收入22554万元").scores.argmax() == 0


def test_traditional_questions_find_simplified_text_and_back():
    index = LexicalIndex.build(PASSAGES)
    assert index.score("志愿服务").scores.argmax() == 2
    assert index.score("財政總收入").scores.argmax() == 0


def test_matched_terms_are_those_the_passage_has():
    result = LexicalIndex.build(PASSAGES).score("财政总收入 22554万元 电瓷")
    assert {"22554万元", "财政", "总收"} <= set(result.matched(0))
    assert "电瓷" not in result.matched(0) and result.matched(1) == ["总"] and result.matched(2) == []


def test_a_question_sharing_no_term_scores_every_passage_zero():
    result = LexicalIndex.build(PASSAGES).score("How many volunteers?")
    assert not result.scores.any() and result.terms == ()


def test_a_lexical_leg_that_matched_nothing_does_not_vote():
    dense = np.array([0.2, 0.9, 0.5])
    fused = Fusion().combine(dense, np.zeros(3), "财政总收入")
    assert list(np.argsort(-fused)) == [1, 2, 0]
    # Builds recorded before the standardised fusion keep their min-max arithmetic.
    both = Fusion(method="weighted-minmax", dense_weight=0.5).combine(dense, np.array([3.0, 0.0, 0.0]), "财政")
    assert both[0] == pytest.approx(0.5) and both[1] == pytest.approx(0.5)


def test_save_and_load_round_trip_and_mismatch(tmp_path):
    index = LexicalIndex.build(PASSAGES)
    index.save(tmp_path, "lexical")
    loaded = LexicalIndex.load(tmp_path, len(PASSAGES), "lexical")
    q = "工业总产值27.86亿元"
    assert np.allclose(loaded.score(q).scores, index.score(q).scores)
    with pytest.raises(IndexCorrupt, match="covers 3 passages"):
        LexicalIndex.load(tmp_path, 4, "lexical")
    (tmp_path / "lexical.json").write_text("{}")
    with pytest.raises(IndexCorrupt, match="cannot be read"):
        LexicalIndex.load(tmp_path, 3, "lexical")
