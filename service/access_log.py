"""The access log, one JSON object a line per request, and the request id that ties a line, a
response and a client's own logs together (X-Request-ID: taken from the client, or made here).

The lines go through the standard logging library to the logger ``chuchu.access``; `chuchu serve`
gives that logger python-json-logger's formatter (``configure``). The query string is not logged:
questions may be private, and the path, status and timing are what an operator needs.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import IO

from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID = "X-Request-ID"
# A client's id is kept when it is a plain token; anything else (spaces, quotes, very long) could
# forge or break log lines, so it is replaced.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

log = logging.getLogger("chuchu.access")


def install(app: Flask) -> None:
    """Give every request an id and a start time, and log it when it ends.

    Installed before the other request hooks, so the clock starts first and the line is the
    last thing written (after_request hooks run in reverse order).
    """

    @app.before_request
    def start() -> None:
        g.chuchu_started = time.perf_counter()
        sent = request.headers.get(REQUEST_ID, "")
        g.request_id = sent if _CLIENT_ID.fullmatch(sent) else uuid.uuid4().hex

    @app.after_request
    def finish(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex  # a hook before `start` failed
        response.headers[REQUEST_ID] = request_id
        started = g.get("chuchu_started")
        results = g.get("chuchu_results", [])
        manifest = g.get("chuchu_manifest")
        log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
                "build": manifest.build_id if manifest else None,
                # One answer: true or false; a batch: one per question; no question asked: null.
                "answerable": [r.answerable for r in results]
                if len(results) > 1
                else (results[0].answerable if results else None),
            },
        )
        return response


def configure(stream: IO[str] = sys.stdout) -> logging.Handler:
    """Write the access log to the stream as JSON lines, and nowhere else (called by `chuchu serve`)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False  # the root logger's plain text lines would repeat each request
    return handler


def json_formatter() -> logging.Formatter:
    """One JSON object a line: the time (ISO 8601, UTC), the message, and the request's fields."""
    return JsonFormatter("{message}", style="{", timestamp="time", json_ensure_ascii=False)
