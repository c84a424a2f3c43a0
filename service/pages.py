"""The web pages: a search box, server-rendered results, and the document view.

Everything works without JavaScript; ``static/chuchu.js`` only makes it quicker (results without
a reload, keyboard shortcuts, copying a citation).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _

from chuchu.corpus.errors import BadInput, ChuchuError, IndexUnavailable, NotFound
from chuchu.index.question.reading import read_question
from chuchu.service import wording
from chuchu.service.answers import answer
from chuchu.service.cards import cards, direct_answer, shown_date
from chuchu.service.document_view import lay_out
from chuchu.service.examples import Examples
from chuchu.service.queries import parse_query
from chuchu.service.security import secure

bp = Blueprint("pages", __name__)
bp.after_app_request(secure)
# The live build's example questions, made once per build, live with the app that shows them.
bp.record_once(lambda state: state.app.extensions.setdefault("chuchu.examples", Examples()))
_NUMBER = re.compile(r"[0-9]{1,9}")  # a passage number in ?cited=


@bp.app_context_processor
def page_helpers() -> dict[str, Any]:
    """What every page may use: the documents the filter offers (none while there is no index),
    and an error's heading and advice in the reader's language."""
    try:
        documents = current_app.extensions["chuchu"].searcher().snapshot.documents.values()
    except IndexUnavailable:
        documents = []
    return {"documents": sorted(documents, key=lambda d: d.file), "error_wording": wording.error}


@bp.get("/")
def home() -> Any:
    """The search box, with example questions the documents answer."""
    return _home()


@bp.get("/search")
def search() -> Any:
    """Results for a question, rendered on the server so they work without JavaScript."""
    settings = current_app.extensions["chuchu.settings"]
    question = request.args.get("q", "").strip()
    if not question:
        return _home(_("Type a question first: what do you want to find in the documents?"), 400)
    if len(question) > settings.max_question_chars:
        message = _(
            "The question is %(n)d characters long; at most %(most)d are allowed. Shorten it and search again.",
            n=len(question),
            most=settings.max_question_chars,
        )
        return _home(message, 400)
    query = parse_query(request.args, settings)
    searcher, result, took_ms = answer(current_app.extensions["chuchu"], query)
    asking = read_question(query.question)
    shown = cards(result, searcher, request.full_path.rstrip("?"))
    verdict = result.verdict
    return render_template(
        "results.html",
        query=query,
        cards=shown,
        direct=direct_answer(shown[0], asking) if shown else None,
        verdict=verdict,
        why=None if verdict.answerable else wording.why_not(verdict.why, query.where, searcher.snapshot.documents),
        unfiltered=url_for("pages.search", q=query.question) if query.where.active else None,
        build=searcher.snapshot.manifest,
        took_ms=took_ms,
    )


@bp.get("/docs/<doc_id>")
def document(doc_id: str) -> Any:
    """A document laid out for reading, every passage anchored (#p<n>), the cited one highlighted."""
    snapshot = current_app.extensions["chuchu"].searcher().snapshot
    doc = snapshot.documents.get(doc_id)
    if doc is None:
        raise NotFound(f"There is no document {doc_id!r} in build {snapshot.build_id}; search again.")
    start, end = _span(request.args, "start", "end")
    answer_start, answer_end = _span(request.args, "answer_start", "answer_end")
    cited = (start, end) if start is not None and end is not None else None
    marked = (answer_start, answer_end) if answer_start is not None and answer_end is not None else None
    passages = [p for p in snapshot.passages if p.doc_id == doc_id]  # one pass over the build
    numbers = {p.number for p in passages}
    related = [n for n in _numbers(request.args.get("cited", "")) if n in numbers]
    here = next((p.number for p in passages if (p.start, p.end) == cited), None)
    stops = sorted({*related, *([here] if here else [])})
    back = request.args.get("back", "")
    return render_template(
        "document.html",
        doc=doc,
        date=shown_date(doc),
        sections=lay_out(doc, passages, _min_chars(snapshot), cited, marked, related),
        stops=stops,
        here=here,
        back=back if back.startswith("/search?") else "",
        build=snapshot.manifest,
    )


@bp.errorhandler(ChuchuError)
def _page_error(exc: ChuchuError) -> Any:
    """An error on a page: a page in the reader's language that says what to do (the API answers JSON)."""
    return render_template("error.html", status=exc.status, code=exc.code, message=exc.message), exc.status


def _home(error: str = "", status: int = 200) -> Any:
    try:
        searcher = current_app.extensions["chuchu"].searcher()
    except IndexUnavailable as exc:
        return render_template("home.html", error=error, missing=exc.message), 503 if status == 200 else status
    examples = current_app.extensions["chuchu.examples"].of(searcher)
    return render_template("home.html", error=error, examples=examples, build=searcher.snapshot.manifest), status


def _min_chars(snapshot: Any) -> int:
    # The layout the build split by: a different min_chars would read other headings.
    return int(snapshot.manifest.settings.get("min_chars", 24))


def _numbers(raw: str) -> list[int]:
    # ASCII digits, and few: str.isdigit() also takes "²", which int() refuses, and int() refuses
    # more than 4,300 digits; either was a 500. A passage number has a handful.
    return [int(n) for n in raw.split(",") if _NUMBER.fullmatch(n.strip())]


def _span(args: Any, first: str, last: str) -> tuple[int | None, int | None]:
    try:
        start = int(args[first]) if first in args else None
        end = int(args[last]) if last in args else None
    except ValueError as exc:
        raise BadInput(f"{first} and {last} must be whole numbers (character offsets into the document).") from exc
    return start, end
