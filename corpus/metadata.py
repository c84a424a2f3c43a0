"""What a document says about itself: title, source, publication date, the year it reports on.

Each comes from the first place that has it: the corpus catalog (a person wrote it down), then
the file's own metadata (an HTML <title>, a .docx's core properties), then the text (a forum
post's title and time, a Markdown "#" title, a headline over the text, "来源:萍乡日报",
"(图文:…)"). A document that gives no title is known by its file name: the first line of a text
without a headline is its first paragraph (a FAQ's first answer), not a title.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath

from chuchu.corpus.formats import Extracted
from chuchu.corpus.layout import Layout

_YEAR = re.compile(r"((?:19|20)\d\d)年")
# "明年，萍乡将承办2023年全省…": a year called next year dates the text to the year before.
_NEXT_YEAR = re.compile(r"明年[^。！？]{0,30}?((?:19|20)\d\d)年")
# A year the text names is the year it reports on only when the text keeps coming back to it:
# once per _DENSE characters (and at least twice), or once per _LEAD characters when the lead
# paragraph names it. Named less often it is named in passing ("建于1958年", a FAQ answer's
# "2014年起"), and so is any year named about as often as another one.
_DENSE = 1000
_LEAD = 4000


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
    title = catalog.get("title") or extracted.title or layout.title or PurePosixPath(file).stem or file
    source = catalog.get("source") or layout.source
    date = catalog.get("date") or extracted.date or layout.date
    body = layout.of_kind("body")
    lead = body[0].text(text) if body else ""
    return Metadata(title, source, date, report_year(text, title, date, lead))


def report_year(text: str, title: str, date: str | None, lead: str = "") -> int | None:
    """The year a document reports on, from strong evidence only.

    The title's year when it names one ("…上埠镇2025年高质量发展答卷"); else the year before a
    year the text calls next year, when no later year is named; else the publication year; else
    the year the text itself is about: the year it names at least twice as often as any other,
    and either throughout (once per 1,000 characters, and twice) or in its lead paragraph ("2025
    年,这座赣西工业重镇…", once per 4,000 characters). Else None: a FAQ of a hundred answers, or
    an article that mentions "建于1958年", reports on no year.
    """
    if m := _YEAR.search(title):
        return int(m.group(1))
    named = Counter(int(y) for y in _YEAR.findall(text))
    for m in _NEXT_YEAR.finditer(text):
        # "明年起执行1998年的规定" names an older year after 明年: that is not next year.
        if int(m.group(1)) == max(named):
            return int(m.group(1)) - 1
    if date:
        return int(date[:4])
    return _year_written_about(text, named, lead)


def _year_written_about(text: str, named: Counter[int], lead: str) -> int | None:
    if not named:
        return None
    (year, count), *others = named.most_common()
    if others and count < 2 * others[0][1]:
        return None
    throughout = count >= 2 and count * _DENSE >= len(text)
    in_lead = str(year) + "年" in lead and count * _LEAD >= len(text)
    return year if throughout or in_lead else None
