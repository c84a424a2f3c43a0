"""Reading documents that look nothing like the newspaper pages the reader was first written on.

Every document here is made up for the test: a FAQ of answers one paragraph each (sign-offs,
links, names and telephone numbers at paragraph ends), a hard-wrapped file, a news article with
a headline, a Markdown file, questions and answers, a list. The rules they check are in
``corpus/layout.py`` (which lines are one paragraph, which are a title) and
``corpus/metadata.py`` (title and report year).
"""

import pytest

from chuchu.corpus.documents import Document, read_corpus
from chuchu.corpus.formats import Extracted
from chuchu.corpus.layout import read_layout
from chuchu.corpus.metadata import describe, report_year
from chuchu.corpus.splitting import split_document


def _doc(text: str, file: str = "t.txt") -> Document:
    return Document(doc_id="t", file=file, title="T", text=text, encoding="utf-8", sha256="0")


def _meta(text: str, file: str = "t.txt"):
    return describe(file, {}, Extracted(text, "utf-8", "text"), read_layout(text))


def _wrap(paragraph: str, width: int) -> list[str]:
    return [paragraph[i : i + width] for i in range(0, len(paragraph), width)]


# A FAQ: answers one paragraph each ---------------------------------------------------------

ANSWERS = [
    "这取决于您所在的州。大多数州要求车主至少购买责任险，具体的最低限额可以在州保险局的网站上查到。谢谢。王建国",
    "定期寿险在保障期满后就不再有效，也不会退还保费。想保障终身，可以考虑终身寿险。更多信息请访问 www.example.com",
    "房屋保险一般不包括洪水造成的损失，需要另外购买洪水保险。具体条款请咨询您的保险代理人。祝你好运",
    "年金是一种在一定期限内定期支付的保险产品，常用于养老规划，购买前应当比较不同公司的费用。希望这可以帮助",
    "残疾收入保险在您因病无法工作时提供收入替代，通常能覆盖税前收入的六成左右。详情请拨打 400-123-4567",
    # Stops on a word, and the next answer starts with a character no sentence here starts with:
    # on a newspaper page that would be a broken paragraph; in a FAQ it is chance.
    "住院费用超过免赔额以后，保险公司按比例报销，剩下的部分由您的公司支付余额",
    "信托可以成为人寿保险的持有人，这样保险金不计入遗产，受益人也能更快拿到钱。",
    "长期护理保险最好在五十岁之前购买，年龄越大保费越高。2014年起很多公司提高了费率。李明",
    "人寿保险的受益人可以随时变更，只需要提交变更申请表。1998年以前签发的保单手续略有不同。",
]
FAQ = "\n\n".join(ANSWERS) + "\n"


def test_a_faq_of_answers_is_read_one_answer_a_passage():
    passages = split_document(_doc(FAQ))
    assert [p.text for p in passages] == ANSWERS
    assert all(p.pieces == () for p in passages), "no answer is joined with the next"
    assert all(b.joined == 0 for b in read_layout(FAQ).of_kind("body"))


def test_a_faq_has_no_title_of_its_own_and_reports_on_no_year(tmp_path):
    (tmp_path / "常见问题").mkdir()
    (tmp_path / "常见问题" / "faq.txt").write_text(FAQ, encoding="utf-8")
    [doc] = read_corpus(tmp_path).documents
    assert doc.title == "faq", "the first answer is not the title: the file name is"
    assert doc.year is None, "2014 and 1998 are named in passing"


