"""`chuchu serve` in its default shape, for real: one worker of many threads, within 1 GB, replaced when it dies."""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.conftest import MODEL_CACHE
from tests.integration.test_serve import free_port, get, stop, wait_until_up

pytestmark = pytest.mark.integration


def _pss_mb(pid: int) -> float:
    """Proportional set size of a process and its children, MB (shared pages counted once)."""
    pids = [pid] + [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    total = 0
    for p in pids:
        for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total / 1024


def _worker(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc")
def test_the_default_server_batches_stays_under_a_gigabyte_and_replaces_a_dead_worker(built_store, tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHUCHU_")}
    env.update(CHUCHU_STORE=str(built_store.root), CHUCHU_MODEL_CACHE=str(MODEL_CACHE))
    cli = Path(sys.executable).with_name("chuchu")
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(cli), "serve", "--port", str(port)], env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log)
        questions = ["上埠镇今年种了多少亩一季稻", "Which two township health centers in Yujiang were completed?"]
        statuses: list[int] = []

        def ask(i: int) -> None:
            status, _, body = get(f"{base}/api/search?q={urllib.parse.quote(questions[i % 2])}&k=3")
            statuses.append(status)
            assert body["passages"][0]["answer"]

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert statuses == [200] * 16
        pss = _pss_mb(proc.pid)
        assert pss < 1024, f"the whole server takes {pss:.0f} MB"

        first = _worker(proc.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                status, _, body = get(f"{base}/api/search?q={urllib.parse.quote(questions[0])}&k=1")
                if status == 200 and _worker(proc.pid) != first:
                    break
            except OSError:  # while the new worker loads
                pass
            time.sleep(0.5)
        else:
            raise AssertionError(f"no new worker answered within 90 s:\n{log.read_text()}")
        assert "12330亩" in body["passages"][0]["text"]
    finally:
        stop(proc)
