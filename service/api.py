"""The JSON API: /api/search, /api/ask, /healthz and /api/admin/reload."""

from __future__ import annotations

import hmac
import os
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from chuchu.corpus.errors import BadInput, Forbidden
from chuchu.service.answers import answer, answer_json
from chuchu.service.queries import parse_query

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


@bp.post("/api/admin/reload")
def reload() -> Any:
    """Load the newly published build now, in the worker that receives this request.

    The other workers pick it up by themselves within CHUCHU_RELOAD_SECONDS.
    """
    _check_admin_token(current_app.extensions["chuchu.settings"].admin_token)
    live = current_app.extensions["chuchu"]
    before = live.build_id
    manifest = live.reload().snapshot.manifest
    return jsonify(
        {
            "reloaded": manifest.build_id != before,
            "build": {"id": manifest.build_id, "built_at": manifest.built_at},
            "previous": before,
            "worker": os.getpid(),
        }
    )


def _check_admin_token(token: str) -> None:
    if not token:
        raise Forbidden("The admin endpoints are disabled; set CHUCHU_ADMIN_TOKEN to enable them.")
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    # compare_digest: the time taken must not tell how much of a guessed token was right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
        raise Forbidden("The admin token is missing or wrong; send it as the header 'Authorization: Bearer <token>'.")


def _answer(params: Any) -> Any:
    query = parse_query(params, current_app.extensions["chuchu.settings"])
    searcher, result, took_ms = answer(current_app.extensions["chuchu"], query)
    return jsonify(answer_json(query, searcher, result, took_ms))
