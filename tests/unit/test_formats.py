"""Reading real files of every supported format, written by the tests into tmp_path."""

import io
import random
import re
import zipfile
from datetime import datetime

import docx
import pypdf
import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from chuchu.corpus.errors import DocumentUnreadable
from chuchu.corpus.formats import SUFFIXES, Extracted, extract

# From corpus/001: a headline and three paragraphs about Shangli's fireworks.
TITLE = "逐“高”——千年花炮绽放时代荣光"
P1 = (
    "2022年11月20日，卡塔尔世界杯如期开赛。"
    "看到熟悉的焰火在开幕式上惊艳绽放，端坐在电视机前的洋洋礼花负责人，吼出了一声“漂亮”！"
)
P2 = "花炮是上栗县域经济发展的“压舱石”，4大类9000余种产品畅销全球。"
P3 = (
    "面对前有标兵、后有追兵的逼人态势，上栗县抢抓推进全国烟花爆竹转型升级集中区建设重大机遇，"
    "推动产业做安、企业做强、产品做深、市场做活、底蕴做深，让千年产业迈向高端，绽放时代荣光。"
)
TEXT = f"{TITLE}\n{P1}\n{P2}\n{P3}\n"
BIG5_TEXT = "花炮是上栗縣域經濟發展的「壓艙石」，4大類9000餘種產品暢銷全球。\n千年花炮綻放時代榮光。\n"


def read(path):
    return extract(path.read_bytes(), path.name)


def squeeze(text):
    return re.sub(r"\s+", "", text)


# ------------------------------------------------------------------------------------ plain text


@pytest.mark.parametrize(
    ("codec", "text", "encoding"),
    [
        ("utf-8", TEXT, "utf-8"),
        ("utf-8-sig", TEXT, "utf-8-sig"),
        ("utf-16", TEXT, "utf-16"),  # Python writes a byte-order mark
        ("gb18030", TEXT, "gb18030"),
        ("gbk", TEXT, "gb18030"),  # gb18030 reads GBK the same: one name for the family
        ("gb18030", "文明创建 立新功\n", "gb18030"),  # a free detector calls this short line Korean
        ("big5", BIG5_TEXT, "big5"),
    ],
)
def test_text_files_in_the_encodings_chinese_files_use(tmp_path, codec, text, encoding):
    path = tmp_path / "上栗.txt"
    path.write_bytes(text.encode(codec))
    assert read(path) == Extracted(text=text, encoding=encoding, format="text")


def test_markdown_is_text_and_suffixes_are_case_insensitive(tmp_path):
    path = tmp_path / "README.MD"
    path.write_bytes(f"# {TITLE}\n\n{P1}\n".encode("gb18030"))
    assert read(path).text == f"# {TITLE}\n\n{P1}\n"
    assert ".md" in SUFFIXES


@pytest.mark.parametrize(
    "raw",
    [
        random.Random(1).randbytes(4096),  # with NUL bytes
        bytes(b for b in random.Random(2).randbytes(4096) if b),  # without
        bytes(range(1, 32)) * 20,  # valid UTF-8, but control characters
        "Ça été très différent, naïve café.".encode("cp1252"),  # not Chinese
    ],
)
def test_binary_junk_and_other_encodings_are_refused_by_name(tmp_path, raw):
    path = tmp_path / "junk.txt"
    path.write_bytes(raw)
    with pytest.raises(DocumentUnreadable, match=r"^junk\.txt: .*; convert|^junk\.txt: looks binary"):
        read(path)


def test_empty_files_and_unknown_formats_are_refused(tmp_path):
    with pytest.raises(DocumentUnreadable, match=r"^empty\.txt: has no text"):
        extract(b" \n\r\n", "empty.txt")
    with pytest.raises(DocumentUnreadable, match=r"^old\.doc: is not a format chuchu reads"):
        extract(b"\xd0\xcf\x11\xe0", "old.doc")


# ------------------------------------------------------------------------------------------ HTML

