"""The web pages: a search box, server-rendered results, and the document view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, render_template, request

from corpus.errors import BadInput, NotFound
from index.search import Hit
from service.answers import answer, passage_url
from service.queries import parse_query

bp = Blueprint("pages", __name__)


@dataclass(frozen=True)
class Segment:
    """A stretch of a document's text: a passage (with its number) or text between passages."""

    text: str
    number: int | None = None
    cited: bool = False
    answer: tuple[str, str, str] | None = None  # the text before, of and after the answering sentence


def split_at(text: str, offset: int, start: int, end: int) -> tuple[str, str, str] | None:
    """text (which starts at offset in its file) cut around the span start..end; None if outside it."""
    a, b = start - offset, end - offset
    if not 0 <= a < b <= len(text):
        return None
    return text[:a], text[a:b], text[b:]


@bp.get("/")
def home() -> Any:
    """The search box."""
    return render_template("home.html")


@bp.get("/search")
def search() -> Any:
    """Results for a question, rendered on the server so they work without JavaScript."""
    settings = current_app.extensions["chuchu.settings"]
    if not request.args.get("q", "").strip():
        return render_template("home.html", error="Type a question first."), 400
    query = parse_query(request.args, settings)
    searcher, result, took_ms = answer(current_app.extensions["chuchu"], query)
    hits = result.hits
    return render_template(
        "results.html",
        query=query,
        hits=hits,
        verdict=result.verdict,
        urls=[passage_url(h.passage, h.answer) for h in hits],
        parts=[_answer_parts(h) for h in hits],
        build=searcher.snapshot.manifest,
        took_ms=took_ms,
    )


@bp.get("/docs/<doc_id>")
def document(doc_id: str) -> Any:
    """A document with every passage anchored (#p<n>) and the cited span highlighted."""
    snapshot = current_app.extensions["chuchu"].searcher().snapshot
    doc = snapshot.documents.get(doc_id)
    if doc is None:
        raise NotFound(f"There is no document {doc_id!r} in build {snapshot.build_id}; search again.")
    start, end = _span(request.args, "start", "end")
    answer_start, answer_end = _span(request.args, "answer_start", "answer_end")
    passages = [p for p in snapshot.passages if p.doc_id == doc_id]
    segments, pos = [], 0
    for p in passages:
        if p.start > pos:
            segments.append(Segment(doc.text[pos : p.start]))
        cited = (p.start, p.end) == (start, end)
        marked = None
        if cited and answer_start is not None and answer_end is not None:
            marked = split_at(p.text, p.start, answer_start, answer_end)
        segments.append(Segment(p.text, p.number, cited=cited, answer=marked))
        pos = p.end
    if pos < len(doc.text):
        segments.append(Segment(doc.text[pos:]))
    return render_template("document.html", doc=doc, segments=segments, build=snapshot.manifest)


def _answer_parts(hit: Hit) -> tuple[str, str, str] | None:
    if hit.answer is None:
        return None
    return split_at(hit.passage.text, hit.passage.start, hit.answer.start, hit.answer.end)


def _span(args: Any, first: str, last: str) -> tuple[int | None, int | None]:
    try:
        start = int(args[first]) if first in args else None
        end = int(args[last]) if last in args else None
    except ValueError as exc:
        raise BadInput(f"{first} and {last} must be whole numbers (character offsets into the document).") from exc
    return start, end
