import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chuchu.corpus.errors import BuildError
from chuchu.index.lock import LOCK, BuildLock

ROOT = Path(__file__).resolve().parents[2]
# A second process that takes the lock, says so, holds it for argv[2] seconds and lets it go.
HOLDER = """
import sys, time
from pathlib import Path
from chuchu.index.lock import BuildLock
lock = BuildLock(Path(sys.argv[1])).acquire()
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
lock.release()
print("released", flush=True)
"""


def _holder(root: Path, seconds: float) -> subprocess.Popen:
    """Start a process holding the lock on root, and return once it holds it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root), str(seconds)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    return proc


@pytest.fixture()
def holders():
    """Start holders with holders(root, seconds); any still running at the end are killed."""
    started: list[subprocess.Popen] = []

    def start(root: Path, seconds: float) -> subprocess.Popen:
        started.append(_holder(root, seconds))
        return started[-1]

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_the_lock_is_taken_and_given_back(tmp_path):
    lock = BuildLock(tmp_path / "store")
    with lock:
        assert lock.held
        holder = json.loads((tmp_path / "store" / LOCK).read_text())
        assert holder["pid"] == os.getpid() and holder["started"].endswith("+00:00")
    assert not lock.held
    assert (tmp_path / "store" / LOCK).exists(), "the file stays: the lock lives on its inode"
    with BuildLock(tmp_path / "store"):
        pass


def test_two_locks_in_one_process_exclude_each_other(tmp_path):
    with BuildLock(tmp_path), pytest.raises(BuildError, match="Another build is running"):
        BuildLock(tmp_path).acquire()


def test_a_lock_cannot_be_taken_twice_by_the_same_object(tmp_path):
    lock = BuildLock(tmp_path).acquire()
    with pytest.raises(BuildError, match="already holds"):
        lock.acquire()
    lock.release()
    lock.release()  # a second release does nothing


def test_a_second_build_fails_at_once_naming_the_first(tmp_path, holders):
    proc = holders(tmp_path, 30)
    began = time.monotonic()
    with pytest.raises(BuildError) as info:
        BuildLock(tmp_path).acquire()
    assert time.monotonic() - began < 1
    message = info.value.message
    assert message.startswith(f"Another build is running on {tmp_path} (pid {proc.pid}, started 20")
    assert message.endswith("); wait for it or pass --wait.")


def test_a_waiting_build_gets_the_lock_when_the_first_lets_go(tmp_path, holders):
    proc = holders(tmp_path, 0.5)
    with BuildLock(tmp_path).acquire(wait=True, timeout=30) as lock:
        assert lock.held
        assert proc.wait(timeout=5) == 0
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()


def test_waiting_gives_up_after_the_timeout(tmp_path, holders):
    proc = holders(tmp_path, 30)
    began = time.monotonic()
    with pytest.raises(BuildError, match=f"pid {proc.pid}.*after waiting 0.3 seconds"):
        BuildLock(tmp_path).acquire(wait=True, timeout=0.3)
    assert 0.3 <= time.monotonic() - began < 2


def test_a_killed_build_does_not_keep_the_lock(tmp_path, holders):
    proc = holders(tmp_path, 30)
    with pytest.raises(BuildError):
        BuildLock(tmp_path).acquire()
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=5) == -signal.SIGKILL
    with BuildLock(tmp_path) as lock:
        assert lock.held