@pytest.mark.parametrize(
    "ending",
    [
        "详情请访问 www.example.com/faq",
        "请发邮件到 help@example.com",
        "请拨打 400-123-4567",
        "如有问题请联系我们。谢谢。王建国",
        "具体条款请咨询代理人。祝你好运",
        "希望这可以帮助",
        "可以在线查询：WEBSITELINK",
    ],
)
def test_a_paragraph_ending_in_a_link_a_number_a_sign_off_or_a_name_is_whole(ending):
    # Two paragraphs, the second starting with a character no sentence of the text starts with:
    # only the ending says the first paragraph is whole.
    first = f"保险金的领取方式可以在合同里约定，一次领取或者分期领取都可以。{ending}"
    second = "信托也可以成为保险金的受益人，由受托人按照约定管理和分配。"
    passages = split_document(_doc(f"{first}\n\n{second}\n"))
    assert [p.text for p in passages] == [first, second]


def test_a_quote_left_open_is_joined_even_where_whole_paragraphs_stop_open():
    text = (
        "具体的最低限额可以在州保险局的网站上查到，各州规定并不一样。祝你好运\n\n"
        "调处室采用“拉家\n\n"
        "常+说法理”的方式化解纠纷，效果明显，当事人都比较满意。\n\n"
        "定期寿险在保障期满后就不再有效，也不会退还保费。希望这可以帮助\n\n"
        "常见的问题还有很多，欢迎大家继续提问，我们会一一解答。\n"
    )
    blocks = [b.text(text) for b in read_layout(text).of_kind("body")]
    assert "调处室采用“拉家常+说法理”的方式化解纠纷，效果明显，当事人都比较满意。" in blocks
    assert len(blocks) == 4


def test_questions_and_answers_are_not_joined_and_no_question_is_the_title():
    text = (
        "问：什么是免赔额？\n"
        "答：免赔额是指保险合同中约定的、由被保险人自行承担的损失额度，超过的部分才由保险公司赔付。\n\n"
        "问：买了重疾险以后还需要再买医疗险吗，两者之间到底有什么区别\n"
        "答：需要。重疾险是确诊即赔的定额给付，医疗险是按实际花费报销，两者作用不同，最好搭配购买。\n\n"
        "问：退保能拿回全部保费吗\n"
        "答：一般不能。犹豫期内退保可以全额退还，过了犹豫期只能拿回保单的现金价值。\n"
    )
    layout = read_layout(text)
    assert layout.title is None and _meta(text, "问答.txt").title == "问答"
    bodies = [b.text(text) for b in layout.of_kind("body")]
    assert all(b.startswith(("问：", "答：")) for b in bodies) and len(bodies) == 6
    assert not layout.of_kind("heading"), "a question without a question mark is not a heading"


# Hard-wrapped text --------------------------------------------------------------------------

PARAGRAPHS = [
    # Wrapped at 16, its second line ends on a full stop: the paragraph still goes on.
    "保险合同成立以后，投保人可以随时解除合同，保险人则一般不得解除。除非投保人未履行如实告知义务，"
    "或者被保险人故意制造保险事故，保险人才可以解除合同。",
    "保险费可以按年、按季或者按月交纳，投保人应当按照约定的时间交纳，逾期未交的，合同效力可能中止。",
    "合同效力中止以后，投保人可以在两年内申请恢复效力，经双方协商并补交保险费以后，合同效力恢复。",
]


def test_a_hard_wrapped_file_is_joined_back_into_its_paragraphs():
    wrapped = [_wrap(p, 16) for p in PARAGRAPHS]
    assert wrapped[0][1].endswith("。"), "the test needs a full line that ends a sentence"
    text = "\n\n".join("\n".join(lines) for lines in wrapped) + "\n"
    passages = split_document(_doc(text))
    assert [p.text for p in passages] == PARAGRAPHS
    assert [len(p.spans) for p in passages] == [len(lines) for lines in wrapped]
    assert read_layout(text).title is None, "a wrapped first line is not a headline"
    assert not read_layout(text).of_kind("heading"), "short wrapped lines without punctuation are text"


# Its last wrapped line runs to the full width: only the next line's indentation ends it.
GRACE = "宽限期内发生保险事故的，保险人仍应当承担保险责任，但是可以扣减欠交的保险费。"


