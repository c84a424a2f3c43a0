"""`chuchu serve` for real: gunicorn on a free port, asked over HTTP, picking up new builds."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import faiss
import pytest

from chuchu.corpus.splitting import Passage
from chuchu.index.build import build_index, embedding_text
from chuchu.index.cache import EmbeddingCache
from chuchu.index.snapshot import PASSAGES, VECTORS
from chuchu.index.store import Store
from tests.conftest import MODEL_CACHE
from tests.integration.test_rebuilds import copy_corpus, edit_one_file

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, dict, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


ADMIN_TOKEN = "test-admin-token"


def start_server(store: Path, port: int, log: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        CHUCHU_STORE=str(store),
        CHUCHU_MODEL_CACHE=str(MODEL_CACHE),
        CHUCHU_WORKERS="2",
        CHUCHU_ADMIN_TOKEN=ADMIN_TOKEN,
    )
    cli = Path(sys.executable).with_name("chuchu")
    with open(log, "wb") as out:
        return subprocess.Popen([str(cli), "serve", "--port", str(port)], env=env, stdout=out, stderr=out)


def wait_until_up(base: str, proc: subprocess.Popen, log: Path, seconds: float = 120, probe: str = "/healthz") -> None:
    """Until ``probe`` answers 200: /healthz as soon as a worker answers, with or without an index;
    /readyz once a worker has the build loaded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(base + probe, timeout=5):
                return
        except OSError:  # refused while gunicorn starts, or timed out while a worker loads
            time.sleep(0.5)
    raise AssertionError(f"chuchu serve did not answer within {seconds} s:\n{log.read_text()}")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def served_store(built_store, tmp_path_factory) -> Store:
    """A store of its own holding a copy of the session's build, so publishing into it changes no other test."""
    store = Store(tmp_path_factory.mktemp("served-store"))
    live = built_store.live_path()
    shutil.copytree(live, store.builds / live.name)
    store.point(live.name)
    return store


@pytest.fixture(scope="module")
def server(served_store, tmp_path_factory):
    port, log = free_port(), tmp_path_factory.mktemp("serve") / "serve.log"
    proc = start_server(served_store.root, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log)
        yield base
    finally:
        stop(proc)


def test_serve_answers_over_http_with_gunicorn(server):
    q = urllib.parse.quote("上埠镇今年种了多少亩一季稻")
    status, headers, body = get(f"{server}/api/search?q={q}")
    assert status == 200
    assert headers.get("Server", "").startswith("gunicorn")
    assert "12330亩" in body["passages"][0]["text"]


def test_serve_takes_a_question_sent_as_raw_utf8(server):
    # What `curl 'http://…/api/search?q=上埠镇…'` sends: the URL's UTF-8 bytes, unencoded.
    host, port = server.removeprefix("http://").split(":")
    target = "/api/search?q=上埠镇今年种了多少亩一季稻&k=1".encode()
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = b""
        while chunk := s.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    answer = json.loads(body)
    assert answer["question"] == "上埠镇今年种了多少亩一季稻"
    assert "12330亩" in answer["passages"][0]["text"]


def test_serve_reports_bad_input_and_health(server):
    status, _, body = get(f"{server}/api/search?q=%20")
    assert status == 400 and "empty" in body["error"]["message"]
    status, _, body = get(f"{server}/healthz")
    assert status == 200 and body["status"] == "ok"


def test_serve_without_an_index_answers_503(tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    proc = start_server(tmp_path / "empty", port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log)
        status, _, body = get(f"{base}/api/search?q=x")
        assert status == 503 and "chuchu build" in body["error"]["message"]
    finally:
        stop(proc)


def post(url: str, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    request = urllib.request.Request(url, data=b"", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def seeded_cache(store: Store, embedder, directory: Path) -> EmbeddingCache:
    """An embedding cache holding the live build's vectors, as the build that made it would have left."""
    live = store.live_path()
    rows = [json.loads(line) for line in (live / PASSAGES).read_text(encoding="utf-8").splitlines()]
    vectors = faiss.read_index(str(live / VECTORS)).reconstruct_n(0, len(rows))
    cache = EmbeddingCache(directory, embedder.fingerprint, embedder.dimension)
    cache.put_many({cache.key(embedding_text(Passage(**row))): v for row, v in zip(rows, vectors)})
    return cache


class Hammer:
    """Threads asking the service over and over, recording when, what status and which build."""

    def __init__(self, base: str, threads: int = 2) -> None:
        q = urllib.parse.quote("上埠镇今年种了多少亩一季稻")
        self.url = f"{base}/api/search?q={q}&k=3"
        self.records: list[tuple[float, int, str | None]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, _, body = get(self.url)
                build = body.get("build", {}).get("id")
            except Exception as exc:  # a refused or dropped connection is a failed request too
                status, build = 0, repr(exc)
            self.records.append((time.monotonic(), status, build))

    def __enter__(self) -> "Hammer":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def since(self, moment: float) -> list[tuple[float, int, str | None]]:
        return [r for r in list(self.records) if r[0] >= moment]


def test_every_worker_picks_up_a_new_build_without_a_failed_request(server, served_store, embedder, tmp_path, capsys):
    old = served_store.live_id()
    corpus = copy_corpus(tmp_path / "corpus")
    edit_one_file(corpus)
    with seeded_cache(served_store, embedder, tmp_path / "cache") as cache, Hammer(server) as hammer:
        time.sleep(1)  # answering from the old build first
        summary = build_index(corpus, served_store, embedder, cache=cache)
        published = time.monotonic()
        new = summary.build_id
        deadline = published + 20
        while time.monotonic() < deadline:  # until 3 s of answers all from the new build
            time.sleep(0.5)
            recent = hammer.since(time.monotonic() - 3)
            if time.monotonic() - published > 3 and recent and all(r[2] == new for r in recent):
                break
    records = hammer.records
    failures = [r for r in records if r[1] != 200]
    assert summary.embedded == 2 and not failures, failures[:5]
    assert {r[2] for r in records} == {old, new}, "every answer names the old or the new build"
    last_old = max(r[0] for r in records if r[2] == old)
    assert last_old - published < 10, f"an answer from the old build {last_old - published:.1f} s after publishing"
    assert all(r[2] == new for r in records if r[0] > last_old)
    # Each worker says which build it serves; a forced reload finds nothing new in any of them.
    workers = {}
    for _ in range(20):
        status, body = post(f"{server}/api/admin/reload", ADMIN_TOKEN)
        assert status == 200 and body["build"]["id"] == new and body["reloaded"] is False, body
        workers[body["worker"]] = body["build"]["id"]
    with capsys.disabled():
        print(
            f"\nhot reload: {len(records)} requests, {len(failures)} failed, the last answer from the old build "
            f"{max(0.0, last_old - published):.1f} s after publishing; {len(workers)} workers seen on the new build"
        )


def test_the_admin_reload_wants_the_token_and_names_the_build(server, served_store):
    status, body = post(f"{server}/api/admin/reload")
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = post(f"{server}/api/admin/reload", "wrong")
    assert status == 403 and "missing or wrong" in body["error"]["message"]
    status, body = post(f"{server}/api/admin/reload", ADMIN_TOKEN)
    assert status == 200 and body["build"]["id"] == served_store.live_id()
