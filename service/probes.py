"""What operators and their tools ask: /healthz (alive), /readyz (a build is loaded), /metrics."""

import time
from datetime import datetime
from typing import Any

from flask import current_app, g, jsonify
from flask_openapi3 import APIBlueprint, Tag

from chuchu.corpus.errors import IndexUnavailable
from chuchu.service import schemas
from chuchu.service.answers import dump
from chuchu.service.metrics import scrape
from chuchu.service.schemas import errors

PROBES = Tag(name="operations", description="Probes and metrics.")
METRICS_RESPONSE = {
    "description": "The metrics in Prometheus' text format.",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}


def blueprint() -> APIBlueprint:
    """The probes and /metrics."""
    bp = APIBlueprint("probes", __name__, abp_tags=[PROBES], abp_responses=errors(500))

    @bp.get("/healthz", operation_id="healthz", responses={200: schemas.Alive})
    def healthz() -> Any:
        """The process is alive; 200 even while no build is loaded (that is what /readyz tells)."""
        live = current_app.extensions["chuchu"]
        try:
            manifest = live.searcher().snapshot.manifest  # a stat at most, once a build is loaded
            build = schemas.Build(id=manifest.build_id, built_at=manifest.built_at)
        except IndexUnavailable:
            build = None
        return jsonify(dump(schemas.Alive(status="ok", build=build)))

    @bp.get("/readyz", operation_id="readyz", responses={200: schemas.Ready, **errors(503)})
    def readyz() -> Any:
        """A build is loaded and questions can be answered: its id and age; 503 until then."""
        live = current_app.extensions["chuchu"]
        manifest = live.searcher().snapshot.manifest
        g.chuchu_manifest = manifest  # for the access log and the build metrics
        age = time.time() - datetime.fromisoformat(manifest.built_at).timestamp()
        ready = schemas.Ready(
            status="ready",
            build=schemas.Build(id=manifest.build_id, built_at=manifest.built_at),
            age_seconds=round(max(0.0, age), 1),
            documents=manifest.documents,
            passages=manifest.passages,
            model=manifest.model,
            unloadable_live_build=live.unloadable,
        )
        return jsonify(dump(ready))

    @bp.get("/metrics", operation_id="metrics", responses={200: METRICS_RESPONSE})
    def metrics() -> Any:
        """Requests, latency, stage timings, answerable counts and the build, in Prometheus' text format.

        Under `chuchu serve` the figures are those of every worker process.
        """
        return scrape(current_app._get_current_object())  # type: ignore[attr-defined]

    return bp
