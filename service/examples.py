"""Example questions for the home page, drawn from the live build rather than written by hand.

A clause that states a figure ("完成一季稻种植12330亩") becomes the question it answers
("上埠镇完成一季稻种植多少亩?"), prefixed with the place its document is about when the title names
one. Each candidate is asked of the build itself and kept only when the passage it came from
comes back first and is judged to answer, so a reader who clicks an example sees a direct answer.
The questions are made once per build (a few searches) and kept with it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

from chuchu.index.question.reading import tag
from chuchu.index.search import Searcher

COUNT = 4  # examples shown
TRIES = 24  # searches spent looking for them, at most
PER_DOCUMENT = 3  # candidates tried per document
SCAN = 20_000  # passages read, at most
_CLAUSE = re.compile(r"[^，,。；;！!？?、：:\n]+")
_FIGURE = re.compile(
    r"(?P<lead>[\u4e00-\u9fff]{4,14}?)\d+(?:\.\d+)?(?P<unit>万亩|亩|亿元|万元|万人|人|名|个|家|项|次|条|件|座|户|所|公里|吨)$"
)
_PLACE = re.compile(r"[省市县区镇乡村]$")
_NOT_PLACES = frozenset("城市 市区 城区 县城 县区 市县 省市 园区 社区 景区 新区 乡村 农村".split())
# A question must start with what it is about: a name, a noun, or a time (全年, 今年), not a verb (拟设立…).
_SUBJECT_TAGS = ("n", "t", "j")


class Examples:
    """The live build's example questions, made on first use; kept in ``app.extensions``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._build = ""
        self._questions: tuple[str, ...] = ()

    def of(self, searcher: Searcher) -> tuple[str, ...]:
        """A few questions this build answers, one per document where possible."""
        with self._lock:  # one thread makes them; the others wait rather than search too
            if searcher.snapshot.build_id != self._build:
                self._questions = tuple(_find(searcher))
                self._build = searcher.snapshot.build_id  # a build is immutable, and so are its examples
            return self._questions


def _find(searcher: Searcher) -> Iterator[str]:
    """Validated questions, one per document, in the build's order of documents.

    One pass over the passages, read no further than ``SCAN``: a large corpus yields its examples
    from its first documents, rather than costing a walk through every passage.
    """
    found = tries = 0
    done: set[str] = set()  # documents that gave an example, or all the tries they get
    per_document: dict[str, int] = {}
    places: dict[str, str] = {}
    for passage in searcher.snapshot.passages[:SCAN]:
        if passage.doc_id in done or passage.kind != "text":
            continue
        if passage.doc_id not in places:
            places[passage.doc_id] = _place(searcher.snapshot.documents[passage.doc_id].title)
        for question in _questions(passage.text, places[passage.doc_id]):
            tries += 1
            per_document[passage.doc_id] = per_document.get(passage.doc_id, 0) + 1
            result = searcher.run(question, 1)
            if result.answerable and result.hits and result.hits[0].passage == passage:
                found += 1
                done.add(passage.doc_id)
                yield question
            elif per_document[passage.doc_id] >= PER_DOCUMENT:
                done.add(passage.doc_id)  # a document whose first few fail is unlikely to do better
            if found >= COUNT or tries >= TRIES:
                return
            if passage.doc_id in done:
                break


def _questions(text: str, place: str) -> Iterator[str]:
    """The questions a passage's clauses with a figure answer ("…种植12330亩" → "…种植多少亩?")."""
    for clause in _CLAUSE.findall(text):
        m = _FIGURE.search(clause.strip())
        if not m:
            continue
        lead = m["lead"]
        if not place and not tag(lead)[0][1].startswith(_SUBJECT_TAGS):
            continue
        yield f"{'' if not place or lead.startswith(place) else place}{lead}多少{m['unit']}?"


def _place(title: str) -> str:
    """The most specific administrative place the title names (芦溪县上埠镇 → 上埠镇), or ""."""
    places, at = [], 0
    for word, flag in tag(title):
        at += len(word)
        if flag != "ns":
            continue
        # jieba often leaves the suffix off (鹰潭市余江|区): take it back from the title.
        if not _PLACE.search(word) and at < len(title) and _PLACE.match(title[at]):
            word += title[at]
        if _PLACE.search(word) and word not in _NOT_PLACES:
            places.append(word)
    return places[-1] if places else ""