@pytest.mark.parametrize("between_lines", ["\n", "\n\n"], ids=["one block", "a blank line after each"])
def test_in_wrapped_text_indentation_starts_a_paragraph(between_lines):
    paragraphs = [PARAGRAPHS[0], GRACE, *PARAGRAPHS[1:]]
    wrapped = [_wrap("\u3000\u3000" + p, 20) for p in paragraphs]
    assert len(wrapped[1][-1]) == 20, "the test needs a paragraph whose last line is full"
    text = between_lines.join(line for lines in wrapped for line in lines) + "\n"
    assert [p.text for p in split_document(_doc(text))] == paragraphs


# A news article ------------------------------------------------------------------------------

NEWS = (
    "本市新建三座公园国庆前开放\n\n"
    "记者从市园林局获悉，今年本市新建的三座城市公园已基本完工，将于国庆节前向市民开放。三座公园总面积约四十公顷。\n\n"
    "滨江公园位于老城区东侧，原为一片废弃厂房。据介绍，该厂房建于1958年，1998年停产后一直闲置，改造后作为展览空间。\n\n"
    "市园林局负责人表示，下一步将继续推进口袋公园建设，让市民出门五分钟就能走进绿地。\n"
)


def test_a_news_headline_is_the_title_and_not_a_passage():
    meta = _meta(NEWS, "news.txt")
    assert meta.title == "本市新建三座公园国庆前开放"
    passages = split_document(_doc(NEWS))
    assert len(passages) == 3 and not any("国庆前开放" == p.text for p in passages)
    assert meta.year is None, "1958 and 1998 are history told in passing, not the year reported on"


def test_a_long_headline_set_off_from_the_text_is_the_title():
    headline = "国务院办公厅关于进一步优化营商环境降低市场主体制度性交易成本的意见"
    body = "各省、自治区、直辖市人民政府，国务院各部委、各直属机构：\n\n优化营商环境是激发市场主体活力的重要举措。\n"
    assert _meta(f"{headline}\n\n{body}").title == headline
    assert all(headline not in p.text for p in split_document(_doc(f"{headline}\n\n{body}")))
    # A first paragraph is no headline: it has a comma or a full stop.
    assert _meta(f"{ANSWERS[0]}\n\n{body}", "答.txt").title == "答"


def test_page_broken_paragraphs_are_joined_but_one_that_ends_a_thought_is_not():
    text = (
        "全县工业总产值今年增长百分之十二，规模以上企业达到一百二十家，税收收入稳步增长。\n\n"
        "在招商引资方面，新引进项目二十个，推动一批专\n\n"
        "业公司落户园区，带动就业三千人，园区建设步伐明显加快。\n\n"
        "在民生方面，新建学校两所、医院一所，改造老旧小区十个，群众满意度不断提升\n\n"
        "全县还新修农村公路八十公里，实现了村村通客车的目标，方便了群众出行。\n\n"
        "在文旅方面，该县在推进景区项目建设、培育旅游业态的同\n\n"
        "时，与周边景区联合开展推介活动，游客人数明显回升。\n\n"
        "在生态方面，完成植树造林一万亩，空气质量优良天数比例达到百分之九十五，\n\n"
        "\n\n\n城区新建的湿地公园\n\n\n\n"
        "森林覆盖率保持在百分之六十以上，生态环境持续改善。\n"
    )
    blocks = [b.text(text) for b in read_layout(text).of_kind("body")]
    assert blocks == [
        "全县工业总产值今年增长百分之十二，规模以上企业达到一百二十家，税收收入稳步增长。",
        # Stopped mid-word, and no sentence of this text starts with 业 (nor with 时, below). Where
        # more open stops look like breaks than like whole paragraphs, they are breaks.
        "在招商引资方面，新引进项目二十个，推动一批专业公司落户园区，带动就业三千人，园区建设步伐明显加快。",
        # Stopped without a full stop, but the next line starts as this text's sentences start.
        "在民生方面，新建学校两所、医院一所，改造老旧小区十个，群众满意度不断提升",
        "全县还新修农村公路八十公里，实现了村村通客车的目标，方便了群众出行。",
        "在文旅方面，该县在推进景区项目建设、培育旅游业态的同时，与周边景区联合开展推介活动，游客人数明显回升。",
        # Stopped on a comma, with a photo caption before the rest.
        "在生态方面，完成植树造林一万亩，空气质量优良天数比例达到百分之九十五，森林覆盖率保持在百分之六十以上，生态环境持续改善。",
    ]
    assert [b.text(text) for b in read_layout(text).of_kind("caption")] == ["城区新建的湿地公园"]


