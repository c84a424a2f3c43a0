"""The JSON API: /api/search, /api/ask and /healthz."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from corpus.errors import BadInput
from service.answers import answer, answer_json
from service.queries import parse_query

bp = Blueprint("api", __name__)


@bp.get("/api/search")
def search() -> Any:
    """Answer a question given in the query string."""
    return _answer(request.args)


@bp.post("/api/ask")
def ask() -> Any:
    """Answer a question given in a JSON body."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadInput('The body must be a JSON object such as {"question": "…", "k": 5}.')
    return _answer(body)


@bp.get("/healthz")
def healthz() -> Any:
    """200 when a build is loaded and answering; the error body (503) when not."""
    searcher = current_app.extensions["chuchu"].searcher()
    manifest = searcher.snapshot.manifest
    return jsonify(
        {
            "status": "ok",
            "build": {"id": manifest.build_id, "built_at": manifest.built_at},
            "documents": manifest.documents,
            "passages": manifest.passages,
            "model": manifest.model,
        }
    )


def _answer(params: Any) -> Any:
    query = parse_query(params, current_app.extensions["chuchu.settings"])
    searcher, result, took_ms = answer(current_app.extensions["chuchu"], query)
    return jsonify(answer_json(query, searcher, result, took_ms))
