"""`chuchu serve` for real: gunicorn on a free port, asked over HTTP."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import MODEL_CACHE

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


def start_server(store: Path, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, CHUCHU_STORE=str(store), CHUCHU_MODEL_CACHE=str(MODEL_CACHE), CHUCHU_WORKERS="2")
    cli = Path(sys.executable).with_name("chuchu")
    with open(log, "wb") as out:
        return subprocess.Popen([str(cli), "serve", "--port", str(port)], env=env, stdout=out, stderr=out)


def wait_until_up(base: str, proc: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(base + "/", timeout=5):
                return
        except OSError:  # refused while gunicorn starts, or timed out while a worker loads
            time.sleep(0.5)
    raise AssertionError(f"chuchu serve did not answer within {seconds} s:\n{log.read_text()}")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(built_store, tmp_path_factory):
    port, log = free_port(), tmp_path_factory.mktemp("serve") / "serve.log"
    proc = start_server(built_store.root, port, log)
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
