"""What a document says about itself: title, source, publication date, the year it reports on.

Each comes from the first place that has it: the corpus catalog (a person wrote it down), then
the file's own metadata (an HTML <title>, a .docx's core properties), then the text (a forum
post's title and time, "来源:萍乡日报", "(图文:…)"), then, for the title, the first line.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from chuchu.corpus.formats import Extracted
from chuchu.corpus.layout import Layout

_YEAR = re.compile(r"((?:19|20)\d\d)年")
# "明年，萍乡将承办2023年全省…": a year called next year dates the text to the year before.
_NEXT_YEAR = re.compile(r"明年[^。！？]{0,30}?((?:19|20)\d\d)年")


@dataclass(frozen=True)
class Metadata:
    """A document's metadata, each None where nothing says it."""

    title: str
    source: str | None
    date: str | None  # ISO date of publication
    year: int | None  # the year the document reports on


def describe(file: str, catalog: dict[str, str], extracted: Extracted, layout: Layout) -> Metadata:
    """The metadata of one document, from the catalog first, then the file, then its text."""
    text = extracted.text
    title = catalog.get("title") or extracted.title or layout.title or _first_line(text) or file
    source = catalog.get("source") or layout.source
    date = catalog.get("date") or extracted.date or layout.date
    return Metadata(title, source, date, report_year(text, title, date))


def report_year(text: str, title: str, date: str | None) -> int | None:
    """The year a document reports on.

    The title's year when it names one ("…上埠镇2025年高质量发展答卷"); else the year before a
    year the text calls next year; else the publication year; else the latest year the text names
    at least twice (a year named once is often history: "2015年起"), else the latest named.
    """
    if m := _YEAR.search(title):
        return int(m.group(1))
    if m := _NEXT_YEAR.search(text):
        return int(m.group(1)) - 1
    if date:
        return int(date[:4])
    counts = Counter(int(y) for y in _YEAR.findall(text))
    repeated = [y for y, n in counts.items() if n >= 2]
    if repeated:
        return max(repeated)
    return max(counts) if counts else None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:80]
    return ""
