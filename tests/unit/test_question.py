"""The question side: reading what a question asks, the answering sentence, the judgement of answerability."""

import numpy as np
import pytest

from chuchu.corpus.splitting import Passage
from chuchu.index.question import calibration
from chuchu.index.question.kinds import gives
from chuchu.index.question.reading import read_question
from chuchu.index.question.sentence import best_sentence, passage_sentences
from chuchu.index.question.verdict import MODEL, THRESHOLD, Evidence, judge


@pytest.mark.parametrize(
    ("question", "kind", "units"),
    [
        ("上栗县2022年花炮出口额具体是多少亿元?", "money", ("亿元",)),
        ("上埠镇今年安全生产检查出动了多少人次?排查整改了多少项隐患?", "number", ("人次", "项")),
        ("萍乡全市有多少注册志愿者?", "number", ()),
        ("余江区已经连续多少年获评先进县?", "number", ("年",)),
        ("有几个村入选?", "number", ("个",)),
        ("萍乡要承办的全省旅游产业发展大会是哪一年的?", "date", ()),
        ("萍乡的粮食安全生产工作在哪两年连续获得了通报表扬?", "date", ()),
        ("出口额同比增长了多少?", "percent", ()),
        ("萍乡市的森林覆盖率是多少?", "percent", ()),
        ("How many registered volunteers does Pingxiang have?", "number", ()),
        ("上埠镇一季稻亩产多少公斤?", "number", ("公斤",)),  # a measure word jieba tags, not in the list
        ("单程票价是多少钱?", "money", ("元",)),
        ("上栗县洋洋礼花公司的负责人叫什么名字?", "person", ()),
        ("Who is the party secretary of Shangli County?", "person", ()),
        ("七五营地是哪家企业投资建设的?", "organisation", ()),
        ("上栗县哪个村子一开春就挤满了游客?", "place", ()),
        ("萍乡国家A级旅游景区的数量排第几?", "rank", ()),
        ("稻穗烟花为什么取名叫稻穗?", "reason", ()),
        ("余江区在农村养老方面被选为什么试点?", "", ()),  # 选为|什么: what, not why
        ("电瓷产业在当地能不能配套齐全?", "yesno", ()),
        ("上栗县有个办了十几年的文艺汇演活动,叫什么名字?", "", ()),  # 十几年 is a round figure, not a question
        ("萍乡把旅游布局概括成了哪几句话?", "", ()),  # which ones, not how many
        ("Which two township health centers were completed?", "", ()),
    ],
)
def test_a_question_is_read_for_the_kind_of_answer_it_wants(question, kind, units):
    asking = read_question(question)
    assert (asking.kind, asking.units) == (kind, units)


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("萍乡市的森林覆盖率是多少?", ("覆盖率",)),  # the attribute before the question word
        ("江西耐乐铜业有限公司是哪一年成立的?", ("成立",)),  # the event after it
        ("七五营地是哪家企业投资建设的?", ("投资",)),  # 企业 is the answer's class, not its focus
        ("上栗县洋洋礼花公司的负责人叫什么名字?", ("负责人",)),
        ("余江区一共培养了多少名“法律明白人”?", ("法律",)),  # past the measure word and the quote
        ("What is the forest coverage of Pingxiang?", ()),  # Latin script: nothing to find in Chinese text
    ],
)
def test_the_focus_is_what_the_question_asks_about(question, focus):
    assert read_question(question).focus == focus


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
        ("亩产多少公斤?", "完成一季稻种植12330亩。", False),
        ("亩产多少公斤?", "亩产达650公斤。", True),
        ("单程票价是多少钱?", "累计投入超200亿元。", True),  # money is given; the focus signal is what fails
        ("森林覆盖率是多少?", "实现了农村人居环境治理行政村全覆盖。", False),
        ("森林覆盖率是多少?", "森林覆盖率达67.8%。", True),
        ("洋洋礼花公司的负责人叫什么名字?", "端坐在电视机前的洋洋礼花负责人，吼出了一声“漂亮”！", False),
        ("洋洋礼花公司的负责人叫什么名字?", "卡塔尔世界杯开幕。", False),  # jieba tags 卡塔尔 nr: not a surname
        ("照片是谁拍的?", "芦溪工业园整装待发的大型风电叶片 易伟刚摄", True),
        ("由谁牵头?", "由区委副书记、常务副区长等担任指挥长。", True),  # a role answers who
        ("七五营地是哪家企业投资建设的?", "引入社会资本建设的“七五营地”成为网红打卡地。", False),
        ("由哪个机构注册成立的?", "余江区综治中心注册成立志愿服务总队。", True),
        ("上栗县哪个村子挤满了游客?", "新春伊始，上栗县湾里村便迎来游人如织。", True),
        ("上栗县哪个村子挤满了游客?", "新春伊始，上栗县便迎来游人如织。", False),  # the question's own place
        ("在江西排第几?", "萍乡武功山成功创建国家5A级旅游景区。", False),
        ("在江西排第几?", "增幅位列全省第一。", True),
        ("为什么取名叫稻穗?", "稻穗烟花面世后迅速爆红网络。", False),
        ("为什么取名叫稻穗?", "因形似稻穗而得名。", True),
        ("叫什么名字?", "任何文字。", True),  # nothing specific asked: nothing to check
        ("能不能配套齐全?", "任何文字。", True),  # yes or no: not checked
    ],
)
def test_a_text_gives_the_asked_kind_of_answer_or_not(question, text, expected):
    assert gives(read_question(question), text) is expected


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
    return Evidence(text, "上栗县报告", text, dense_rank, lexical_rank)


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
        "focus": None,
        "numbers": None,
        "coverage": None,
        "agreement": None,
    }


