"""Checking what a request asks for, in one place, before anything is searched."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chuchu.corpus.errors import BadInput
from chuchu.index.filters import Filter
from chuchu.index.fusion import MODES
from chuchu.service.settings import Settings


@dataclass(frozen=True)
class Query:
    """A checked question."""

    question: str
    k: int
    mode: str = "hybrid"
    explain: bool = False
    where: Filter = field(default_factory=Filter)


def parse_query(params: Mapping[str, Any], settings: Settings) -> Query:
    """A Query from request parameters (query string or JSON body); BadInput says what is allowed."""
    raw = params.get("question", params.get("q"))
    if raw is None:
        raise BadInput("Ask a question: pass `q` in the query string or `question` in the JSON body.")
    if not isinstance(raw, str):
        raise BadInput("The question must be a string.")
    question = raw.strip()
    if not question:
        raise BadInput("The question is empty; ask something in Chinese or English.")
    if len(question) > settings.max_question_chars:
        raise BadInput(
            f"The question is {len(question)} characters long; at most {settings.max_question_chars} are allowed."
        )
    return Query(
        question,
        parse_k(params.get("k"), settings),
        parse_mode(params.get("mode")),
        parse_flag(params.get("explain"), "explain"),
        parse_filter(params),
    )


def parse_filter(params: Mapping[str, Any]) -> Filter:
    """`doc` (one id, several comma-separated, or a JSON list), `date_from`, `date_to` (YYYY[-MM[-DD]])."""
    raw = params.get("doc")
    if raw is None or raw == "":
        docs: frozenset[str] = frozenset()
    elif isinstance(raw, str):
        docs = frozenset(d.strip() for d in raw.split(",") if d.strip())
    elif isinstance(raw, list) and all(isinstance(d, str) for d in raw):
        docs = frozenset(raw)
    else:
        raise BadInput("doc must be a document id, ids separated by commas, or a list of ids.")
    first = parse_date(params.get("date_from"), "date_from", end=False)
    last = parse_date(params.get("date_to"), "date_to", end=True)
    if first and last and first > last:
        raise BadInput(f"date_from ({first}) is after date_to ({last}).")
    return Filter(docs, first, last)


_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def parse_date(raw: Any, name: str, end: bool) -> date | None:
    """A date given as YYYY, YYYY-MM or YYYY-MM-DD; a partial date means its first (or last) day."""
    if raw is None or raw == "":
        return None
    m = _DATE.match(str(raw).strip())
    try:
        if not m:
            raise ValueError
        year, month, day = int(m[1]), int(m[2] or (12 if end else 1)), m[3]
        if day is not None:
            return date(year, month, int(day))
        if not end:
            return date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        return date.fromordinal(following.toordinal() - 1)
    except ValueError as exc:
        raise BadInput(f"{name} must be a date as YYYY, YYYY-MM or YYYY-MM-DD, not {raw!r}.") from exc


def parse_mode(raw: Any) -> str:
    """The ranking asked for: hybrid (the default), dense or lexical."""
    if raw is None or raw == "":
        return "hybrid"
    if raw not in MODES:
        raise BadInput(f"mode must be one of {', '.join(MODES)}, not {raw!r}.")
    return str(raw)


def parse_flag(raw: Any, name: str) -> bool:
    """A yes/no parameter: true/false in JSON, 1/0 or true/false in a query string."""
    if raw is None or raw == "":
        return False
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("1", "true", "yes", "0", "false", "no"):
        return raw.lower() in ("1", "true", "yes")
    raise BadInput(f"{name} must be true or false (1 or 0 in a query string), not {raw!r}.")


def parse_k(raw: Any, settings: Settings) -> int:
    """The number of passages asked for, 1..max_k."""
    allowed = f"k must be a whole number from 1 to {settings.max_k}"
    if raw is None or raw == "":
        return settings.default_k
    if isinstance(raw, bool):
        raise BadInput(f"{allowed}, not {raw!r}.")
    if isinstance(raw, str):
        if not raw.strip().isdigit():
            raise BadInput(f"{allowed}, not {raw!r}.")
        raw = int(raw)
    if not isinstance(raw, int) or not 1 <= raw <= settings.max_k:
        raise BadInput(f"{allowed}, not {raw!r}.")
    return raw
