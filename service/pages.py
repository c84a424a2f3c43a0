"""The web pages: a search box, server-rendered results, and the document view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, render_template, request

from chuchu.corpus.errors import BadInput, IndexUnavailable, NotFound
from chuchu.index.search import Hit
from chuchu.service.answers import answer, passage_url
from chuchu.service.queries import parse_query

bp = Blueprint("pages", __name__)


@dataclass(frozen=True)
class Segment:
    """A stretch of a document's text: a passage (with its number) or text between passages."""

    text: str
    number: int | None = None  # the passage this piece of text belongs to
    anchor: bool = False  # the passage's first piece: carries its #p<n> id
    cited: bool = False
    kind: str = "text"
    answer: tuple[str, str, str] | None = None  # the text before, of and after the answering sentence


def split_at(text: str, span: tuple[int, int] | None) -> tuple[str, str, str] | None:
    """text cut around span (offsets into text); None when there is no span."""
    if span is None:
        return None
    a, b = span
    return text[:a], text[a:b], text[b:]


@bp.app_context_processor
def filter_choices() -> dict[str, Any]:
    """The documents the search form's filter offers (none while there is no index)."""
    try:
        documents = current_app.extensions["chuchu"].searcher().snapshot.documents.values()
    except IndexUnavailable:
        documents = []
    return {"documents": sorted(documents, key=lambda d: d.file)}


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
    # A joined passage has pieces with other text (a caption) between them: lay out every piece
    # of every passage in file order, each marked with the passage it belongs to.
    pieces = sorted(
        (s, e, p, i == 0) for p in snapshot.passages if p.doc_id == doc_id for i, (s, e) in enumerate(p.spans)
    )
    segments, pos = [], 0
    for s, e, p, first in pieces:
        if s > pos:
            segments.append(Segment(doc.text[pos:s]))
        cited = (p.start, p.end) == (start, end)
        marked = None
        if cited and answer_start is not None and answer_end is not None and s <= answer_start < answer_end <= e:
            marked = split_at(doc.text[s:e], (answer_start - s, answer_end - s))
        segments.append(Segment(doc.text[s:e], p.number, anchor=first, cited=cited, kind=p.kind, answer=marked))
        pos = e
    if pos < len(doc.text):
        segments.append(Segment(doc.text[pos:]))
    return render_template("document.html", doc=doc, segments=segments, build=snapshot.manifest)


def _answer_parts(hit: Hit) -> tuple[str, str, str] | None:
    if hit.answer is None:
        return None
    return split_at(hit.passage.text, hit.passage.locate(hit.answer.start, hit.answer.end))


def _span(args: Any, first: str, last: str) -> tuple[int | None, int | None]:
    try:
        start = int(args[first]) if first in args else None
        end = int(args[last]) if last in args else None
    except ValueError as exc:
        raise BadInput(f"{first} and {last} must be whole numbers (character offsets into the document).") from exc
    return start, end
