"""A document laid out for reading: headings as headings, paragraphs, captions, each passage anchored.

The layout is the one the build split the document by (``corpus.layout``), read again from the
stored text with the build's ``min_chars``, so a heading here is a heading there. Within each
block, the stretches that belong to a passage carry its number: its first piece is its anchor
(``#p<n>``), the passage a link cites is highlighted, and its answering sentence marked.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from chuchu.corpus.documents import Document
from chuchu.corpus.layout import heading_text, read_layout
from chuchu.corpus.splitting import Passage
from chuchu.corpus.terms import fold

Span = tuple[int, int]


@dataclass(frozen=True)
class Piece:
    """A stretch of a block: part of a passage, or text no passage holds (a list of headlines)."""

    text: str
    number: int | None = None  # the passage it belongs to
    anchor: bool = False  # the passage's first piece: carries its #p<n> id
    cited: bool = False  # the passage the link cites
    related: bool = False  # another passage of this document among the results
    answer: tuple[str, str, str] | None = None  # text before, of and after the answering sentence


@dataclass(frozen=True)
class Section:
    """A block as shown: body (a paragraph), heading, caption, title, credit, or chrome (boilerplate)."""

    kind: str
    pieces: tuple[Piece, ...]
    level: int = 0  # headings: 1, or 2 under a numbered "(一)"
    count: int = 1  # chrome: how many lines are folded together

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.pieces)


def lay_out(
    doc: Document,
    passages: Iterable[Passage],
    min_chars: int,
    cited: Span | None = None,
    answer: Span | None = None,
    related: Iterable[int] = (),
) -> list[Section]:
    """The document's sections in reading order, each passage's stretches marked."""
    text = doc.text
    related = set(related)
    pieces = sorted((s, e, p, i == 0) for p in passages if p.doc_id == doc.doc_id for i, (s, e) in enumerate(p.spans))
    starts = [s for s, _, _, _ in pieces]
    anchored: set[int] = set()
    sections: list[Section] = []
    for block in read_layout(text, min_chars).blocks:
        if block.kind == "title" and _repeats_title(block.text(text), doc.title):
            continue
        if block.kind == "heading":
            words = heading_text(block, text)
            last = sections[-1] if sections else None
            # A subtitle ("——…") or a second line of the same level is one heading, as the
            # splitter reads it for the heading path (corpus.splitting._enter).
            if last and last.kind == "heading" and (words.startswith("——") or last.level == block.level):
                sections[-1] = Section("heading", (*last.pieces, Piece(words)), last.level)
            else:
                sections.append(Section("heading", (Piece(words),), block.level))
            continue
        if block.kind == "boilerplate":
            if sections and sections[-1].kind == "chrome":
                last = sections.pop()
                sections.append(Section("chrome", (*last.pieces, Piece(block.text(text))), count=last.count + 1))
            else:
                sections.append(Section("chrome", (Piece(block.text(text)),)))
            continue
        out: list[Piece] = []
        for bs, be in block.pieces:
            pos = bs
            for s, e, p, first in pieces[max(0, bisect_right(starts, bs) - 1) :]:
                if s >= be:
                    break
                if e <= bs:
                    continue
                s, e = max(s, bs), min(e, be)
                if s > pos:
                    out.append(Piece(text[pos:s]))
                is_cited = cited == (p.start, p.end)
                marked = None
                if is_cited and answer is not None and s <= answer[0] < answer[1] <= e:
                    a, b = answer[0] - s, answer[1] - s
                    marked = (text[s:e][:a], text[s:e][a:b], text[s:e][b:])
                anchor = first and p.number not in anchored
                anchored.add(p.number)
                out.append(Piece(text[s:e], p.number, anchor, is_cited, p.number in related, marked))
                pos = e
            if pos < be:
                out.append(Piece(text[pos:be]))
        kind = block.kind if block.kind in ("caption", "credit", "title") else "body"
        sections.append(Section(kind, tuple(out)))
    return sections


def _repeats_title(line: str, title: str) -> bool:
    """Whether a title line of the text says again what the document's title says."""
    words = "".join(c for c in fold(line) if c.isalnum())
    return bool(words) and words in "".join(c for c in fold(title) if c.isalnum())
