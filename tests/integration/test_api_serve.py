"""`chuchu serve` with two gunicorn workers: /metrics adds up both, the access log is JSON lines,
and the metrics directory lives only as long as the server."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chuchu.index.store import Store
from tests.conftest import MODEL_CACHE
from tests.integration.test_faults import workers
from tests.integration.test_serve import free_port, stop, wait_until_up

pytestmark = pytest.mark.integration

QUESTION = urllib.parse.quote("上埠镇今年种了多少亩一季稻")


@pytest.fixture(scope="module")
def served(built_store, tmp_path_factory):
    """The server, its log file and its temporary directory (where the metrics directory goes)."""
    root = tmp_path_factory.mktemp("api-serve")
    store = Store(root / "store")
    live = built_store.live_path()
    shutil.copytree(live, store.builds / live.name)
    store.point(live.name)
    port, log, tmp = free_port(), root / "serve.log", root / "tmp"
    tmp.mkdir()
    env = dict(os.environ, CHUCHU_STORE=str(store.root), CHUCHU_MODEL_CACHE=str(MODEL_CACHE), CHUCHU_WORKERS="2")
    env["TMPDIR"] = str(tmp)  # where `chuchu serve` makes its metrics directory
    with open(log, "wb") as out:
        cli = Path(sys.executable).with_name("chuchu")
        proc = subprocess.Popen([str(cli), "serve", "--port", str(port)], env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log)
        yield base, proc, log, tmp
    finally:
        if proc.poll() is None:
            stop(proc)


def fetch(url: str, data: bytes | None = None, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def scraped(base: str) -> dict[tuple[str, tuple], float]:
    """/metrics as {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=30) as r:
        text = r.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_the_requests_of_every_worker_and_the_log_has_a_line_each(served):
    base, _, log, tmp = served
    sent = {"search": 0}
    lock = threading.Lock()

    def ask(n: int) -> None:
        for _ in range(n):  # a new connection each time: gunicorn hands them to either worker
            status = fetch(f"{base}/api/search?q={QUESTION}&k=3")
            with lock:
                sent["search"] += status == 200

    threads = [threading.Thread(target=ask, args=(10,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    batch = json.dumps({"questions": ["上埠镇今年种了多少亩一季稻", "How many mu of rice?"]}).encode()
    assert fetch(f"{base}/api/ask", batch, {"Content-Type": "application/json", "X-Request-ID": "batch-1"}) == 200
    assert fetch(f"{base}/api/ask", b"[" * 10_000, {"Content-Type": "application/json"}) == 400
    assert sent["search"] == 40

    got = scraped(base)
    search = (("endpoint", "/api/search"), ("method", "GET"), ("status", "200"))
    assert got[("chuchu_http_requests_total", search)] == 40, "every worker's requests are counted"
    assert got[("chuchu_http_requests_total", (("endpoint", "/api/ask"), ("method", "POST"), ("status", "400")))] == 1
    assert got[("chuchu_answers_total", (("answerable", "true"),))] >= 41
    assert got[("chuchu_stage_duration_seconds_count", (("stage", "dense"),))] == 42
    assert got[("chuchu_build_passages", ())] > 100
    directories = list(tmp.glob("chuchu-metrics-*"))
    assert len(directories) == 1
    pids = {path.stem.rsplit("_", 1)[-1] for path in directories[0].glob("counter_*.db")}
    assert len(pids) == 2, f"both workers wrote their counts: {pids}"

    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.startswith("{")]
    searches = [line for line in lines if line["path"] == "/api/search"]
    assert len(searches) == 40 and all(line["status"] == 200 and line["answerable"] is True for line in searches)
    (batch_line,) = [line for line in lines if line["request_id"] == "batch-1"]
    assert batch_line["answerable"] == [True, True] and batch_line["build"] == searches[0]["build"]


def test_a_worker_that_leaves_takes_nothing_from_the_workers_that_stay(served):
    """gunicorn forks its workers inside `serve()`: a worker leaving once unwound that frame and
    removed the metrics directory of the whole server, so the other worker's next new series (a
    request in flight at SIGTERM) and every request of the replacement worker were 500s."""
    base, proc, log, tmp = served
    [directory] = tmp.glob("chuchu-metrics-*")
    before = workers(proc.pid)
    assert len(before) == 2, before
    loaded = log.read_text(encoding="utf-8").count("chuchu.index.live: serving build")
    os.kill(before[0], signal.SIGTERM)  # what gunicorn itself does to a worker on HUP or max_requests
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = workers(proc.pid)
        text = log.read_text(encoding="utf-8")
        if before[0] not in now and len(now) == 2 and text.count("chuchu.index.live: serving build") > loaded:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no replacement worker answered within 120 s:\n{log.read_text(encoding='utf-8')}")

    assert directory.is_dir(), "the leaving worker removed the server's metrics directory"
    # New connections each: the workers share them. Series no request made before (400s), then answers.
    assert [fetch(f"{base}/api/search?q=") for _ in range(10)] == [400] * 10
    assert [fetch(f"{base}/api/search?q={QUESTION}&k=3") for _ in range(10)] == [200] * 10
    got = scraped(base)
    search = (("endpoint", "/api/search"), ("method", "GET"))
    assert got[("chuchu_http_requests_total", (*search, ("status", "400")))] == 10
    assert got[("chuchu_http_requests_total", (*search, ("status", "200")))] == 50, "the left worker's count stays"


def test_the_metrics_directory_is_removed_when_the_server_stops(served):
    _, proc, _, tmp = served
    stop(proc)
    assert not list(tmp.glob("chuchu-metrics-*"))