# Markdown ------------------------------------------------------------------------------------


def test_a_markdown_file_has_its_title_headings_and_lists():
    text = (
        "# 家庭保险配置指南\n\n"
        "本指南介绍家庭在配置保险时需要考虑的几个方面，帮助读者根据自己的情况做出选择。\n\n"
        "## 先保大人，再保孩子\n\n"
        "家庭经济支柱的风险对家庭影响最大，所以应当优先为大人配置保险，再考虑孩子的保障。\n\n"
        "### 大人先买什么\n\n"
        "一般先买定期寿险和重疾险，再根据预算补充医疗险和意外险，保额按照家庭负债来定。\n\n"
        "## 常见险种\n\n"
        "- 重疾险：确诊合同约定的疾病即可获得赔付\n"
        "- 医疗险：报销住院和门诊的医疗费用\n"
        "- 意外险：保障意外身故、伤残和意外医疗\n"
    )
    assert _meta(text, "guide.md").title == "家庭保险配置指南"
    passages = split_document(_doc(text, "guide.md"))
    assert [p.heading for p in passages] == ["", "先保大人，再保孩子", "先保大人，再保孩子 › 大人先买什么", "常见险种"]
    assert passages[1].text.startswith("家庭经济支柱") and passages[1].pieces == ()
    assert passages[3].text.startswith("- 重疾险") and "- 意外险" in passages[3].text


# A list ----------------------------------------------------------------------------------------


def test_a_list_of_short_items_is_text_not_a_title(tmp_path):
    (tmp_path / "清单.txt").write_text("出行前要准备的物品\n\n身份证和护照\n\n充电器和转换插头\n\n常用药品\n", "utf-8")
    [doc] = read_corpus(tmp_path).documents
    assert doc.title == "清单"
    text = "".join(p.text for p in split_document(doc))
    assert all(item in text for item in ("身份证和护照", "充电器和转换插头", "常用药品"))


# Report years ----------------------------------------------------------------------------------


def test_years_named_in_passing_are_not_the_year_reported_on():
    filler = "这一段只是说明情况，并没有提到任何具体的年份，篇幅比较长。" * 40  # about 1,200 characters
    # Named once or twice in a long text, or as often as another year: in passing.
    assert report_year(f"该厂建于1958年。{filler}1998年停产。{filler}", "无", None) is None
    assert report_year(f"2014年起费率上调。{filler}2014年以后也一样。{filler * 3}", "无", None) is None
    assert report_year("2021年如此，2021年也如此；2022年如此，2022年也如此。", "无", None) is None
    # "明年起执行1998年的规定": 1998 is not next year when the text names later years.
    assert report_year("明年起执行1998年的规定。2015年修订。", "无", None) is None


def test_a_year_the_text_keeps_coming_back_to_or_leads_with_is_reported_on():
    filler = "这一段只是说明情况，并没有提到任何具体的年份。"
    assert report_year(f"2022年，全县经济增长。{filler}2022年，新建学校两所。{filler}", "无", None) == 2022
    lead = "2025年，这座工业重镇交出了一份发展答卷。"
    text = lead + filler * 20
    assert report_year(text, "无", None, lead=lead) == 2025
    assert report_year(text, "无", None) is None, "the same mention outside the lead is in passing"
