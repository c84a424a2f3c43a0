"""Reading the layout: boilerplate out, captions marked, broken paragraphs joined, headings as paths.

Each rule is tested on the five corpus documents (where the mess is real) and on a small file
made up here (where the rule is alone).
"""

from pathlib import Path

import pytest

from chuchu.corpus.documents import Document, read_corpus
from chuchu.corpus.formats import Extracted
from chuchu.corpus.layout import read_layout
from chuchu.corpus.metadata import describe, report_year
from chuchu.corpus.splitting import split_document

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


@pytest.fixture(scope="module")
def corpus():
    docs = {d.file[:3]: d for d in read_corpus(CORPUS).documents}
    return {key: (doc, split_document(doc)) for key, doc in docs.items()}


def _doc(text: str) -> Document:
    return Document(doc_id="t", file="t.txt", title="T", text=text, encoding="utf-8", sha256="0")


def _all_text(passages) -> str:
    return "\n".join(p.text for p in passages)


# Boilerplate -------------------------------------------------------------------------------


def test_forum_chrome_and_image_names_stay_out_of_the_passages(corpus):
    doc, passages = corpus["001"]
    text = _all_text(passages)
    chrome_seen = ("查看: 9485", "回复", "使用道具", "举报", "积分", "论坛元老", "Rank", "发表于")
    for chrome in (*chrome_seen, "立即注册", ".jpg", "返回列表"):
        assert chrome not in text, chrome
    assert "上埠镇政府工作报告" not in text, "the post's title is metadata, not a passage"
    layout = read_layout(doc.text)
    notes = {b.note for b in layout.of_kind("boilerplate")}
    assert {"view and reply counter", "user rank", "image file name", "login footer", "post time"} <= notes
    # The post's own title and time are kept as the document's metadata.
    assert layout.title.startswith("重磅!建设东路将东延芦溪!") and layout.date == "2021-09-04"


def test_a_made_up_forum_page_keeps_only_the_post():
    text = (
        "某某论坛»首页 本地新闻\n返回列表 发新帖\n查看: 120|回复: 3\n某镇修了一条新路\n[复制链接]\n"
        "3万\n积分\n金牌会员\n发表于 2023-5-6 10:00:00 | 显示全部楼层 |阅读模式\nabc_123.jpg\n"
        "某镇今年投入资金3000万元，新修了一条连接三个村的公路，全长十二公里，方便了群众出行。\n"
        "回复\n使用道具 举报\n您需要登录后才可以回帖 登录 | 立即注册\n"
    )
    [passage] = split_document(_doc(text))
    assert passage.text.startswith("某镇今年投入资金3000万元") and passage.text.endswith("出行。")
    layout = read_layout(text)
    assert layout.title == "某镇修了一条新路" and layout.date == "2023-05-06"


# Captions ----------------------------------------------------------------------------------


def test_photo_captions_are_searchable_passages_marked_as_captions(corpus):
    captions = {p.text for key in corpus for p in corpus[key][1] if p.kind == "caption"}
    assert "萍水湖湿地公园 李桂东摄" in captions  # a photographer credit
    assert "东讯精密生产车间一角" in captions  # set off by the blank lines where the image was
    assert "余江眼镜产业园已成为全国五大眼镜生产基地之一" in captions  # a fact stated only in a caption
    assert not any(c.startswith(("(图文", "(本版", "来源")) for c in captions), "credits are the source"
    text_passages = [p for key in corpus for p in corpus[key][1] if p.kind == "text"]
    assert not any("李桂东摄" in p.text for p in text_passages)


def test_a_made_up_caption_between_images_is_a_caption_and_a_heading_is_not():
    body = "全县工业总产值增长百分之十二，新引进项目二十个，其中投资超亿元的项目八个。"
    text = f"{body}\n\n工业强市 展新篇\n\n{body}\n\n\n\n新建成的产业园一角\n\n\n\n{body}\n"
    passages = split_document(_doc(text))
    assert [p.kind for p in passages] == ["text", "text", "caption", "text"]
    assert passages[2].text == "新建成的产业园一角" and passages[2].heading == "工业强市 展新篇"


# Layout-broken paragraphs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "joined"),
    [
        ("004", "采用“拉家常+说法理”"),  # broken mid-word
        ("003", "推动120余项新产品和一批专业燃放公司问世。"),  # mid-word, the second piece a short line
        ("003", "该县专门设立科创基金，与10余家科研院所"),  # with a photo caption in between
        ("002", "加快赣西交通枢纽城市建设"),  # after a line that introduces a list
        ("003", "在推进景区项目建设、培育旅游业态的同时，与赣湘边区域"),
    ],
)
def test_paragraphs_broken_by_the_layout_are_joined_into_one_passage(corpus, key, joined):
    doc, passages = corpus[key]
    [passage] = [p for p in passages if joined in p.text]
    assert len(passage.pieces) == 2
    # The citation covers both pieces; what lay between is not part of the passage's text.
    (a, b), (c, d) = passage.pieces
    assert doc.text[a:b] + doc.text[c:d] == passage.text and b < c
    assert (passage.start, passage.end) == (a, d)


