"""Splitting a document into passages that each know their exact span in the source file."""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpus.documents import Document

# A sentence ends at one of these marks, together with any closing quotes or brackets after it.
_SENTENCE = re.compile(r".*?(?:[。！？；!?;]+|…{1,2}|\.{3,})[”’」』）)】\"']*|.+?$", re.S)
_SOFT_BREAK = re.compile(r"[，,、：:]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# A heading ends without punctuation; a photo credit ends with 摄.
_NOT_HEADING_ENDS = tuple("。，,；;！!？?、：:摄")
_WORD = re.compile(r"[A-Za-z]{2,}|\d+(?:\.\d+)?%?")
# What is stripped from both ends of a line: ASCII and full-width spaces, tabs, CR.
_BLANK = " \t\r\u3000\xa0"


@dataclass(frozen=True)
class SplitOptions:
    """How documents are cut into passages."""

    max_chars: int = 300
    min_chars: int = 24


@dataclass(frozen=True)
class Passage:
    """A span of one document: ``document.text[start:end] == text``."""

    doc_id: str
    file: str
    number: int  # 1-based, in document order; anchors the passage in the document view
    paragraph: int  # 1-based number of the source paragraph (non-empty line) it starts in
    start: int
    end: int
    text: str
    heading: str = ""  # the section heading above the passage, "" when there is none


@dataclass(frozen=True)
class _Line:
    number: int
    start: int
    end: int


def paragraphs(text: str) -> list[_Line]:
    """The non-empty lines of a text, each trimmed of surrounding blanks."""
    lines: list[_Line] = []
    pos = 0
    for raw in text.split("\n"):
        left = len(raw) - len(raw.lstrip(_BLANK))
        right = len(raw.rstrip(_BLANK))
        if right > left:
            lines.append(_Line(len(lines) + 1, pos + left, pos + right))
        pos += len(raw) + 1
    return lines


def weight(text: str) -> int:
    """How much a line says: its Chinese characters, plus two for each word or number.

    Counting characters alone would let an image file name or a row of counters pass for a
    paragraph; a Latin word carries about as much as two Chinese characters.
    """
    return len(_CJK.findall(text)) + 2 * len(_WORD.findall(text))


def sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans within text[start:end], closing quotes kept with their sentence."""
    spans = []
    for m in _SENTENCE.finditer(text, start, end):
        if m.end() > m.start():
            spans.append((m.start(), m.end()))
    return spans


def split_document(doc: Document, options: SplitOptions = SplitOptions()) -> list[Passage]:
    """Cut a document into passages: paragraphs, then sentences for paragraphs too long.

    Lines that weigh less than ``min_chars`` (a section number, a heading, a stray token) are not
    passages of their own: they lead into the next paragraph's passage, because short passages
    sit close to every question in embedding space and crowd the dense results.
    """
    text = doc.text
    spans: list[tuple[int, int, int, str]] = []  # (paragraph number, start, end, heading)
    pending: list[_Line] = []
    heading = ""
    for line in paragraphs(text):
        if weight(text[line.start : line.end]) < options.min_chars:
            pending.append(line)
            continue
        heading = _heading(text, pending) or heading
        lead = _lead_in(pending, line, options)
        pending = []
        first = lead[0] if lead else line
        pieces = _pieces(text, line.start, line.end, options.max_chars)
        for i, (s, e) in enumerate(pieces):
            spans.append((first.number if i == 0 else line.number, first.start if i == 0 else s, e, heading))
    if pending and pending[-1].end - pending[0].start >= options.min_chars:
        for s, e in _pack([(p.start, p.end) for p in pending], options.max_chars):
            spans.append((_number_at(pending, s), s, e, heading))
    return [
        Passage(doc.doc_id, doc.file, n, para, s, e, text[s:e], h) for n, (para, s, e, h) in enumerate(spans, start=1)
    ]


def _heading(text: str, stubs: list[_Line]) -> str:
    """The heading among the short lines above a paragraph: the last that reads like one.

    Photo credits ("… 摄") and file names are not headings, nor is a bare section number.
    """
    for line in reversed(stubs):
        candidate = text[line.start : line.end]
        if candidate.endswith(_NOT_HEADING_ENDS) or "." in candidate or not _CJK.search(candidate):
            continue
        return candidate
    return ""


def _lead_in(pending: list[_Line], line: _Line, options: SplitOptions) -> list[_Line]:
    """The short lines just above a paragraph that fit in front of it as its lead-in."""
    lead: list[_Line] = []
    budget = options.max_chars // 3
    for p in reversed(pending):
        if line.start - p.start > budget or len(lead) >= 3:
            break
        lead.insert(0, p)
    return lead


def _pieces(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """A paragraph as one span, or cut at sentence ends when longer than max_chars."""
    if end - start <= max_chars:
        return [(start, end)]
    units: list[tuple[int, int]] = []
    for s, e in sentences(text, start, end):
        units.extend(_cut_long(text, s, e, max_chars))
    return _pack(units, max_chars)


def _cut_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """A sentence longer than max_chars, cut after commas (or hard, as a last resort)."""
    if end - start <= max_chars:
        return [(start, end)]
    cuts, s = [], start
    while end - s > max_chars:
        window = text[s : s + max_chars]
        soft = [m.end() for m in _SOFT_BREAK.finditer(window) if m.end() > max_chars // 3]
        cut = s + (soft[-1] if soft else max_chars)
        cuts.append((s, cut))
        s = cut
    cuts.append((s, end))
    return cuts


def _pack(units: list[tuple[int, int]], max_chars: int) -> list[tuple[int, int]]:
    """Greedily join consecutive spans while the joined span stays within max_chars."""
    packed: list[tuple[int, int]] = []
    for s, e in units:
        if packed and e - packed[-1][0] <= max_chars:
            packed[-1] = (packed[-1][0], e)
        else:
            packed.append((s, e))
    return packed


def _number_at(lines: list[_Line], offset: int) -> int:
    return next(line.number for line in lines if line.start <= offset < line.end or line.start >= offset)