def test_a_passage_that_gives_a_figure_about_something_else_is_not_an_answer_and_says_why():
    asking = read_question("从萍乡坐高铁去长沙黄花机场,单程票价是多少钱?")
    text = "累计投入超200亿元，萍乡主城区至长沙黄花机场乘高铁时长缩短至18分钟以内。"
    verdict = judge(asking, [_evidence(text)], lambda t: 1.0, lexical_voted=True)
    assert verdict.signals["supplied"] == 1.0 and verdict.signals["focus"] == 0.0
    with_focus = judge(asking, [_evidence("萍乡至长沙黄花机场高铁单程票价为68元。")], lambda t: 1.0, lexical_voted=True)
    assert with_focus.answerable and with_focus.confidence > verdict.confidence


def test_nothing_found_is_not_answerable():
    verdict = judge(read_question("问题"), [], lambda t: 1.0, lexical_voted=False)
    assert not verdict.answerable and verdict.confidence == 0.0


def test_the_fit_recovers_a_known_logistic_and_reports_each_question_held_out():
    rng = np.random.default_rng(0)
    n = 400
    supplied = rng.integers(0, 2, n).astype(float)
    focus = rng.integers(0, 2, n).astype(float)
    logit = 0.5 + 4.0 * (supplied - 0.5) + 2.0 * (focus - 0.5)
    truth = rng.random(n) < 1 / (1 + np.exp(-logit))
    signals = [{"supplied": s, "focus": f} for s, f in zip(supplied, focus)]
    fitted = calibration.fit(signals, truth.tolist(), c=1e4)
    assert set(fitted.weights) == set(MODEL)
    assert fitted.weights["supplied"] == pytest.approx(4.0, abs=1.0) and fitted.weights["focus"] == pytest.approx(
        2.0, abs=0.8
    )
    assert len(fitted.held_out) == n and all(0.0 <= p <= 1.0 for p in fitted.held_out)


def test_the_report_counts_abstentions_and_bins_the_confidence():
    confidence = [0.1, 0.2, 0.8, 0.9, 0.3]
    answerable = [False, False, True, True, True]
    answered = [False, False, True, True, False]
    r = calibration.report(confidence, answerable, answered, bins=2)
    assert (r.abstained_unanswerable, r.unanswerable, r.abstained_answerable, r.answerable) == (2, 2, 1, 3)
    assert r.precision == pytest.approx(2 / 3) and r.recall == 1.0 and r.roc_auc == 1.0
    assert [(n, share) for _, share, n in r.reliability] == [(3, 0.0), (2, 1.0)]