def test_the_caption_between_two_halves_stays_its_own_passage(corpus):
    doc, passages = corpus["003"]
    [joined] = [p for p in passages if "科创基金，与10余家" in p.text]
    [caption] = [p for p in passages if p.text == "东讯精密生产车间一角"]
    assert joined.pieces[0][1] < caption.start < caption.end < joined.pieces[1][0]


def test_a_made_up_broken_paragraph_is_joined_but_a_finished_one_is_not():
    text = "该区设立调处平台，采用“拉家\n\n常+说法理”的方式化解纠纷，效果明显。\n"
    text += "下一段另起一行，这是新的一句话，说的是别的事情。\n"
    passages = split_document(_doc(text))
    assert passages[0].text == "该区设立调处平台，采用“拉家常+说法理”的方式化解纠纷，效果明显。"
    assert len(passages[0].pieces) == 2
    assert len(passages) == 2 and passages[1].text.startswith("下一段") and passages[1].pieces == ()


# Headings ----------------------------------------------------------------------------------


def test_section_headings_are_the_heading_path_not_passages(corpus):
    texts = {p.text for key in corpus for p in corpus[key][1]}
    headings = {p.heading for key in corpus for p in corpus[key][1]}
    expected = ("01 党建引领:红色引擎赋能发展", "(一)聚焦强攻工业求突破,着力建设电瓷产业集聚区")
    for heading in (*expected, "抓产业促发展 奋力跑出“余江速度”"):
        assert heading in headings
        assert not any(t.startswith(heading) for t in texts), heading
    _, passages = corpus["003"]
    [p] = [p for p in passages if "4大类9000余种产品" in p.text]
    assert p.heading == "逐“高”——千年花炮绽放时代荣光"


def test_a_numbered_subheading_goes_under_its_section():
    body = "这一部分的正文足够长，是一个完整的段落，讲的是具体的工作安排。"
    text = f"{body}\n一、总体要求\n{body}\n(一)抓产业\n{body}\n(二)抓民生\n{body}\n二、保障措施\n{body}\n"
    assert [p.heading for p in split_document(_doc(text))] == [
        "",
        "一、总体要求",
        "一、总体要求 › (一)抓产业",
        "一、总体要求 › (二)抓民生",
        "二、保障措施",
    ]


# Metadata ----------------------------------------------------------------------------------


def test_source_date_and_report_year_come_from_the_text_when_no_catalog_says(corpus):
    found = {}
    for key, (doc, _) in corpus.items():
        layout = read_layout(doc.text)
        meta = describe(doc.file, {}, Extracted(doc.text, "utf-8", "text"), layout)
        found[key] = (meta.source, meta.date, meta.year)
    assert found["000"] == ("萍乡日报", None, 2025)  # "来源:萍乡日报"; the one year it names
    assert found["001"] == (None, "2021-09-04", 2021)  # the post's time
    assert found["002"][2] == 2022  # "明年，萍乡将承办2023年…"
    assert found["003"] == ("上栗县委宣传部、上栗县融媒体中心", None, 2022)  # "(图文：…)"
    assert found["004"] == ("鹰潭市余江区融媒体中心", None, 2023)  # "(本版文图由…提供)"


def test_the_report_year_prefers_the_title_then_next_year_then_the_date():
    assert report_year("…", "上埠镇2025年高质量发展答卷", None) == 2025
    assert report_year("明年，将承办2023年全省大会。2021年，2021年", "无", None) == 2022
    assert report_year("2015年起，2019年，2019年。", "无", None) == 2019
    assert report_year("没有年份。", "无", "2020-01-02") == 2020
    assert report_year("没有年份。", "无", None) is None


def test_without_a_catalog_the_title_is_the_headline_or_else_the_file_name(corpus):
    titles = {}
    for key, (doc, _) in corpus.items():
        meta = describe(doc.file, {}, Extracted(doc.text, "utf-8", "text"), read_layout(doc.text))
        titles[key] = meta.title
    assert titles["003"] == "追“新”逐“高”春风漾——上栗县奋力推动高质量发展综述"  # its headline lines
    assert titles["001"].startswith("重磅!建设东路将东延芦溪!")  # the post's title
    # 000 and 004 open with their first paragraph: that is text, not a title.
    assert titles["000"] == "000_e0cba58f03a6750f" and titles["004"] == "004_35fb48b10cf09309"
