"""Faults, with the real model, real builds and real processes: nothing lost, shown by what survives.

- `chuchu build` killed with SIGKILL at random moments: the live build keeps answering, the
  pointer only ever names complete builds that pass their checks, the next build runs.
- each file of the live build truncated, emptied or altered, and its manifest edited: refused by
  name, the service falls back to (or keeps) the last good build, `chuchu build` replaces it.
- the disk filling up during a build (a small tmpfs, or the file size limit): a clear message,
  the live build untouched, nothing half-written left.
- `chuchu serve` started on a damaged build, repaired while it runs, killed with SIGKILL and
  restarted, and stopped with SIGTERM while a request is in flight.

CHUCHU_SOAK_TRIALS (default 3) sets how many builds are killed; CHUCHU_SOAK_SEED (default 0)
the random moments. `make soak` runs 10 trials or more.
"""

import json
import logging
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from chuchu.corpus.errors import BuildError
from chuchu.index.build import build_index
from chuchu.index.cache import EmbeddingCache
from chuchu.index.default_model import ensure_default_model
from chuchu.index.lazy_embedder import folder_identity, remember
from chuchu.index.live import LiveIndex
from chuchu.index.lock import BuildLock
from chuchu.index.manifest import MANIFEST
from chuchu.index.search import Searcher
from chuchu.index.snapshot import DATA_FILES, PASSAGES, VECTORS, read_snapshot
from chuchu.index.store import PARTIAL, POINTER, Store
from chuchu.service.app import create_app
from chuchu.service.settings import Settings
from tests import soak
from tests.conftest import MODEL_CACHE
from tests.integration.test_rebuilds import copy_corpus
from tests.integration.test_serve import free_port, get, seeded_cache, wait_until_up

pytestmark = [pytest.mark.integration, pytest.mark.soak]

CLI = Path(sys.executable).with_name("chuchu")
QUESTION = "上埠镇今年种了多少亩一季稻"
ANSWER = "12330亩"
TRIALS = soak.TRIALS
SEED = soak.SEED


@dataclass(frozen=True)
class Warm:
    """A copy of the corpus and an embedding cache holding all its vectors, with the model remembered.

    `chuchu build` over them loads no model: a build takes about a second, most of it Python.
    """

    corpus: Path
    cache: Path


@pytest.fixture(scope="module")
def warm(built_store, embedder, tmp_path_factory) -> Warm:
    root = tmp_path_factory.mktemp("faults")
    with seeded_cache(built_store, embedder, root / "cache"):
        pass
    remember(root / "cache", folder_identity("default", ensure_default_model(MODEL_CACHE)), embedder)
    return Warm(copy_corpus(root / "corpus"), root / "cache")


def environment(store: Path, cache: Path) -> dict[str, str]:
    return dict(
        os.environ, CHUCHU_STORE=str(store), CHUCHU_EMBEDDING_CACHE=str(cache), CHUCHU_MODEL_CACHE=str(MODEL_CACHE)
    )


def chuchu_build(warm: Warm, store: Path, cache: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), "build", "--corpus", str(warm.corpus)],
        env=environment(store, cache or warm.cache),
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def answers(searcher: Searcher) -> bool:
    """Whether a build answers the question the corpus answers."""
    return ANSWER in searcher.search(QUESTION, 3)[0].passage.text


def build_twice(warm: Warm, store: Store, embedder) -> tuple[str, str]:
    """Two published builds of the corpus, with no embedding: the older one, and the live one."""
    with EmbeddingCache(warm.cache, embedder.fingerprint, embedder.dimension) as cache:
        older = build_index(warm.corpus, store, embedder, cache=cache).build_id
        live = build_index(warm.corpus, store, embedder, cache=cache).build_id
    return older, live


# 1. Builds killed with SIGKILL ---------------------------------------------------------------


