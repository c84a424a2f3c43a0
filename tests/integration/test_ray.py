"""`chuchu build --ray ADDRESS` against a real Ray cluster that the test starts on this machine.

The head node is started with `ray start --head` (2 CPUs, its own temporary directory), the
build runs as the CLI in a child process, as a user would run it, and its index is compared
file by file and vector by vector with the session's local build of the same corpus.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import faiss
import numpy as np
import pytest

from index.cache import EmbeddingCache
from index.snapshot import VECTORS
from index.store import Store
from tests.conftest import MODEL_CACHE, ROOT

pytestmark = pytest.mark.integration

RAY = Path(sys.executable).parent / "ray"
CHUCHU = Path(sys.executable).parent / "chuchu"
# Ray 2.5x starts clusters with token authentication; a client says so and finds the token
# (~/.ray/auth_token, written by `ray start`).
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """A one-node Ray cluster, stopped after the module."""
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    env = {**os.environ, **RAY_ENV}
    port = _free_port()
    command = [str(RAY), "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false"]
    command += ["--disable-usage-stats", f"--temp-dir={temp}"]
    started = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True, timeout=180)
        shutil.rmtree(temp, ignore_errors=True)


def _chuchu(*args: str, store: Path, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **RAY_ENV, "CHUCHU_STORE": str(store), "CHUCHU_EMBEDDING_CACHE": str(cache)}
    env["CHUCHU_MODEL_CACHE"] = str(MODEL_CACHE)
    return subprocess.run([str(CHUCHU), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_a_build_on_ray_is_identical_to_a_local_build_and_fills_the_same_cache(
    cluster, built_store, embedder, tmp_path
):
    store, cache = tmp_path / "store", tmp_path / "cache"
    run = _chuchu("build", "--ray", cluster, store=store, cache=cache)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "136 passages embedded, 0 reused" in run.stdout, run.stdout
    ray_build, local_build = Store(store).live_path(), built_store.live_path()

    # Everything but the vectors is made locally in both, from the same corpus.
    for name in ("passages.jsonl", "documents.jsonl", "lexical.npz", "context.npz", "duplicates.json"):
        assert (ray_build / name).read_bytes() == (local_build / name).read_bytes(), name
    # The vectors came from the cluster's actors: one row per batch, the batches a local build
    # embeds, so the model saw the same padding and the floats are the same to the bit.
    a, b = (faiss.read_index(str(p / VECTORS)) for p in (ray_build, local_build))
    assert np.array_equal(a.reconstruct_n(0, a.ntotal), b.reconstruct_n(0, b.ntotal))

    # The same cache: every vector is in it, under the model's fingerprint, and a local rebuild
    # with it embeds nothing.
    with EmbeddingCache(cache, embedder.fingerprint, embedder.dimension) as c:
        assert len(c) == 136
    again = _chuchu("build", store=store, cache=cache)
    assert again.returncode == 0, again.stderr
    assert "0 passages embedded, 136 reused" in again.stdout, again.stdout


def test_an_unreachable_cluster_is_a_clear_error_and_the_live_build_stays(built_store, tmp_path):
    store, cache = tmp_path / "store", tmp_path / "cache"
    shutil.copytree(built_store.root, store)
    live = Store(store).live_id()
    run = _chuchu("build", "--ray", f"127.0.0.1:{_free_port()}", store=store, cache=cache)
    assert run.returncode != 0
    assert "Cannot reach the Ray cluster at 127.0.0.1:" in run.stderr, run.stderr[-2000:]
    assert Store(store).live_id() == live and not list(Store(store).builds.glob("*.partial"))
