"""Splitting a document into passages that each know their exact span in the source file."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chuchu.corpus.documents import Document
from chuchu.corpus.layout import Block, heading_text, read_layout, weight

# A sentence ends at one of these marks, together with any closing quotes or brackets after it.
_SENTENCE = re.compile(r".*?(?:[。！？；!?;]+|…{1,2}|\.{3,})[”’」』）)】\"']*|.+?$", re.S)
_SOFT_BREAK = re.compile(r"[，,、：:]")
# What is stripped from both ends of a line: ASCII and full-width spaces, tabs, CR.
_BLANK = " \t\r\u3000\xa0"


@dataclass(frozen=True)
class SplitOptions:
    """How documents are cut into passages."""

    max_chars: int = 300
    min_chars: int = 24


@dataclass(frozen=True)
class Passage:
    """A stretch of one document. ``pieces`` are the spans of the file its text is made of.

    Most passages are one span: ``document.text[start:end] == text``. A paragraph broken by the
    page layout is joined from several pieces (with a line break, or a photo caption, between
    them): its text is the pieces joined, and ``start``/``end`` cover them all.
    """

    doc_id: str
    file: str
    number: int  # 1-based, in document order; anchors the passage in the document view
    paragraph: int  # 1-based number of the source paragraph (non-empty line) it starts in
    start: int
    end: int
    text: str
    heading: str = ""  # the heading path above the passage ("追“新”——园区… › …"), "" when none
    kind: str = "text"  # "text", or "caption" for a photo caption
    pieces: tuple[tuple[int, int], ...] = ()  # () when the passage is the one span start..end

    def __post_init__(self) -> None:
        # Read back from JSON, pieces are lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "pieces", tuple((int(a), int(b)) for a, b in self.pieces))

    @property
    def spans(self) -> tuple[tuple[int, int], ...]:
        """The file spans whose text, joined, is the passage's text."""
        return self.pieces or ((self.start, self.end),)

    def locate(self, start: int, end: int) -> tuple[int, int] | None:
        """Where the file span start..end lies in the passage's text; None unless inside one piece."""
        offset = 0
        for s, e in self.spans:
            if s <= start < end <= e:
                return offset + start - s, offset + end - s
            offset += e - s
        return None


def sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans within text[start:end], closing quotes kept with their sentence."""
    spans = []
    for m in _SENTENCE.finditer(text, start, end):
        if m.end() > m.start():
            spans.append((m.start(), m.end()))
    return spans


def split_document(doc: Document, options: SplitOptions = SplitOptions()) -> list[Passage]:
    """Cut a document into passages, following its layout (corpus/layout.py).

    Body paragraphs (joined where the layout broke them) are passages, cut at sentence ends when
    longer than ``max_chars``; captions are passages of their own, marked; headings become the
    heading path of what follows; titles, credits and boilerplate are not passages. A paragraph
    that weighs less than ``min_chars`` leads into the next one, because short passages sit
    close to every question in embedding space and crowd the dense results.
    """
    text = doc.text
    out: list[tuple[list[tuple[int, int, int]], str, str]] = []  # (pieces with line numbers, heading, kind)
    path: list[tuple[int, str]] = []  # (level, words) of the headings above
    lead: list[tuple[int, int, int]] = []
    previous = ""
    for block in read_layout(text, options.min_chars).blocks:
        if lead and block.kind in ("heading", "caption"):
            # A short paragraph leads only into text of its own section, next to it.
            out.append((lead, " › ".join(words for _, words in path), "text"))
            lead = []
        if block.kind == "heading":
            path = _enter(path, block.level, heading_text(block, text), continued=previous == "heading")
            previous = "heading"
            continue
        previous = block.kind
        heading = " › ".join(words for _, words in path)
        numbered = _numbered(block)
        if block.kind == "caption":
            out.append((numbered, heading, "caption"))
        elif block.kind == "body":
            if weight(block.text(text)) < options.min_chars:
                lead.extend(numbered)
                if sum(e - s for s, e, _ in lead) > options.max_chars // 3:
                    out.append((lead, heading, "text"))
                    lead = []
                continue
            for chunk in _chunks(text, lead + numbered, options.max_chars):
                out.append((chunk, heading, "text"))
            lead = []
    if lead:
        out.append((lead, " › ".join(words for _, words in path), "text"))
    passages = []
    for n, (pieces, heading, kind) in enumerate(out, start=1):
        spans = tuple((s, e) for s, e, _ in pieces)
        passages.append(
            Passage(
                doc.doc_id,
                doc.file,
                n,
                pieces[0][2],
                spans[0][0],
                spans[-1][1],
                "".join(text[s:e] for s, e in spans),
                heading,
                kind,
                spans if len(spans) > 1 else (),
            )
        )
    return passages


def _enter(path: list[tuple[int, str]], level: int, words: str, continued: bool) -> list[tuple[int, str]]:
    """The heading path after a heading: a subtitle ("——…") or a heading right after another
    (a two-line heading) continues it; a level-2 heading goes under the current level 1."""
    if path and (words.startswith("——") or (continued and level == path[-1][0])):
        last_level, last = path[-1]
        return [*path[:-1], (last_level, last + ("" if words.startswith("——") else " ") + words)]
    if level == 2:
        return [*[h for h in path if h[0] == 1][:1], (2, words)]
    return [(1, words)]


def _numbered(block: Block) -> list[tuple[int, int, int]]:
    """A block's pieces, each with the number of the line it starts on."""
    if len(block.pieces) == len(block.lines):
        return [(s, e, line.number) for (s, e), line in zip(block.pieces, block.lines)]
    return [(block.start, block.end, block.lines[0].number)]


def _chunks(text: str, pieces: list[tuple[int, int, int]], max_chars: int) -> list[list[tuple[int, int, int]]]:
    """A paragraph (its pieces) as one chunk, or cut at sentence ends when longer than max_chars.

    The cutting runs on the joined text; each cut is mapped back to the file pieces it covers.
    """
    joined = "".join(text[s:e] for s, e, _ in pieces)
    if len(joined) <= max_chars:
        return [pieces]
    units: list[tuple[int, int]] = []
    for s, e in sentences(joined, 0, len(joined)):
        units.extend(_cut_long(joined, s, e, max_chars))
    chunks = []
    for a, b in _pack(units, max_chars):
        while a < b and joined[a] in _BLANK:
            a += 1
        while b > a and joined[b - 1] in _BLANK:
            b -= 1
        if b > a:
            chunks.append(_map_back(pieces, a, b))
    return chunks


def _map_back(pieces: list[tuple[int, int, int]], a: int, b: int) -> list[tuple[int, int, int]]:
    """The file spans of joined-text offsets a..b."""
    out, offset = [], 0
    for s, e, number in pieces:
        lo, hi = max(a, offset), min(b, offset + e - s)
        if lo < hi:
            out.append((s + lo - offset, s + hi - offset, number))
        offset += e - s
    return out


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
