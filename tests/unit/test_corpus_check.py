from pathlib import Path

from chuchu.index.corpus_check import check_corpus, format_report

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def test_the_check_says_per_document_what_the_reader_found():
    report = check_corpus(CORPUS)
    found = {d.file[:3]: d for d in report.documents}
    assert found["001"].boilerplate["view and reply counter"] == 1 and found["001"].date == "2021-09-04"
    assert sum(found["001"].boilerplate.values()) >= 20
    assert found["002"].captions == 11 and found["002"].duplicates == 2
    assert found["003"].joined == 5 and found["004"].joined == 3
    assert found["000"].headings == 6 and found["000"].source == "萍乡日报"
    assert not report.unreadable
    text = format_report(report)
    assert "001_5633edfce16ee183.txt  (utf-8)" in text and "5 documents, 136 passages, 0 unreadable" in text


def test_the_check_names_unreadable_files(tmp_path):
    (tmp_path / "good.txt").write_text(
        "萍乡市坚持工业强市不动摇，积极抢抓国家产业转型升级示范区建设机遇。", encoding="utf-8"
    )
    (tmp_path / "bad.docx").write_bytes(b"not a zip")
    report = check_corpus(tmp_path)
    assert len(report.documents) == 1 and report.unreadable[0].startswith("bad.docx")
    assert "UNREADABLE bad.docx" in format_report(report)


def test_chuchu_corpus_check_prints_the_report_and_strict_fails_on_unreadable(tmp_path, capsys):
    from chuchu.service.cli import main

    (tmp_path / "good.txt").write_text(
        "萍乡市坚持工业强市不动摇，积极抢抓国家产业转型升级示范区建设机遇。", encoding="utf-8"
    )
    assert main(["corpus", "check", "--corpus", str(tmp_path)]) == 0
    assert "good.txt  (utf-8)" in capsys.readouterr().out
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 broken")
    assert main(["corpus", "check", "--corpus", str(tmp_path), "--strict"]) == 2
    assert "UNREADABLE bad.pdf" in capsys.readouterr().out


def test_a_strict_build_stops_at_an_unreadable_file_and_publishes_nothing(tmp_path, fake_embedder):
    import pytest

    from chuchu.corpus.errors import CorpusError
    from chuchu.index.build import build_index
    from chuchu.index.store import Store

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "good.txt").write_text("萍乡市坚持工业强市不动摇，积极抢抓示范区建设机遇。", encoding="utf-8")
    (tmp_path / "docs" / "bad.docx").write_bytes(b"not a zip")
    store = Store(tmp_path / "store")
    with pytest.raises(CorpusError, match="bad.docx"):
        build_index(tmp_path / "docs", store, fake_embedder, strict=True)
    assert store.live_id() is None
    summary = build_index(tmp_path / "docs", store, fake_embedder)
    assert summary.documents == 1 and len(summary.failures) == 1 and "bad.docx" in summary.failures[0]