def test_builds_killed_with_sigkill_never_publish_a_partial_build(warm, tmp_path, embedder, capsys):
    store = Store(tmp_path / "store")
    with EmbeddingCache(warm.cache, embedder.fingerprint, embedder.dimension) as cache:
        build_index(warm.corpus, store, embedder, cache=cache)
    running = LiveIndex(store, lambda: embedder, check_every=0)  # a service over the store, looking every time
    assert answers(running.searcher())
    # How long whole builds take: cold (an empty embedding cache: the model loads and embeds
    # every passage) and warm; the kills fall anywhere within them.
    began = time.perf_counter()
    assert chuchu_build(warm, store.root, tmp_path / "cold-cache").returncode == 0
    cold_seconds = time.perf_counter() - began
    began = time.perf_counter()
    assert chuchu_build(warm, store.root).returncode == 0
    warm_seconds = time.perf_counter() - began

    rng = random.Random(SEED)
    rows = []
    for trial in range(TRIALS):
        cold = trial % 2 == 1  # warm first: with the default 3 trials, one cold build (the slow kind)
        cache = tmp_path / f"cold-cache-{trial}" if cold else warm.cache
        delay = rng.uniform(0.05, 0.95) * (cold_seconds if cold else warm_seconds)
        before = store.live_id()
        proc = subprocess.Popen(
            [str(CLI), "build", "--corpus", str(warm.corpus)],
            env=environment(store.root, cache),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.kill()
        code = proc.wait(30)
        live = store.live_id()
        # The pointer names a complete build: renamed from .partial, every file as its manifest
        # records, loading and answering; and so does every published build.
        assert live is not None and not live.endswith(PARTIAL) and (store.builds / live).is_dir()
        for build in store.list_builds():
            read_snapshot(build.path)
        assert answers(Searcher(read_snapshot(store.live_path()), embedder))
        assert answers(running.searcher()) and running.build_id == live, "the running service answers from it"
        with BuildLock(store.root):  # not held: the kernel dropped the killed build's flock
            pass
        partial = len(list(store.builds.glob("*" + PARTIAL)))
        kept = "-"
        if cold and cache.exists():  # the embedding cache the killed build was filling is whole
            with EmbeddingCache(cache, embedder.fingerprint, embedder.dimension) as filled:
                kept = str(len(filled))
            assert not list(cache.glob("*.corrupt")), "the killed build left a damaged embedding cache"
        rows.append((trial, "cold" if cold else "warm", delay, code, live != before, partial, kept))

    done = chuchu_build(warm, store.root)
    assert done.returncode == 0, done.stderr
    if rows and rows[-1][5]:  # the last kill left an unfinished build: this build swept it
        assert "removed unfinished builds of killed runs" in done.stdout
    assert not list(store.builds.glob("*" + PARTIAL)) and not list(store.root.glob(f".{POINTER}.*"))
    assert done.stdout.startswith(f"built {store.live_id()}") and answers(running.searcher())
    assert running.build_id == store.live_id()

    killed = [r for r in rows if r[3] == -signal.SIGKILL and not r[4]]
    with capsys.disabled():
        print(f"\nSIGKILL of `chuchu build`, {TRIALS} trials (seed {SEED}); whole builds took {cold_seconds:.1f} s")
        print(f"cold, {warm_seconds:.1f} s warm. Per trial: cache, killed after, exit, published, .partial left,")
        print("and the vectors the cold cache holds after the kill (opened whole):")
        for trial, kind, delay, code, published, partial, kept in rows:
            shown = "yes" if published else "no "
            print(f"  {trial:>3}  {kind}  {delay:5.2f} s  {code:>4}  {shown}  {partial}  {kept}")
        print(f"  then `chuchu build`: exit 0, {'swept' if rows and rows[-1][5] else 'nothing to sweep'}")
    assert not TRIALS or killed, "no trial killed a build before it published; the kills proved nothing"


# 2. A damaged live build -------------------------------------------------------------------


def damage(path: Path, how: str) -> bytes:
    """Damage a file as a disk error, a bad copy or a person might; returns what it held."""
    original = path.read_bytes()
    if how == "truncated":
        path.write_bytes(original[: len(original) // 2])
    elif how == "emptied":
        path.write_bytes(b"")
    else:  # one byte altered, in the middle: the file keeps its size and usually its syntax
        middle = len(original) // 2
        path.write_bytes(original[:middle] + bytes([original[middle] ^ 0x01]) + original[middle + 1 :])
    return original


def edit_manifest(build: Path, **changes) -> None:
    path = build / MANIFEST
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def fresh_client(store: Store, embedder):
    """A service starting now (a restart, or a worker gunicorn replaced)."""
    settings = Settings.load(store=store.root, model_cache=MODEL_CACHE)
    return create_app(settings, LiveIndex(store, lambda: embedder)).test_client()


def test_each_damaged_file_is_refused_by_name_and_the_service_falls_back(warm, tmp_path, embedder, caplog, capsys):
    store = Store(tmp_path / "store")
    older, live = build_twice(warm, store, embedder)
    running = LiveIndex(store, lambda: embedder, check_every=0)
    assert running.searcher().snapshot.build_id == live
    cases = 0
    names = sorted(p.name for p in (store.builds / live).iterdir())
    assert {*DATA_FILES, MANIFEST} <= set(names)
    for name in names:
        for how in ("truncated", "emptied", "altered"):
            original = damage(store.builds / live / name, how)
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="chuchu.index.live"):
                client = fresh_client(store, embedder)
                response = client.get("/api/search", query_string={"q": QUESTION, "k": 3})
                ready = client.get("/readyz")
            body = response.get_json()
            assert response.status_code == 200 and body["build"]["id"] == older, (name, how, body)
            assert ANSWER in body["passages"][0]["text"]
            assert ready.status_code == 200 and ready.get_json()["build"]["id"] == older
            assert ready.get_json()["unloadable_live_build"] == live
            [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
            assert f"cannot load build {live}, serving build {older} instead" in error, error
            assert name in error and "run `chuchu build`" in error, (name, how, error)
            # The service already running keeps the build it loaded before the damage.
            assert running.searcher().snapshot.build_id == live and answers(running.searcher())
            (store.builds / live / name).write_bytes(original)
            cases += 1
    assert fresh_client(store, embedder).get("/readyz").get_json()["build"]["id"] == live  # whole again
    with capsys.disabled():
        print(f"\n{cases} damaged files ({len(names)} files × truncated, emptied, one byte altered):")
        print(f"  each refused by name; a fresh service served the build before ({older}) every time")


# Edits of the manifest, each with what the refusal must say. Before this suite, "settings" (the
# fusion weights gone) and "unrecorded" (a passage's text edited, and that file's checksum removed
# from the manifest) loaded, and answered with what the edits made them.
MANIFEST_EDITS = {
    "count": (lambda b: edit_manifest(b, passages=999), "the manifest counts 999 passages"),
    "fingerprint": (lambda b: edit_manifest(b, model_fingerprint="0" * 16), "manifest.json has changed since"),
    "dimension": (lambda b: edit_manifest(b, dimension=768), "the manifest says 768"),
    "settings": (lambda b: edit_manifest(b, settings={}), "manifest.json has changed since the build wrote it"),
    "type": (lambda b: edit_manifest(b, documents="five"), 'documents = "five", not a whole number'),
    "version": (lambda b: edit_manifest(b, format_version=99), "format version 99"),
    "checksum": (lambda b: edit_manifest(b, files={**_files(b), VECTORS: "0" * 64}), f"{VECTORS} has changed"),
    "outside": (lambda b: edit_manifest(b, files={**_files(b), "../../CURRENT": "0" * 64}), "not a file of the build"),
    "unrecorded": (
        lambda b: (
            _edit_text(b / PASSAGES),
            edit_manifest(b, files={k: v for k, v in _files(b).items() if k != PASSAGES}),
        ),
        f"records no sha256 for {PASSAGES}",
    ),
    "files-type": (lambda b: edit_manifest(b, files=["vectors.faiss"]), "files = "),
    "added": (lambda b: (b / "extra.jsonl").write_text("{}\n"), "records no sha256 for extra.jsonl"),
}


def _files(build: Path) -> dict[str, str]:
    return json.loads((build / MANIFEST).read_text(encoding="utf-8"))["files"]


def _edit_text(path: Path) -> None:
    """Change one character of one passage's text, keeping the file valid JSON lines."""
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("一季稻", "二季稻", 1), encoding="utf-8")


@pytest.mark.parametrize("edit", MANIFEST_EDITS)
def test_an_edited_manifest_is_refused_and_the_build_before_served(edit, warm, tmp_path, embedder, caplog):
    store = Store(tmp_path / "store")
    older, live = build_twice(warm, store, embedder)
    change, words = MANIFEST_EDITS[edit]
    change(store.builds / live)
    with caplog.at_level(logging.ERROR, logger="chuchu.index.live"):
        body = fresh_client(store, embedder).get("/api/search", query_string={"q": QUESTION}).get_json()
    assert body["build"]["id"] == older and ANSWER in body["passages"][0]["text"]
    [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert words in error and str(store.builds / live) in error, error


@pytest.mark.parametrize(("name", "how"), [(VECTORS, "truncated"), (PASSAGES, "emptied"), ("lexical.npz", "altered")])
def test_chuchu_build_replaces_a_damaged_live_build(name, how, warm, tmp_path, embedder):
    store = Store(tmp_path / "store")
    with EmbeddingCache(warm.cache, embedder.fingerprint, embedder.dimension) as cache:
        damaged = build_index(warm.corpus, store, embedder, cache=cache).build_id
    damage(store.builds / damaged / name, how)
    # With no build before it, the service has nothing to fall back to: 503, naming the file.
    response = fresh_client(store, embedder).get("/api/search", query_string={"q": QUESTION})
    error = response.get_json()["error"]
    assert response.status_code == 503 and error["code"] == "index_corrupt" and name in error["message"], error
    assert "run `chuchu build`" in error["message"]

    done = chuchu_build(warm, store.root)
    assert done.returncode == 0, done.stderr
    assert f"replaced the damaged live build {damaged}: " in done.stdout and name in done.stdout, done.stdout
    assert f"(build {damaged} was live, but damaged" in done.stdout
    repaired = store.live_id()
    assert repaired != damaged and answers(Searcher(read_snapshot(store.live_path()), embedder))
    body = fresh_client(store, embedder).get("/api/search", query_string={"q": QUESTION}).get_json()
    assert body["build"]["id"] == repaired and ANSWER in body["passages"][0]["text"]


# 3. The disk full during a build -------------------------------------------------------------


@pytest.fixture()
def small_disk(tmp_path):
    """A 20 MB tmpfs, where mounting one is allowed (root); skips otherwise (the file size limit test still runs)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); see the file size limit test")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """A file taking all the free space of a file system but ``leave`` bytes."""
    stat = os.statvfs(disk)
    filler = disk / "filler"
    with open(filler, "ab") as f:
        f.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))
    return filler


def assert_failed_cleanly(done: subprocess.CompletedProcess, store: Store, live: str, embedder) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "space" in done.stderr, done.stderr
    assert f"Nothing was published and the unfinished build was removed; build {live} stays live" in done.stderr
    assert store.live_id() == live and [b.build_id for b in store.list_builds()] == [live]
    assert not list(store.builds.glob("*" + PARTIAL)) and not list(store.root.glob(f".{POINTER}.*"))
    assert answers(Searcher(read_snapshot(store.live_path()), embedder))


def test_a_build_on_a_full_disk_fails_cleanly_and_leaves_the_live_build(small_disk, warm, embedder, capsys):
    store = Store(small_disk / "store")
    first = chuchu_build(warm, store.root)
    assert first.returncode == 0, first.stderr
    live = store.live_id()
    size = sum(p.stat().st_size for p in store.live_path().iterdir())
    rows = []
    # From no room at all to nearly enough: each build fails somewhere else (the first file,
    # the passages, the indexes, the vectors); a build also needs room for its vector spool.
    for leave in (0, 16 << 10, 64 << 10, 160 << 10, 320 << 10, size, size + (160 << 10)):
        filler = fill(small_disk, leave)
        done = chuchu_build(warm, store.root)
        filler.unlink()
        assert_failed_cleanly(done, store, live, embedder)
        rows.append((leave, done.stderr.strip().splitlines()[-1].replace(str(store.builds), "<store>/builds")))
    # With the room back, the build succeeds.
    done = chuchu_build(warm, store.root)
    assert done.returncode == 0 and store.live_id() != live, done.stderr
    with capsys.disabled():
        print(f"\nbuilds on a full 20 MB tmpfs (a build is {size / 1024:.0f} KiB): each exit 2, the live build kept")
        for leave, message in rows:
            print(f"  {leave / 1024:>5.0f} KiB free: {message}")


def test_the_disk_filling_up_as_a_build_publishes_unpublishes_it(small_disk, warm, embedder, monkeypatch):
    """The last write of a build is the pointer's new copy: the disk filled up just before it."""
    store = Store(small_disk / "store")
    with EmbeddingCache(warm.cache, embedder.fingerprint, embedder.dimension) as cache:
        live = build_index(warm.corpus, store, embedder, cache=cache).build_id
        real_point = Store.point

        def point_on_a_full_disk(self, build_id):
            fill(small_disk, 0)
            return real_point(self, build_id)

        monkeypatch.setattr(Store, "point", point_on_a_full_disk)
        with pytest.raises(BuildError, match="No space left on device") as info:
            build_index(warm.corpus, store, embedder, cache=cache)
    assert "Nothing was published" in str(info.value) and f"build {live} stays live" in str(info.value)
    assert store.live_id() == live and [b.build_id for b in store.list_builds()] == [live]
    assert not list(store.builds.glob("*" + PARTIAL)) and not list(store.root.glob(f".{POINTER}.*"))


def test_a_build_over_the_file_size_limit_fails_cleanly(warm, tmp_path, embedder, capsys):
    """The other honest way to run out of room, where no tmpfs can be mounted: RLIMIT_FSIZE (EFBIG)."""
    store = Store(tmp_path / "store")
    assert chuchu_build(warm, store.root).returncode == 0
    live = store.live_id()

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process instead of failing the write
        resource.setrlimit(resource.RLIMIT_FSIZE, (32 << 10, 32 << 10))

    done = chuchu_build(warm, store.root, preexec_fn=limited)
    assert_failed_cleanly(done, store, live, embedder)
    assert "File too large" in done.stderr
    with capsys.disabled():
        print(f"\nRLIMIT_FSIZE 32 KiB: exit {done.returncode}: {done.stderr.strip().splitlines()[-1]}")


def test_a_cold_build_with_its_embedding_cache_on_the_full_disk_fails_cleanly(small_disk, warm, embedder, capsys):
    store = Store(small_disk / "store")
    assert chuchu_build(warm, store.root).returncode == 0
    live = store.live_id()
    filler = fill(small_disk, 64 << 10)
    done = chuchu_build(warm, store.root, small_disk / "cache")  # an empty cache: every vector to be written
    filler.unlink()
    assert done.returncode == 2 and "Traceback" not in done.stderr and "space" in done.stderr, done.stderr
    assert store.live_id() == live and not list(store.builds.glob("*" + PARTIAL))
    assert not list((small_disk / "cache").glob("*-journal")), "SQLite's journal left behind"
    assert answers(Searcher(read_snapshot(store.live_path()), embedder))
    with capsys.disabled():
        print(f"\nembedding cache on the full disk: exit {done.returncode}: {done.stderr.strip().splitlines()[-1]}")


# 4. `chuchu serve` ---------------------------------------------------------------------------


def start_server(store: Path, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, CHUCHU_STORE=str(store), CHUCHU_MODEL_CACHE=str(MODEL_CACHE), CHUCHU_WORKERS="2")
    # The metrics directory in the test's own folder: a master killed with SIGKILL cannot remove it.
    env["TMPDIR"] = str(log.parent)
    with open(log, "ab") as out:
        return subprocess.Popen([str(CLI), "serve", "--port", str(port)], env=env, stdout=out, stderr=out)


def workers(pid: int) -> list[int]:
    """The pids of a process's children (gunicorn's workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def build_served(base: str) -> str:
    status, _, body = get(f"{base}/readyz")
    assert status == 200, body
    return body["build"]["id"]


def wait_for_build(base: str, build_id: str, seconds: float = 30) -> float:
    """Seconds until both workers answer from the build (a few answers in a row)."""
    began = time.monotonic()
    streak = 0
    while time.monotonic() - began < seconds:
        streak = streak + 1 if build_served(base) == build_id else 0
        if streak >= 6:
            return time.monotonic() - began
        time.sleep(0.2)
    raise AssertionError(f"the server did not pick up build {build_id} within {seconds} s")


def ask_across(base: str, during) -> tuple[float, int, dict]:
    """POST a batch whose body is sent in two halves, with ``during()`` called in between.

    The server cannot answer before the second half arrives, so whatever ``during`` does (send
    SIGTERM) happens while the request is in flight, however fast the machine. Returns when the
    answer came, its status and its body.
    """
    body = json.dumps({"questions": [f"{QUESTION}（第{i}问）" for i in range(16)], "k": 10}).encode()
    head = (
        f"POST /api/ask HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as conn:
        conn.sendall(head + body[: len(body) // 2])
        time.sleep(0.5)  # the worker has taken the connection and waits for the rest of the body
        during()
        time.sleep(0.5)
        conn.sendall(body[len(body) // 2 :])
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
    answered = time.monotonic()
    status_line, _, rest = response.partition(b"\r\n")
    return answered, int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def test_serve_falls_back_is_repaired_survives_sigkill_and_drains_on_sigterm(warm, tmp_path, embedder, capsys):
    store = Store(tmp_path / "store")
    older, damaged = build_twice(warm, store, embedder)
    damage(store.builds / damaged / VECTORS, "truncated")
    port, log = free_port(), tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    figures = {}

    # Started on a damaged build: every worker serves the build before it, and the log says why.
    proc = start_server(store.root, port, log)
    try:
        began = time.monotonic()
        wait_until_up(base, proc, log)
        figures["start"] = time.monotonic() - began
        assert {build_served(base) for _ in range(10)} == {older}
        status, _, body = get(f"{base}/api/search?q={urllib.parse.quote(QUESTION)}")
        assert status == 200 and body["build"]["id"] == older and ANSWER in body["passages"][0]["text"]
        text = log.read_text()
        assert f"cannot load build {damaged}, serving build {older} instead" in text and VECTORS in text

        # `chuchu build` replaces the damaged build; the running server picks the new one up.
        done = chuchu_build(warm, store.root)
        assert done.returncode == 0 and f"replaced the damaged live build {damaged}" in done.stdout, done.stderr
        repaired = store.live_id()
        figures["pickup"] = wait_for_build(base, repaired)

        # SIGKILL: the master dies at once; its workers notice and leave.
        pool = workers(proc.pid)
        assert len(pool) == 2, pool
        proc.kill()
        proc.wait(30)
        began = time.monotonic()
        while any(alive(pid) for pid in pool) and time.monotonic() - began < 30:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in pool), "gunicorn workers outlived their killed master"
        figures["orphans"] = time.monotonic() - began
    finally:
        if proc.poll() is None:
            proc.kill()

    # Restarted: it serves the last published build.
    proc = start_server(store.root, port, log)
    try:
        began = time.monotonic()
        wait_until_up(base, proc, log)
        figures["restart"] = time.monotonic() - began
        assert {build_served(base) for _ in range(10)} == {repaired}

        # SIGTERM with a request in flight: the request still gets its answer, then the server exits.
        moments = []
        answered, status, body = ask_across(
            base, lambda: (proc.send_signal(signal.SIGTERM), moments.append(time.monotonic()))
        )
        [terminated] = moments
        code = proc.wait(60)
        exited = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 200 and len(body["answers"]) == 16 and body["build"]["id"] == repaired, body
    assert code == 0, log.read_text()[-2000:]
    with capsys.disabled():
        print(
            f"\nchuchu serve: up in {figures['start']:.1f} s on a damaged build (served {older} instead); "
            f"picked up the repaired build {figures['pickup']:.1f} s after `chuchu build`; SIGKILL: workers gone "
            f"{figures['orphans']:.1f} s later; restarted in {figures['restart']:.1f} s on the last build; SIGTERM "
            f"with a batch half received: answered 200 {answered - terminated:.1f} s after it, exit {code} "
            f"{exited - terminated:.1f} s after it"
        )