ARTICLE_PAGE = f"""<!DOCTYPE html>
<html lang="zh-CN"><head>
<meta charset="utf-8">
<title>{TITLE}</title>
<meta property="article:published_time" content="2023-01-05T08:30:00+08:00">
<style>.menu {{ color: red }}</style>
<script>var 统计 = "不是正文";</script>
</head><body>
<header class="site"><a href="/">萍乡日报网</a></header>
<nav><ul><li><a href="/">首页</a></li><li><a href="/news">新闻</a></li></ul></nav>
<div class="login-box"><form><label>用户名</label><input name="u"><button>登录</button></form></div>
<div class="breadcrumb">当前位置：首页 &gt; 新闻</div>
<!-- 广告位 -->
<article>
  <header><h1>{TITLE}</h1><time datetime="2022-12-31">2022年12月31日</time></header>
  <p>{P1}</p>
  <div class="bdsharebuttonbox">分享到：微信 微博</div>
  <p>{P2[:12]}
     {P2[12:]}</p>
  <p>{P3[:40]}<br>{P3[40:]}</p>
  <div id="comments">网友评论：写得好！</div>
</article>
<aside>热门文章：别的新闻</aside>
<footer>版权所有 萍乡日报社</footer>
<script>document.write("也不是正文")</script>
</body></html>"""


def test_html_keeps_the_article_as_lines_and_drops_the_page_furniture(tmp_path):
    path = tmp_path / "花炮.html"
    path.write_text(ARTICLE_PAGE, encoding="utf-8")
    got = read(path)
    # The source's line break inside P2 falls between Chinese characters: no space, as browsers render it.
    assert got.text.splitlines() == [TITLE, "2022年12月31日", P1, P2, P3[:40], P3[40:]]
    for furniture in (
        "萍乡日报网",
        "首页",
        "登录",
        "当前位置",
        "广告",
        "分享",
        "评论",
        "热门",
        "版权",
        "统计",
        "不是正文",
    ):
        assert furniture not in got.text
    assert (got.title, got.date, got.format, got.encoding) == (TITLE, "2023-01-05", "html", "html/utf-8")


GBK_PAGE = f"""<html><head>
<meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<meta name="PubDate" content="2022/11/21 10:00">
</head><body><form id="form1" method="post" action="./page.aspx">
<div id="nav">首页 | 政务公开</div>
<div class="content">
<h1>{TITLE}</h1>
<p>{P1}</p><p>{P2}</p>
<table><tr><th>产品</th><th>数量</th></tr><tr><td>花炮</td><td>9000余种</td></tr></table>
</div>
<form class="search"><input name="q"><input type="submit" value="搜索"></form>
<div class="footer">主办：萍乡市人民政府</div>
</form></body></html>"""


def test_gbk_html_with_a_meta_charset_and_no_article(tmp_path):
    path = tmp_path / "政府.htm"
    path.write_bytes(GBK_PAGE.encode("gbk"))
    got = read(path)
    # The page-wide ASP.NET form holds the content and stays; the search form and the menu go.
    assert got.text.splitlines() == [TITLE, P1, P2, "产品\t数量", "花炮\t9000余种"]
    assert (got.title, got.date, got.encoding) == (TITLE, "2022-11-21", "html/gb18030")


def test_html_that_declares_gbk_but_is_utf8_is_read_as_utf8(tmp_path):
    path = tmp_path / "stale.html"
    path.write_bytes(GBK_PAGE.encode("utf-8"))
    assert read(path).encoding == "html/utf-8"
    assert P1 in read(path).text.splitlines()


def test_html_of_only_furniture_has_no_text(tmp_path):
    path = tmp_path / "menu.html"
    path.write_text("<html><body><nav>首页 新闻</nav><script>x()</script></body></html>", encoding="utf-8")
    with pytest.raises(DocumentUnreadable, match=r"^menu\.html: has no text"):
        read(path)


# ------------------------------------------------------------------------------------------ docx


