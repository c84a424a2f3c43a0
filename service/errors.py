"""The service's errors, and the one place every error becomes a response.

The error model is ``chuchu.corpus.errors``: each class carries its HTTP status. The service adds
what only an HTTP request can get wrong::

    ChuchuError (500)                     chuchu.corpus.errors
    ├── BadInput (400) … BuildError       chuchu.corpus.errors
    ├── BodyTooLarge (413)                the body is over CHUCHU_MAX_BODY_BYTES
    ├── UnsupportedBody (415)             the body is not JSON
    └── OverBudget (503)                  the request ran out of CHUCHU_REQUEST_BUDGET_SECONDS

Werkzeug's HTTP errors (404 no such route, 405 wrong method, 413 from its own body limit, 429
from Flask-Limiter) and anything unexpected (500) get the same body, ``schemas.Error``: JSON for
the API and the probes, the error page for the web pages.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from chuchu.corpus.errors import ChuchuError

log = logging.getLogger(__name__)

# Paths answered in JSON; everything else is a web page.
JSON_PATHS = ("/api/", "/healthz", "/readyz", "/metrics", "/openapi")


class BodyTooLarge(ChuchuError):
    """The request body is larger than the service accepts."""

    status = 413
    code = "body_too_large"


class UnsupportedBody(ChuchuError):
    """The request body is not in a format the endpoint reads."""

    status = 415
    code = "unsupported_media_type"


class OverBudget(ChuchuError):
    """The request used up its time budget."""

    status = 503
    code = "over_budget"


# Werkzeug's descriptions are generic; these say what to do.
_HTTP_MESSAGES = {
    404: "There is no such page or endpoint; /openapi.json lists the API, and / is the search page.",
    405: "{method} is not allowed on {path}; it takes {allowed}.",
    413: "The body is larger than the service accepts; send a smaller one.",
    429: "Too many requests from this client (the limit is {description}); wait a little and try again.",
}


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """The one JSON shape of every API error."""
    return {"error": {"status": status, "code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: Any = None) -> Any:
    """The error as JSON for the API and the probes, as the error page for the web pages."""
    if request.path.startswith(JSON_PATHS):
        response = jsonify(error_body(status, code, message))
    else:
        page = render_template("error.html", status=status, code=code, message=message)
        response = Response(page, mimetype="text/html")
    response.status_code = status
    for name, value in headers or ():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def register(app: Flask) -> None:
    """Render every error of the app in the one shape."""
    app.register_error_handler(ChuchuError, _chuchu_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def _chuchu_error(exc: ChuchuError) -> Any:
    return error_response(exc.status, exc.code, exc.message)


def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    code = (exc.name or "error").lower().replace(" ", "_")
    headers = exc.get_headers()
    allowed = ", ".join(sorted(m.strip() for k, v in headers if k == "Allow" for m in v.split(",")))
    template = _HTTP_MESSAGES.get(status)
    message = (
        template.format(method=request.method, path=request.path, allowed=allowed, description=exc.description)
        if template
        else exc.description or exc.name
    )
    return error_response(status, code, message, headers)


def _unexpected_error(exc: Exception) -> Any:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "Something went wrong on our side; the error has been logged.")
