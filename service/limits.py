"""What one request may cost: body size and type, JSON nesting, a time budget, a rate per client;
and what it must be to be read at all: a query string of UTF-8 text, a body that arrives whole.

The body checks run before anything reads the body: Python's JSON parser recurses once per level
of nesting, and a body nested thousands deep ended in a RecursionError (a 500), so the nesting is
measured first, on the text as the parser will decode it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException

from chuchu.corpus.errors import BadInput
from chuchu.service.errors import BodyTooLarge, UnsupportedBody
from chuchu.service.settings import Settings

# Endpoints that read a JSON body; the others ignore any body they are sent.
JSON_BODIES = {"api.ask"}
# Endpoints that answer questions: the ones the rate limit counts.
QUESTION_ENDPOINTS = ("api.search", "api.ask", "pages.search")

# A string, or an unterminated one up to the end of the body. Matching one always succeeds from
# its opening quote, so the scan is linear: a pattern that had to find the closing quote was
# tried again from every later quote of an unterminated string, and 128 KB of \" took 80 s.
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
# Where the WSGI environ notes what _readable took away from a request, for check_request to refuse.
BAD_REQUEST = "chuchu.bad_request"


def install(app: Flask, settings: Settings) -> None:
    """Check every request's query string, Host and body, and start its time budget; count
    questions per client if set."""
    # Werkzeug's own limit: it also stops a chunked body, whose length is not known in advance.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.wsgi_app = _readable(app)  # type: ignore[method-assign,assignment]

    @app.before_request
    def check_request() -> None:
        g.chuchu_deadline = time.monotonic() + settings.request_budget_seconds
        problem = request.environ.get(BAD_REQUEST)
        if problem:
            raise BadInput(problem)
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
    try:
        data = request.get_data(cache=True)
    except HTTPException:
        raise  # werkzeug's 413 for a chunked body over the limit, its 400 for a client gone mid-body
    except Exception as exc:
        # The server could not read the body as it was framed (gunicorn: a chunk size that is not
        # hexadecimal, a chunk without its CRLF); each server raises its own classes, and gunicorn's
        # are not OSError. Uncaught, it was a 500 for the client's mistake.
        raise BadInput(
            f"The body could not be read ({type(exc).__name__}); send it whole, with a correct "
            "Content-Length or chunked encoding."
        ) from None
    if size is None and len(data) >= settings.max_body_bytes:
        # A chunked body announces no length; werkzeug stops reading it at the limit.
        raise BodyTooLarge(
            f"The body is over {settings.max_body_bytes} bytes, the most accepted (CHUCHU_MAX_BODY_BYTES)."
        )
    if size is not None and len(data) < size:
        # gunicorn hands over what came before the client closed its side: a prefix that happens
        # to be valid JSON would be answered as if it were the whole question.
        raise BadInput(
            f"The body ended after {len(data)} of the {size} bytes its Content-Length announced; send it whole."
        )
    try:
        text = json_text(data)
    except UnicodeDecodeError as exc:
        raise BadInput(f"The body is not valid JSON ({exc}).") from None
    depth = json_depth(text)
    if depth > settings.max_json_depth:
        raise BadInput(
            f"The body nests objects and lists {depth} levels deep; at most {settings.max_json_depth} are allowed."
        )
    if not text.strip():
        raise BadInput('The body is empty; send a JSON object such as {"question": "…", "k": 5}.')
    try:
        body = json.loads(text)  # flask-openapi3 reads it again, through request.get_json: the same text
    except ValueError as exc:
        raise BadInput(f"The body is not valid JSON ({exc}).") from None
    if not isinstance(body, dict):
        raise BadInput('The body must be a JSON object such as {"question": "…", "k": 5}.')
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput("The body holds a lone surrogate escape (such as \\ud800), which is not text.") from None


def json_text(data: bytes) -> str:
    """A body decoded as json.loads decodes bytes: UTF-8, or UTF-16 or UTF-32 guessed from NUL bytes.

    The nesting must be counted in this text, not in the bytes: in UTF-16 a character inside a
    string can hold the byte of a quote, and a 12 KB body counted as bytes hid 3,000 levels of
    brackets from the check (a RecursionError, the old 500, again).
    """
    return data.decode(json.detect_encoding(data), "surrogatepass")


def json_depth(data: bytes | str) -> int:
    """How deep objects and lists nest in a JSON text, counted without parsing it."""
    text = json_text(data) if isinstance(data, bytes) else data
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def query_problem(query_string: bytes) -> str | None:
    """What is wrong with a query string that is not UTF-8 text once percent-decoded, or None.

    Werkzeug decodes the raw bytes strictly (a UnicodeDecodeError, a 500 even on the error page,
    which shows the question again) and keeps a percent-encoded invalid byte as the text "%FF"
    (a question nobody asked); either way the client's encoding is wrong, so both are refused.
    """
    for part in query_string.split(b"&"):
        try:
            unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError as exc:
            return (
                f"The query string is not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                "percent-encode the UTF-8 bytes of the question, as a browser does."
            )
    return None


def _readable(app: Flask) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """The app behind the checks a request must pass to be read at all: a query string of UTF-8
    text, and a Host header werkzeug can bind the URL map to.

    What fails is taken away before Flask sees it, and noted for check_request to refuse with a
    400: the way to that 400 goes through the error page, which repeats the question, links the
    language switch back to the same URL and builds every link from the URL map, so a query string
    it cannot decode, or a host name with a label over 63 characters (no URL map, no link), made
    the error page itself fail, a 500.
    """
    wsgi_app = app.wsgi_app

    def checked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # PEP 3333: the raw bytes arrive as a latin-1 str.
        problem = query_problem(environ.get("QUERY_STRING", "").encode("latin-1", "replace"))
        if problem:
            environ["QUERY_STRING"] = ""
        try:
            app.create_url_adapter(app.request_class(environ))
        except HTTPException:  # werkzeug's BadHost
            environ.pop("HTTP_HOST", None)  # werkzeug falls back on the server's own address
            problem = problem or "The Host header is not a valid host name; send this service's name or address."
        if problem:
            environ[BAD_REQUEST] = problem
        return wsgi_app(environ, start_response)

    return checked


def _questions_asked() -> int:
    """A batch costs its number of questions."""
    body: Any = request.get_json(silent=True) if request.is_json else None
    questions = body.get("questions") if isinstance(body, dict) else None
    return len(questions) if isinstance(questions, list) and questions else 1


def deadline() -> float:
    """The time.monotonic() instant the current request's budget runs out."""
    return float(g.chuchu_deadline)
