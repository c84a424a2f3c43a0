"""What operators see: the probes, the request id, the JSON access log and the Prometheus metrics."""

import io
import json
import logging
import subprocess
import sys
import textwrap

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chuchu.index.live import LiveIndex
from chuchu.index.store import Store
from chuchu.service import access_log
from chuchu.service.app import create_app
from chuchu.service.settings import Settings


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """The metrics' samples by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_healthz_and_readyz_before_and_after_a_build(tmp_path, fake_store, fake_embedder):
    empty = create_app(Settings.load({}, store=tmp_path), LiveIndex(Store(tmp_path), lambda: fake_embedder))
    client = empty.test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["error"]["code"] == "index_missing"
    built = create_app(Settings.load({}, store=fake_store.root), LiveIndex(fake_store, lambda: fake_embedder))
    body = built.test_client().get("/readyz").get_json()
    assert body["status"] == "ready" and body["build"]["id"] == fake_store.live_id()
    assert 0 <= body["age_seconds"] < 600 and body["passages"] == 3 and body["documents"] == 2
    assert body["unloadable_live_build"] is None


def test_the_request_id_is_taken_from_the_client_or_made(fake_client):
    made = fake_client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32 and made != fake_client.get("/healthz").headers["X-Request-ID"]
    assert fake_client.get("/healthz", headers={"X-Request-ID": "client-42.a"}).headers["X-Request-ID"] == "client-42.a"
    forged = fake_client.get("/healthz", headers={"X-Request-ID": 'x" "status": 200'}).headers["X-Request-ID"]
    assert forged != 'x" "status": 200' and len(forged) == 32
    error = fake_client.get("/api/search", headers={"X-Request-ID": "on-errors-too"})
    assert error.status_code == 400 and error.headers["X-Request-ID"] == "on-errors-too"


@pytest.fixture()
def access_lines():
    """The access log as `chuchu serve` writes it, caught in a string."""
    stream = io.StringIO()
    logger = logging.getLogger("chuchu.access")
    saved = logger.handlers[:], logger.level, logger.propagate
    access_log.configure(stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.handlers[:], logger.level, logger.propagate = saved


def test_the_access_log_is_one_json_object_a_line(fake_client, fake_store, access_lines):
    fake_client.get("/api/search", query_string={"q": "甲镇一季稻", "k": 1}, headers={"X-Request-ID": "r1"})
    fake_client.post("/api/ask", json={"questions": ["甲镇", "甲镇一季稻的产值是多少亿元?"]})
    fake_client.get("/api/search", query_string={"q": ""})
    ok, batch, bad = access_lines()
    assert {"time", "message", "request_id", "method", "path", "status", "latency_ms", "build", "answerable"} <= set(ok)
    assert (ok["request_id"], ok["method"], ok["path"], ok["status"]) == ("r1", "GET", "/api/search", 200)
    assert ok["build"] == fake_store.live_id() and ok["answerable"] is True and ok["latency_ms"] >= 0
    assert "甲镇" not in json.dumps(ok, ensure_ascii=False), "the question (the query string) is not logged"
    assert batch["answerable"] == [True, False] and batch["path"] == "/api/ask"
    assert (bad["status"], bad["answerable"], bad["build"]) == (400, None, None)


def test_metrics_count_requests_stages_answers_and_the_build(fake_client, fake_store):
    fake_client.get("/api/search", query_string={"q": "甲镇一季稻"})
    fake_client.get("/api/search", query_string={"q": "甲镇一季稻的产值是多少亿元?"})
    fake_client.post("/api/ask", json={"questions": ["甲镇", "乙县"]})
    fake_client.get("/api/search", query_string={"q": ""})
    fake_client.get("/api/nowhere")
    response = fake_client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    got = samples(response.get_data(as_text=True))
    requests = "chuchu_http_requests_total"
    assert got[(requests, (("endpoint", "/api/search"), ("method", "GET"), ("status", "200")))] == 2
    assert got[(requests, (("endpoint", "/api/search"), ("method", "GET"), ("status", "400")))] == 1
    assert got[(requests, (("endpoint", "/api/ask"), ("method", "POST"), ("status", "200")))] == 1
    assert got[(requests, (("endpoint", "(unmatched)"), ("method", "GET"), ("status", "404")))] == 1
    latency = (("endpoint", "/api/search"), ("method", "GET"), ("status", "200"))
    assert got[("chuchu_http_request_duration_seconds_count", latency)] == 2
    assert got[("chuchu_answers_total", (("answerable", "true"),))] == 3
    assert got[("chuchu_answers_total", (("answerable", "false"),))] == 1
    for stage in ("dense", "lexical", "fusion", "answer"):
        assert got[("chuchu_stage_duration_seconds_count", (("stage", stage),))] == 4
    assert got[("chuchu_build_info", (("build", fake_store.live_id()),))] == 1
    assert got[("chuchu_build_passages", ())] == 3 and got[("chuchu_build_documents", ())] == 2
    assert 0 <= got[("chuchu_build_age_seconds", ())] < 600


def test_metrics_answer_without_an_index_too(tmp_path, fake_embedder):
    app = create_app(Settings.load({}, store=tmp_path), LiveIndex(Store(tmp_path), lambda: fake_embedder))
    response = app.test_client().get("/metrics")
    assert response.status_code == 200 and "chuchu_http_requests_total" in response.get_data(as_text=True)


WORKER = textwrap.dedent(
    """
    import sys
    from flask import Flask, Response
    from chuchu.service.metrics import Metrics
    metrics = Metrics()
    assert metrics.multiprocess
    app = Flask(__name__)
    with app.test_request_context("/api/search"):  # no such route here: counted as (unmatched)
        for _ in range(int(sys.argv[1])):
            metrics.observe_request(Response(status=200))
    """
)


def test_in_multiprocess_mode_metrics_add_up_every_process(tmp_path, monkeypatch):
    """What gunicorn's workers do: each process counts into the shared directory, any one reports all."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for count in (3, 4):
        subprocess.run([sys.executable, "-c", WORKER, str(count)], check=True)
    reader = textwrap.dedent(
        """
        from chuchu.service.metrics import Metrics
        print(Metrics().exposition().decode())
        """
    )
    text = subprocess.run([sys.executable, "-c", reader], check=True, capture_output=True, text=True).stdout
    labels = (("endpoint", "(unmatched)"), ("method", "GET"), ("status", "200"))
    assert samples(text)[("chuchu_http_requests_total", labels)] == 7
