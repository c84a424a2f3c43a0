"""The JSON API: GET /api/search, POST /api/ask (one question or a batch), POST /api/admin/reload.

The request models depend on the settings' limits, so the blueprint is made per app. (No
``from __future__ import annotations`` here: flask-openapi3 reads each view's parameter
annotations, and these name models made inside ``blueprint``.)
"""

import hmac
import os
from typing import Any

import orjson
from flask import Response, current_app, jsonify, request
from flask_openapi3 import APIBlueprint, Tag

from chuchu.corpus.errors import Forbidden
from chuchu.service import schemas
from chuchu.service.answers import answer, answer_json, answer_many, dump
from chuchu.service.limits import deadline
from chuchu.service.queries import Limits, request_models, to_queries
from chuchu.service.schemas import errors
from chuchu.service.settings import Settings

QUESTIONS = Tag(name="questions", description="Ask, and get passages with exact citations.")
ADMIN = Tag(name="admin", description="Operating the service.")


def blueprint(settings: Settings) -> APIBlueprint:
    """The API's endpoints, checking requests against the models of these settings' limits."""
    models = request_models(Limits.of(settings))
    bp = APIBlueprint("api", __name__, abp_tags=[QUESTIONS], abp_responses=errors(500))
    asked = errors(400, 404, 429, 503)

    @bp.get("/api/search", operation_id="search", responses={200: schemas.Answer, **asked})
    def search(query: models.search) -> Any:  # type: ignore[name-defined]
        """Answer a question given in the query string.

        The answer names the passages that answer it, each with its file, paragraph and offsets.
        """
        return _answer_one(to_queries(query)[0])

    @bp.post("/api/ask", operation_id="ask", responses={200: schemas.AskResult, **asked, **errors(413, 415)})
    def ask(body: models.ask) -> Any:  # type: ignore[name-defined]
        """Answer a question, or several, given in a JSON body.

        `{"question": "…"}` is answered as GET /api/search answers; `{"questions": ["…", …]}` gets
        `{"answers": [...]}`, each as the single question's answer, all from one build.
        """
        queries = to_queries(body)
        if isinstance(body.root, models.many):
            return _json(answer_many(current_app.extensions["chuchu"], queries, deadline()))
        return _answer_one(queries[0])

    @bp.post(
        "/api/admin/reload",
        operation_id="reload",
        tags=[ADMIN],
        security=[{"admin": []}],
        responses={200: schemas.Reloaded, **errors(403, 503)},
    )
    def reload() -> Any:
        """Load the newly published build now, in the worker that receives this request.

        The other workers pick it up by themselves within CHUCHU_RELOAD_SECONDS. Needs the header
        `Authorization: Bearer <CHUCHU_ADMIN_TOKEN>`.
        """
        _check_admin_token(current_app.extensions["chuchu.settings"].admin_token)
        live = current_app.extensions["chuchu"]
        before = live.build_id
        manifest = live.reload().snapshot.manifest
        reloaded = schemas.Reloaded(
            reloaded=manifest.build_id != before,
            build=schemas.Build(id=manifest.build_id, built_at=manifest.built_at),
            previous=before,
            worker=os.getpid(),
        )
        return jsonify(dump(reloaded))

    return bp


def _answer_one(query: Any) -> Any:
    searcher, result, took_ms = answer(current_app.extensions["chuchu"], query)
    return _json(answer_json(query, searcher, result, took_ms))


def _json(answer: dict[str, Any]) -> Response:
    """An answer as jsonify writes it (compact, UTF-8 unescaped, a final newline), written by orjson:
    json.dumps took 24 µs of a 5-passage answer warm (0.1 ms after the search), orjson 3.6 µs."""
    return current_app.response_class(orjson.dumps(answer) + b"\n", mimetype="application/json")


def _check_admin_token(token: str) -> None:
    if not token:
        raise Forbidden("The admin endpoints are disabled; set CHUCHU_ADMIN_TOKEN to enable them.")
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    # compare_digest: the time taken must not tell how much of a guessed token was right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
        raise Forbidden("The admin token is missing or wrong; send it as the header 'Authorization: Bearer <token>'.")
