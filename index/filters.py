"""Which documents a question searches: by document, and by date.

A document's date is its publication date when known; otherwise the year it reports on stands
for the whole of that year. A document with neither is left out when a date range is asked for,
because nothing says it falls inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from chuchu.corpus.documents import Document


@dataclass(frozen=True)
class Filter:
    """The documents a search may return passages from; the empty Filter allows all."""

    docs: frozenset[str] = frozenset()  # doc ids; empty: every document
    date_from: date | None = None
    date_to: date | None = None

    @property
    def active(self) -> bool:
        return bool(self.docs) or self.date_from is not None or self.date_to is not None

    def allows(self, document: Document) -> bool:
        """Whether a document passes the filter."""
        if self.docs and document.doc_id not in self.docs:
            return False
        if self.date_from is None and self.date_to is None:
            return True
        span = _dates(document)
        if span is None:
            return False
        first, last = span
        return (self.date_from is None or last >= self.date_from) and (self.date_to is None or first <= self.date_to)

    def describe(self) -> str:
        """The filter in words, for messages."""
        parts = []
        if self.docs:
            parts.append("documents " + ", ".join(sorted(self.docs)))
        if self.date_from or self.date_to:
            parts.append(f"dates {self.date_from or '…'} to {self.date_to or '…'}")
        return " and ".join(parts) or "no filter"


def _dates(document: Document) -> tuple[date, date] | None:
    """The first and last day a document may be dated: its date, or the whole year it reports on."""
    if document.date:
        try:
            day = date.fromisoformat(document.date[:10])
            return day, day
        except ValueError:
            pass
    if document.year:
        return date(document.year, 1, 1), date(document.year, 12, 31)
    return None
