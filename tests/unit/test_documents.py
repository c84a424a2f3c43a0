import json

import pytest

from chuchu.corpus.documents import read_corpus
from chuchu.corpus.encoding import decode
from chuchu.corpus.errors import CorpusError, DocumentUnreadable

TEXT = "萍乡市坚持工业强市不动摇，积极抢抓国家产业转型升级示范区建设机遇。"


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("gb18030"), "gb18030"),
        (TEXT.encode("gbk"), "gb18030"),
        (TEXT.encode("utf-16"), "utf-16"),
    ],
)
def test_decodes_the_encodings_chinese_files_use(raw, encoding):
    assert decode(raw, "x.txt") == (TEXT, encoding)


def test_binary_and_undecodable_files_are_refused_by_name():
    with pytest.raises(DocumentUnreadable, match="x.bin"):
        decode(b"\x00\x01\x02PNG", "x.bin")
    with pytest.raises(DocumentUnreadable, match="latin.txt"):
        decode("Ça été très différent, naïve café.".encode("cp1252"), "latin.txt")


def test_unreadable_files_are_reported_and_the_rest_is_read(tmp_path):
    (tmp_path / "good.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(b"\x00\xff\x00\xfe")
    corpus = read_corpus(tmp_path)
    assert [d.file for d in corpus.documents] == ["good.txt"]
    assert len(corpus.failures) == 1 and "bad.txt" in corpus.failures[0].message


def test_catalog_titles_and_fallback_to_the_first_line(tmp_path):
    (tmp_path / "a.txt").write_text("第一行标题\n" + TEXT, encoding="utf-8")
    (tmp_path / "b.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "catalog.json").write_text(json.dumps({"b.txt": {"title": "乙", "date": "2022-01-02"}}), "utf-8")
    docs = {d.file: d for d in read_corpus(tmp_path).documents}
    assert docs["a.txt"].title == "第一行标题"
    assert (docs["b.txt"].title, docs["b.txt"].date) == ("乙", "2022-01-02")
    assert docs["a.txt"].doc_id == "a"


def test_a_broken_catalog_or_missing_directory_is_a_clear_error(tmp_path):
    (tmp_path / "catalog.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CorpusError, match="catalog"):
        read_corpus(tmp_path)
    with pytest.raises(CorpusError, match="does not exist"):
        read_corpus(tmp_path / "nope")


def test_the_corpus_hash_changes_with_any_document(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    before = read_corpus(tmp_path).hash
    (tmp_path / "a.txt").write_text(TEXT + "又", encoding="utf-8")
    assert read_corpus(tmp_path).hash != before


def test_a_mixed_corpus_of_every_format_is_read_and_a_broken_file_is_counted(tmp_path):
    import docx

    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "b.md").write_bytes(("# 标题\n" + TEXT).encode("gb18030"))
    (tmp_path / "c.html").write_text(
        f"<html><head><title>网页标题</title><meta property='article:published_time' content='2023-04-12'></head>"
        f"<body><nav>首页 | 新闻</nav><article><p>{TEXT}</p></article><footer>版权所有</footer></body></html>",
        encoding="utf-8",
    )
    document = docx.Document()
    document.add_paragraph(TEXT)
    document.save(tmp_path / "d.docx")
    (tmp_path / "e.pdf").write_bytes(b"%PDF-1.4 broken")
    corpus = read_corpus(tmp_path)
    docs = {d.file: d for d in corpus.documents}
    assert sorted(docs) == ["a.txt", "b.md", "c.html", "d.docx"]
    assert all(TEXT in d.text for d in docs.values())
    assert docs["b.md"].encoding == "gb18030" and docs["d.docx"].encoding == "docx"
    assert (docs["c.html"].title, docs["c.html"].date, docs["c.html"].year) == ("网页标题", "2023-04-12", 2023)
    assert "首页" not in docs["c.html"].text and "版权所有" not in docs["c.html"].text
    [failure] = corpus.failures
    assert failure.message.startswith("e.pdf")
    with pytest.raises(CorpusError, match="e.pdf.*--strict"):
        read_corpus(tmp_path, strict=True)
