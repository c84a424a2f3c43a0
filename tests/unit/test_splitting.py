from pathlib import Path

import pytest

from chuchu.corpus.documents import Document, read_corpus
from chuchu.corpus.layout import lines
from chuchu.corpus.splitting import SplitOptions, sentences, split_document

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def _doc(text: str) -> Document:
    return Document(doc_id="t", file="t.txt", title="T", text=text, encoding="utf-8", sha256="0")


@pytest.fixture(scope="module")
def documents():
    return read_corpus(CORPUS).documents


def test_the_corpus_has_the_five_documents(documents):
    assert [d.file for d in documents] == sorted(p.name for p in CORPUS.glob("*.txt"))
    assert len(documents) == 5
    assert all(d.encoding == "utf-8" for d in documents)


def test_every_passage_of_every_corpus_file_is_its_exact_span(documents):
    total = 0
    for doc in documents:
        source = (CORPUS / doc.file).read_bytes().decode("utf-8")
        passages = split_document(doc)
        assert passages, doc.file
        for p in passages:
            # The passage is its pieces of the file, joined; one piece means the exact span.
            assert "".join(source[s:e] for s, e in p.spans) == p.text
            assert (p.spans[0][0], p.spans[-1][1]) == (p.start, p.end)
            if not p.pieces:
                assert source[p.start : p.end] == p.text
            for s, e in p.spans:
                assert source[s:e] == source[s:e].strip(" \t\r\n\u3000\xa0"), "pieces are trimmed"
            assert p.file == doc.file and p.doc_id == doc.doc_id
        total += len(passages)
        # Pieces of all passages are disjoint: the document view lays them out in file order.
        spans = sorted(span for p in passages for span in p.spans)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
        assert [p.number for p in passages] == list(range(1, len(passages) + 1))
        assert [p.start for p in passages] == sorted(p.start for p in passages)
    assert total > 50


def test_no_passage_is_longer_than_the_limit_and_only_captions_and_cut_off_lines_are_short(documents):
    options = SplitOptions()
    short = []
    for doc in documents:
        for p in split_document(doc, options):
            assert len(p.text) <= options.max_chars + options.max_chars // 3 + 10
            if len(p.text) < options.min_chars and p.kind != "caption":
                short.append(p.text)
    # The one short text passage: a line the page cut off ("如今,余江区做好“宅改促融合”" and
    # then a photo and the next section), kept because it is text of the document.
    assert short == ["如今,余江区做好“宅改促融合”"]


def test_section_numbers_and_headings_are_the_heading_not_a_passage():
    text = "01\n党建引领:红色引擎赋能发展\n上埠镇始终以学习教育凝心铸魂,以组织建设强筋健骨,以“党建红”引领“产业兴”。\n"
    [passage] = split_document(_doc(text))
    assert passage.heading == "01 党建引领:红色引擎赋能发展"
    assert passage.text.startswith("上埠镇") and passage.paragraph == 3


def test_long_paragraphs_are_cut_at_sentence_ends_with_closing_quotes_kept():
    sentence = "这是一个足够长的句子，用来测试切分“规则”是否正确。"
    quoted = "他说：“这一句以引号结束。”"
    text = sentence * 6 + quoted + sentence * 6
    passages = split_document(_doc(text), SplitOptions(max_chars=120, min_chars=10))
    assert len(passages) > 1
    for p in passages:
        assert len(p.text) <= 120
        assert p.text.endswith(("。", "”")), p.text
        assert not p.text.startswith("”")
    assert "".join(p.text for p in passages) == text


def test_a_sentence_longer_than_the_limit_is_cut_after_commas():
    text = "，".join(["甲乙丙丁戊己庚辛壬癸"] * 30) + "。"
    passages = split_document(_doc(text), SplitOptions(max_chars=100, min_chars=10))
    assert all(len(p.text) <= 100 for p in passages)
    assert "".join(p.text for p in passages) == text


def test_sentences_split_on_chinese_and_ascii_marks():
    text = "第一句。第二句！第三句?第四句;最后没有标点"
    spans = sentences(text, 0, len(text))
    assert [text[s:e] for s, e in spans] == ["第一句。", "第二句！", "第三句?", "第四句;", "最后没有标点"]


def test_lines_are_trimmed_with_offsets_into_the_text_and_blank_lines_counted():
    text = "\r\n\u3000\u3000首段文字。\r\n\n  次段 \n"
    found = lines(text)
    assert [text[line.start : line.end] for line in found] == ["首段文字。", "次段"]
    assert [line.number for line in found] == [1, 2]
    assert [line.blank_before for line in found] == [1, 1]


def test_crlf_and_bom_offsets_still_point_at_the_span(tmp_path):
    body = "标题\r\n" + "这是一段用于测试的文字，它足够长，可以成为一个段落。" * 2 + "\r\n"
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    [doc] = read_corpus(tmp_path).documents
    assert doc.encoding == "utf-8-sig"
    for p in split_document(doc):
        assert doc.text[p.start : p.end] == p.text
