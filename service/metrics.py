"""Prometheus metrics: requests and latency per endpoint and status, search stage timings,
answerable or not, and the build served (id, documents, passages, age).

Under `chuchu serve` each gunicorn worker is a process of its own, so prometheus-client runs in
its multiprocess mode: every worker writes its figures to files in PROMETHEUS_MULTIPROC_DIR (made
by service/server.py before the workers start), and /metrics, in whichever worker answers it,
adds up the files of all of them. Without that directory (tests, `chuchu ask`) the figures stay
in the app's own registry.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from chuchu.corpus.errors import IndexUnavailable
from chuchu.index.manifest import Manifest

# prometheus-client's own variable, not a setting: it decides at import how values are kept.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# Seconds: a lexical question takes milliseconds, an English one about half a second, a batch more.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class Metrics:
    """The service's metrics, in the app's registry or, under gunicorn, in the multiprocess files."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_DIR))
        # In multiprocess mode the values live in files, and /metrics reads them with a collector
        # of its own; registering them too would only fail for a second app in the same process.
        self.registry = None if self.multiprocess else CollectorRegistry()
        r = self.registry
        labels = ["endpoint", "method", "status"]
        self.requests = Counter("chuchu_http_requests", "HTTP requests answered.", labels, registry=r)
        self.latency = Histogram(
            "chuchu_http_request_duration_seconds",
            "Time to answer a request.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stages = Histogram(
            "chuchu_stage_duration_seconds",
            "Time of each stage of answering a question (Searcher.run's timings).",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "chuchu_answers", "Questions answered, by whether the first passage answers.", ["answerable"], registry=r
        )
        self.build = Gauge(
            "chuchu_build_info",
            "The build served: 1 for the live one.",
            ["build"],
            registry=r,
            multiprocess_mode="livemax",
        )
        latest: Any = {"registry": r, "multiprocess_mode": "livemostrecent"}
        self.documents = Gauge("chuchu_build_documents", "Documents in the build served.", **latest)
        self.passages = Gauge("chuchu_build_passages", "Passages in the build served.", **latest)
        self.age = Gauge("chuchu_build_age_seconds", "Seconds since the build served was made.", **latest)
        self._serving: str | None = None
        self._series: dict[tuple[Any, ...], Any] = {}

    def observe_build(self, manifest: Manifest) -> None:
        """Name the build this process serves, and set its figures."""
        if manifest.build_id != self._serving:
            if self._serving is not None:
                self.build.labels(self._serving).set(0)
            self.build.labels(manifest.build_id).set(1)
            self._serving = manifest.build_id
        self.documents.set(manifest.documents)
        self.passages.set(manifest.passages)
        built = datetime.fromisoformat(manifest.built_at)
        self.age.set(max(0.0, time.time() - built.timestamp()))

    def observe_request(self, response: Response) -> None:
        """Count the request that is ending, its latency and what its questions found."""
        rule = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
        # gunicorn takes any 3 to 20 capitals as a method: a verb a client invents would be a new
        # series in /metrics for ever, so those are counted together.
        method = request.method if request.method in _METHODS else "other"
        requests, latency = self._per_request(rule, method, response.status_code)
        requests.inc()
        started = g.get("chuchu_started")
        if started is not None:
            latency.observe(time.perf_counter() - started)
        manifest = g.get("chuchu_manifest")
        if manifest is not None and manifest.build_id != self._serving:
            self.observe_build(manifest)  # the build's age is brought up to date by each scrape
        for result in g.get("chuchu_results", ()):
            self._labelled(self.answers, "true" if result.answerable else "false").inc()
            for name, ms in result.timings_ms.items():
                self._labelled(self.stages, name.removesuffix("_ms")).observe(ms / 1000)

    # The series each request adds to, looked up by labels once per process: labels() validates and
    # locks on every call, and a question's request made eight such calls (metrics were 31 µs a
    # request warm, 0.1 ms after the search had the caches).
    def _per_request(self, rule: str, method: str, status: int) -> tuple[Any, Any]:
        key = (rule, method, status)
        series = self._series.get(key)
        if series is None:
            labels = (rule, method, str(status))
            series = self._series[key] = (self.requests.labels(*labels), self.latency.labels(*labels))
        return series

    def _labelled(self, metric: Any, label: str) -> Any:
        series = self._series.get((metric, label))
        if series is None:
            series = self._series[(metric, label)] = metric.labels(label)
        return series

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        if self.registry is not None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)


def install(app: Flask) -> Metrics:
    """Count every request of the app."""
    metrics = Metrics()
    app.extensions["chuchu.metrics"] = metrics

    @app.after_request
    def count(response: Response) -> Response:
        metrics.observe_request(response)
        return response

    return metrics


def scrape(app: Flask) -> Response:
    """/metrics: the build figures brought up to date, then everything in Prometheus' text format."""
    metrics: Metrics = app.extensions["chuchu.metrics"]
    try:
        metrics.observe_build(app.extensions["chuchu"].searcher().snapshot.manifest)
    except IndexUnavailable:
        pass  # no build yet: the request counts are still worth reading
    return Response(metrics.exposition(), mimetype=None, content_type=CONTENT_TYPE_LATEST)
