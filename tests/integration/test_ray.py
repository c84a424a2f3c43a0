"""`chuchu build --ray ADDRESS` against a real Ray cluster that the test starts on this machine.

The head node is started with `ray start --head` (2 CPUs, its own temporary directory), the
build runs as the CLI in a child process, as a user would run it, and its index is compared
file by file and vector by vector with the session's local build of the same corpus.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import pytest

from chuchu.index import sentence_vectors
from chuchu.index.cache import EmbeddingCache
from chuchu.index.snapshot import VECTORS
from chuchu.index.store import Store
from tests.conftest import MODEL_CACHE, ROOT

pytestmark = pytest.mark.integration

RAY = Path(sys.executable).parent / "ray"
CHUCHU = Path(sys.executable).parent / "chuchu"


def _token_environment(folder: Path) -> dict[str, str]:
    """A token-protected throwaway cluster, as Ray documents it: a token of our own in a file, named by
    RAY_AUTH_TOKEN_PATH for the head and every client. Nothing comes from the home directory (Ray's
    default, ~/.ray/auth_token, exists only where a cluster was started before)."""
    token = folder / "auth_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    return {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Cluster:
    address: str
    environment: dict[str, str]  # what a client of this cluster needs: the auth mode and the token's file


@pytest.fixture(scope="module")
def cluster():
    """A one-node Ray cluster with token authentication and a token of its own, stopped after the module."""
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    auth = _token_environment(Path(temp))
    env = {**os.environ, **auth}
    port = _free_port()
    command = [str(RAY), "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false"]
    command += ["--disable-usage-stats", f"--temp-dir={temp}"]
    try:  # stopped and removed even when it fails to start
        started = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        assert started.returncode == 0, started.stdout + started.stderr
        yield Cluster(f"127.0.0.1:{port}", auth)
    finally:
        subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True, timeout=180)
        shutil.rmtree(temp, ignore_errors=True)


def _chuchu(*args: str, store: Path, cache: Path, ray: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env |= {
        "RAY_USAGE_STATS_ENABLED": "0",
        **(ray or {}),
        "CHUCHU_STORE": str(store),
        "CHUCHU_EMBEDDING_CACHE": str(cache),
    }
    env["CHUCHU_MODEL_CACHE"] = str(MODEL_CACHE)
    return subprocess.run([str(CHUCHU), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_a_build_on_ray_is_identical_to_a_local_build_and_fills_the_same_cache(
    cluster, built_store, embedder, tmp_path
):
    store, cache = tmp_path / "store", tmp_path / "cache"
    run = _chuchu("build", "--ray", cluster.address, store=store, cache=cache, ray=cluster.environment)
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

    # The sentence vectors (index.sentence_vectors) were embedded on the cluster too, the same.
    a, b = (np.load(p / sentence_vectors.VECTORS) for p in (ray_build, local_build))
    assert len(a) and np.array_equal(a, b)

    # The same cache: every vector is in it (the passages' and their sentences'), under the
    # model's fingerprint, and a local rebuild with it embeds nothing.
    with EmbeddingCache(cache, embedder.fingerprint, embedder.dimension) as c:
        assert len(c) == 136 + len(a)
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


def test_a_build_without_the_token_of_a_protected_cluster_says_how_to_pass_it(cluster, built_store, tmp_path):
    store, cache = tmp_path / "store", tmp_path / "cache"
    shutil.copytree(built_store.root, store)
    live = Store(store).live_id()
    run = _chuchu("build", "--ray", cluster.address, store=store, cache=cache)  # no RAY_AUTH_* at all
    assert run.returncode == 2, run.stdout + run.stderr[-2000:]
    assert "RAY_AUTH_MODE=token" in run.stderr and "RAY_AUTH_TOKEN_PATH=" in run.stderr, run.stderr[-2000:]
    assert Store(store).live_id() == live and not list(Store(store).builds.glob("*.partial"))
