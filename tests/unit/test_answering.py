"""Reading what a question asks, the answering sentence, and the judgement of answerability."""

import math

import numpy as np
import pytest

from chuchu.corpus.asking import read_question, supplies
from chuchu.corpus.splitting import Passage
from chuchu.index.answering import best_sentence, passage_sentences
from chuchu.index.confidence import THRESHOLD, Evidence, calibrate, judge


@pytest.mark.parametrize(
    ("question", "wants", "units"),
    [
        ("上栗县2022年花炮出口额具体是多少亿元?", "number", ("亿元",)),
        ("上埠镇今年安全生产检查出动了多少人次?排查整改了多少项隐患?", "number", ("人次", "项")),
        ("萍乡全市有多少注册志愿者?", "number", ()),
        ("余江区已经连续多少年获评先进县?", "number", ("年",)),
        ("有几个村入选?", "number", ("个",)),
        ("萍乡要承办的全省旅游产业发展大会是哪一年的?", "year", ()),
        ("出口额同比增长了多少?", "percent", ()),
        ("How many registered volunteers does Pingxiang have?", "number", ()),
        ("上栗县有个办了十几年的文艺汇演活动,叫什么名字?", "", ()),  # 十几年 is a round figure, not a question
        ("萍乡把旅游布局概括成了哪几句话?", "", ()),  # which ones, not how many
        ("Which two township health centers were completed?", "", ()),
    ],
)
def test_a_question_is_read_for_the_kind_of_answer_it_wants(question, wants, units):
    asking = read_question(question)
    assert (asking.wants, asking.units) == (wants, units)


def test_question_words_are_not_content_and_named_figures_are_kept():
    asking = read_question("萍乡市2022年末常住人口是多少?")
    assert "多少" not in asking.content and "常住" in asking.content and "人口" in asking.content
    assert asking.numbers == ("2022",)


@pytest.mark.parametrize(
    ("question", "text", "expected"),
    [
        ("出口额是多少亿元?", "出口额同比增长72.6%。", False),
        ("出口额是多少亿元?", "出口额达27.86亿元。", True),
        ("出口额是多少亿元?", "出口额达2786万元。", True),  # the magnitude may differ from the question's
        ("有多少名队员?", "共有队员3000余人。", True),  # 名 and 人 count the same thing
        ("有多少名队员?", "设立志愿服务分队。", False),
        ("常住人口是多少?", "全面贯彻党的二十大精神，推进五区建设。", False),  # numerals in names are not figures
        ("常住人口是多少?", "常住人口180.5万人。", True),
        ("优质稻种植面积有多少万亩?", "优质稻种植面积已达56万亩以上。", True),
        ("大会是哪一年的?", "萍乡将承办2023年全省旅游产业发展大会。", True),
        ("大会是哪一年的?", "萍乡将承办全省旅游产业发展大会。", False),
        ("叫什么名字?", "任何文字。", True),  # nothing specific asked: nothing to check
    ],
)
def test_a_text_supplies_the_asked_kind_of_answer_or_not(question, text, expected):
    assert supplies(read_question(question), text) is expected


TEXT = "上埠镇报告\n今年，该镇扛稳粮食安全责任。完成一季稻种植12330亩、晚稻3802亩。\n新建桥梁三座。"


def _passage(text: str) -> Passage:
    start = text.index("今年")
    return Passage("d", "d.txt", 1, 2, start, len(text), text[start:])


def test_passage_sentences_are_exact_spans_that_never_cross_a_line():
    passage = _passage(TEXT)
    spans = passage_sentences(TEXT, passage)
    assert [TEXT[s.start : s.end] for s in spans] == [
        "今年，该镇扛稳粮食安全责任。",
        "完成一季稻种植12330亩、晚稻3802亩。",
        "新建桥梁三座。",
    ]


def test_the_answering_sentence_is_the_one_that_gives_what_is_asked():
    passage = _passage(TEXT)
    span = best_sentence(read_question("上埠镇今年种了多少亩一季稻?"), TEXT, passage, lambda t: 1.0)
    assert span is not None and TEXT[span.start : span.end] == "完成一季稻种植12330亩、晚稻3802亩。"
    assert best_sentence(read_question("How much rice was planted?"), TEXT, passage, lambda t: 1.0) is None


def _evidence(text, dense_rank=1, lexical_rank=1):
    return Evidence(text, "上栗县报告", dense_rank, lexical_rank)


def test_a_passage_without_the_asked_figure_is_judged_not_to_answer_and_says_why():
    asking = read_question("上栗县花炮出口额是多少亿元?")
    verdict = judge(asking, [_evidence("上栗县花炮出口额同比增长72.6%。")], lambda t: 1.0, lexical_voted=True)
    assert not verdict.answerable and verdict.confidence < THRESHOLD
    assert verdict.signals["supplied"] == 0.0 and "亿元" in verdict.reason
    answered = judge(asking, [_evidence("上栗县花炮出口额达27.86亿元。")], lambda t: 1.0, lexical_voted=True)
    assert answered.answerable and answered.confidence > 0.9 and answered.reason == ""


def test_a_question_with_no_checkable_signal_leans_answerable():
    # An English question shares no term with Chinese text, so the index knows none of its terms
    # (idf 0) and coverage says nothing: only the prior speaks.
    asking = read_question("Which two township health centers were completed?")
    unknown = lambda t: 0.0 if t.isascii() else 1.0  # noqa: E731
    verdict = judge(asking, [_evidence("刘垦卫生院、中童中心卫生院建设完工。", 1, 0)], unknown, lexical_voted=False)
    assert verdict.answerable and verdict.signals == {
        "supplied": None,
        "numbers": None,
        "coverage": None,
        "agreement": None,
    }


def test_nothing_found_is_not_answerable():
    verdict = judge(read_question("问题"), [], lambda t: 1.0, lexical_voted=False)
    assert not verdict.answerable and verdict.confidence == 0.0


def test_calibration_recovers_a_known_logistic_and_stays_finite_when_separable():
    rng = np.random.default_rng(0)
    raw = rng.normal(0, 2, 4000)
    truth = rng.random(4000) < 1 / (1 + np.exp(-(0.8 * raw - 0.5)))
    slope, intercept = calibrate(raw.tolist(), truth.tolist(), l2=0.0)
    assert slope == pytest.approx(0.8, abs=0.08) and intercept == pytest.approx(-0.5, abs=0.12)
    slope, intercept = calibrate([-3.0, -2.0, 2.0, 3.0], [False, False, True, True])
    assert math.isfinite(slope) and slope > 0
