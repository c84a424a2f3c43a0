"""What one request may cost: body size and type, JSON nesting, a time budget, a rate per client.

The body checks run before anything reads the body: Python's JSON parser recurses once per level
of nesting, and a body nested thousands deep ended in a RecursionError (a 500), so the nesting is
measured on the raw bytes first.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from chuchu.corpus.errors import BadInput
from chuchu.service.errors import BodyTooLarge, UnsupportedBody
from chuchu.service.settings import Settings

# Endpoints that read a JSON body; the others ignore any body they are sent.
JSON_BODIES = {"api.ask"}
# Endpoints that answer questions: the ones the rate limit counts.
QUESTION_ENDPOINTS = ("api.search", "api.ask", "pages.search")

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def install(app: Flask, settings: Settings) -> None:
    """Check every request's body and start its time budget; count questions per client if set."""
    # Werkzeug's own limit: it also stops a chunked body, whose length is not known in advance.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes

    @app.before_request
    def check_request() -> None:
        g.chuchu_deadline = time.monotonic() + settings.request_budget_seconds
        check_body(settings)

    # Registered after check_request, so that the cost of a batch is read from a checked body.
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.rate_limit_storage,
        headers_enabled=True,
        enabled=bool(settings.rate_limit),
    )
    app.extensions["chuchu.limiter"] = limiter
    if settings.rate_limit:
        # One count per client across the endpoints: a question costs the same wherever it is asked.
        limit = limiter.shared_limit(settings.rate_limit, scope="questions", cost=_questions_asked)
        for endpoint in QUESTION_ENDPOINTS:
            if endpoint in app.view_functions:  # Flask-Limiter counts in the wrapper it returns
                app.view_functions[endpoint] = limit(app.view_functions[endpoint])  # type: ignore[assignment]


def check_body(settings: Settings) -> None:
    """413, 415 or 400 for a body the endpoint cannot take; the raw body stays cached for the view."""
    size = request.content_length
    if size is not None and size > settings.max_body_bytes:
        raise BodyTooLarge(
            f"The body is {size} bytes; at most {settings.max_body_bytes} are accepted (CHUCHU_MAX_BODY_BYTES)."
        )
    if request.endpoint not in JSON_BODIES or request.method != "POST":
        return
    if not request.is_json:
        sent = request.mimetype or "no Content-Type"
        raise UnsupportedBody(f"Send the body as JSON, with the header Content-Type: application/json (not {sent}).")
    data = request.get_data(cache=True)
    if size is None and len(data) >= settings.max_body_bytes:
        # A chunked body announces no length; werkzeug stops reading it at the limit.
        raise BodyTooLarge(
            f"The body is over {settings.max_body_bytes} bytes, the most accepted (CHUCHU_MAX_BODY_BYTES)."
        )
    depth = json_depth(data)
    if depth > settings.max_json_depth:
        raise BadInput(
            f"The body nests objects and lists {depth} levels deep; at most {settings.max_json_depth} are allowed."
        )
    if not data.strip():
        raise BadInput('The body is empty; send a JSON object such as {"question": "…", "k": 5}.')
    try:
        body = json.loads(data)  # flask-openapi3 reads it again, through request.get_json
    except ValueError as exc:
        raise BadInput(f"The body is not valid JSON ({exc}).") from None
    if not isinstance(body, dict):
        raise BadInput('The body must be a JSON object such as {"question": "…", "k": 5}.')
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput("The body holds a lone surrogate escape (such as \\ud800), which is not text.") from None


def json_depth(data: bytes) -> int:
    """How deep objects and lists nest in a JSON text, counted without parsing it."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b"", data)):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _questions_asked() -> int:
    """A batch costs its number of questions."""
    body: Any = request.get_json(silent=True) if request.is_json else None
    questions = body.get("questions") if isinstance(body, dict) else None
    return len(questions) if isinstance(questions, list) and questions else 1


def deadline() -> float:
    """The time.monotonic() instant the current request's budget runs out."""
    return float(g.chuchu_deadline)
