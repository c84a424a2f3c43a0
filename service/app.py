"""The Flask application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from chuchu.corpus.errors import ChuchuError
from chuchu.index.embedder import load_embedder
from chuchu.index.live import LiveIndex
from chuchu.index.store import Store
from chuchu.service.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, live: LiveIndex | None = None) -> Flask:
    """Build the app; `live` lets tests share one loaded model between apps."""
    settings = settings or Settings.load()
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["chuchu"] = live or live_index(settings)
    app.extensions["chuchu.settings"] = settings

    from chuchu.service import api, pages

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_error_handler(ChuchuError, _chuchu_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def live_index(settings: Settings) -> LiveIndex:
    """The live index the settings describe; the model loads on first use."""
    return LiveIndex(
        Store(settings.store),
        lambda: load_embedder(settings.model, settings.model_cache),
        check_every=settings.reload_seconds,
    )


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """The one JSON shape of every API error."""
    return {"error": {"status": status, "code": code, "message": message}}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def _respond(status: int, code: str, message: str) -> Any:
    if _wants_json():
        return jsonify(error_body(status, code, message)), status
    return render_template("error.html", status=status, message=message), status


def _chuchu_error(exc: ChuchuError) -> Any:
    return _respond(exc.status, exc.code, exc.message)


def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    code = (exc.name or "error").lower().replace(" ", "_")
    return _respond(status, code, exc.description or exc.name)


def _unexpected_error(exc: Exception) -> Any:
    log.exception("unexpected error on %s", request.path)
    return _respond(500, "internal_error", "Something went wrong on our side; the error has been logged.")