def test_docx_paragraphs_and_tables_in_order_with_the_core_title(tmp_path):
    document = docx.Document()
    document.add_heading(TITLE, level=1)
    document.add_paragraph(P1)
    document.add_paragraph("")
    table = document.add_table(rows=3, cols=2)
    for row, cells in zip(table.rows, [("产品", "数量"), ("花炮", "9000余种"), ("合计", "")]):
        for cell, value in zip(row.cells, cells):
            cell.text = value
    table.cell(2, 0).merge(table.cell(2, 1))  # a cell spanning both columns is read once
    document.add_paragraph(P2)
    document.core_properties.title = "上栗花炮"
    document.core_properties.created = datetime(2022, 11, 21, 8, 30)
    path = tmp_path / "花炮.docx"
    document.save(path)
    got = read(path)
    assert got.text.splitlines() == [TITLE, P1, "产品\t数量", "花炮\t9000余种", "合计", P2]
    assert (got.title, got.date, got.format, got.encoding) == ("上栗花炮", "2022-11-21", "docx", "docx")


def test_docx_without_core_properties_declares_no_title(tmp_path):
    document = docx.Document()
    document.add_paragraph(P1)
    saved = io.BytesIO()
    document.save(saved)
    stripped = io.BytesIO()
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(stripped, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "_rels/.rels":  # the package's pointer to its core properties goes too
                data = re.sub(rb"<Relationship [^>]*core-properties[^>]*/>", b"", data)
            if item.filename != "docProps/core.xml":
                target.writestr(item, data)
    got = extract(stripped.getvalue(), "bare.docx")
    assert (got.text, got.title, got.date) == (P1, None, None)


@pytest.mark.parametrize("raw", [random.Random(3).randbytes(2048), b"PK\x03\x04" + b"\x00" * 64])
def test_a_corrupt_docx_is_refused_by_name(raw):
    with pytest.raises(DocumentUnreadable, match=r"^坏\.docx: is not a readable \.docx file"):
        extract(raw, "坏.docx")


# ------------------------------------------------------------------------------------------- PDF


def write_pdf(pages):
    """A PDF with a real text layer in reportlab's built-in Chinese CID font; None draws a rectangle."""
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    for lines in pages:
        if lines is None:
            pdf.rect(100, 100, 300, 300)
        for number, line in enumerate(lines or ()):
            pdf.setFont("STSong-Light", 12)
            pdf.drawString(50, 780 - 20 * number, line)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def lines_of(paragraph, width=38):
    return [paragraph[i : i + width] for i in range(0, len(paragraph), width)]


def test_pdf_text_layer_in_a_cid_font_comes_back(tmp_path):
    path = tmp_path / "花炮.pdf"
    path.write_bytes(write_pdf([[TITLE, *lines_of(P1)], None, lines_of(P2) + lines_of(P3)]))
    got = read(path)
    assert squeeze(got.text) == squeeze(TITLE + P1 + P2 + P3)
    assert (got.format, got.encoding, got.warnings) == ("pdf", "pdf", ("page 2 has no text layer.",))


def test_a_pdf_without_a_text_layer_is_refused(tmp_path):
    path = tmp_path / "扫描.pdf"
    path.write_bytes(write_pdf([None, None]))
    with pytest.raises(
        DocumentUnreadable, match=r"^扫描\.pdf: has no text layer \(a scanned image\?\); OCR it first\."
    ):
        read(path)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda raw: raw[: len(raw) * 2 // 3], "is truncated"),
        (lambda raw: raw[:200] + random.Random(4).randbytes(len(raw) - 400) + raw[-200:], "is a damaged PDF"),
        (lambda raw: random.Random(5).randbytes(len(raw)), "is not a PDF"),
    ],
)
def test_a_damaged_pdf_is_refused_by_name(damage, reason):
    with pytest.raises(DocumentUnreadable, match=rf"^坏\.pdf: {reason}"):
        extract(damage(write_pdf([[P1]])), "坏.pdf")


def encrypted(raw, user_password):
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(raw))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_encrypted_pdfs_are_read_only_without_a_user_password():
    raw = write_pdf([[P2]])
    assert extract(encrypted(raw, ""), "restricted.pdf").text == P2  # owner password only: readable
    with pytest.raises(DocumentUnreadable, match=r"^locked\.pdf: is protected by a password"):
        extract(encrypted(raw, "secret"), "locked.pdf")
