from datetime import date

from chuchu.corpus.documents import Document
from chuchu.index.filters import Filter


def _doc(doc_id="d", date=None, year=None):
    return Document(doc_id, f"{doc_id}.txt", "T", "文", "utf-8", "0", date=date, year=year)


def test_an_empty_filter_allows_everything():
    assert not Filter().active and Filter().allows(_doc())


def test_a_publication_date_is_compared_by_day():
    posted = _doc(date="2021-09-04")
    assert Filter(date_from=date(2021, 9, 4), date_to=date(2021, 9, 4)).allows(posted)
    assert not Filter(date_from=date(2021, 9, 5)).allows(posted)
    assert not Filter(date_to=date(2021, 9, 3)).allows(posted)


def test_without_a_date_the_report_year_stands_for_the_whole_year():
    report = _doc(year=2022)
    assert Filter(date_from=date(2022, 12, 31)).allows(report)
    assert Filter(date_to=date(2022, 1, 1)).allows(report)
    assert not Filter(date_from=date(2023, 1, 1)).allows(report)


def test_a_document_with_no_date_at_all_is_left_out_of_a_date_range_but_not_of_a_doc_filter():
    undated = _doc("x")
    assert not Filter(date_from=date(2000, 1, 1)).allows(undated)
    assert Filter(docs=frozenset({"x"})).allows(undated) and not Filter(docs=frozenset({"y"})).allows(undated)
