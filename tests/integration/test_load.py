"""`chuchu serve` under load, as `make run` starts it (default settings, whatever shape they give
the server): 16 keep-alive clients asking without pause (tests/load.py: the development questions,
Chinese and English, by GET /api/search, POST /api/ask, batches, the results page and document
pages), then the same load while builds are published over and over into the store it serves.

- load: after a warm-up (10 s at most, its requests counted for errors), no failed request, p99
  under 1 s, and the memory of the whole server (master and every worker; RSS summed, and PSS)
  flat: its mean over the last 20 s within 5% of its mean over the first 20 s, sampled every
  second (windows of a third of the run when it is shorter than 60 s).
- rebuilds under load: two corpora that differ in one figure of one document, built in turn by
  `chuchu build` into the served store; no failed request, and every response is what the build
  it names gives: each build id is mapped to its corpus, a probe question asked among the others
  (API and batch, k=3) must get exactly the passages that corpus's build gave when the server was
  quiet, every passage cited from that document must carry its corpus's figure, and so must the
  results page and the document page of the build they name.

`make test` runs them short (15 s each), `make soak` long (CHUCHU_SOAK_SECONDS=60: tests/soak.py).
The figures are printed, with the machine's load average and the server's CPU time per request.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chuchu.index.build import build_index
from chuchu.index.cache import EmbeddingCache
from chuchu.index.store import Store
from tests import soak
from tests.conftest import MODEL_CACHE
from tests.integration.test_rebuilds import copy_corpus
from tests.integration.test_serve import free_port, wait_until_up
from tests.load import (
    Load,
    MemorySampler,
    Record,
    Request,
    ask,
    ask_many,
    cpu_seconds,
    default_mix,
    failed,
    latency_figures,
    page,
    questions,
    search,
    window_means,
)

pytestmark = [pytest.mark.integration, pytest.mark.soak]

CLIENTS = 16
SECONDS = soak.SECONDS
# Load before the measured window: the first requests of each worker allocate what later ones reuse.
WARM_UP = max(3.0, min(10.0, SECONDS / 3))
# The memory windows compared: 20 s at the end against 20 s at the start.
WINDOW = min(20.0, SECONDS / 3)
P99_LIMIT = 1.0
MEMORY_TOLERANCE = 0.05

# One document that the two corpora write differently: the figure the probe question asks for.
MARKER = "zz_load_probe.txt"
PROBE = "青石镇今年新建了几座口袋公园?"
FIGURES = {"A": "七", "B": "九"}


def marker_text(figure: str) -> str:
    return (
        "青石镇口袋公园建设情况通报\n\n"
        f"据青石镇住建办统计，青石镇今年共新建口袋公园{figure}座，总面积一万二千平方米，全部向群众免费开放。\n"
    )


def other(variant: str) -> str:
    return "B" if variant == "A" else "A"


def says(variant: str) -> str:
    return f"口袋公园{FIGURES[variant]}座"


CLI = Path(sys.executable).with_name("chuchu")


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without its CHUCHU_* variables, with these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHUCHU_")}
    return env | {"CHUCHU_MODEL_CACHE": str(MODEL_CACHE)} | settings


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path
    store: Store
    corpora: dict[str, Path]
    cache: Path
    # build id → the corpus it was built from, for every build published into the store
    variant_of: dict[str, str] = field(default_factory=dict)


def build(served: Served, variant: str) -> str:
    """`chuchu build` of one corpus into the served store; the id of the build it published."""
    env = environment(CHUCHU_EMBEDDING_CACHE=str(served.cache))
    command = [str(CLI), "build", "--corpus", str(served.corpora[variant]), "--store", str(served.store.root)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    found = re.search(r"built (\S+) in", output)
    assert found, output
    served.variant_of[found.group(1)] = variant
    return found.group(1)


@pytest.fixture(scope="module")
def served(embedder, tmp_path_factory) -> Iterator[Served]:
    """`chuchu serve` with its default settings over a store of its own, whose live build is corpus A.

    Both corpora are built first, in this process, so that the embedding cache `chuchu build` is
    given then holds all they embed: a build under load reads, writes and publishes, without the model.
    """
    root = tmp_path_factory.mktemp("load")
    corpora = {}
    for variant, figure in FIGURES.items():
        corpora[variant] = copy_corpus(root / f"corpus-{variant}")
        (corpora[variant] / MARKER).write_text(marker_text(figure), encoding="utf-8")
    store, cache = Store(root / "store"), root / "cache"
    with EmbeddingCache(cache, embedder.fingerprint, embedder.dimension) as filling:
        build_index(corpora["B"], store, embedder, cache=filling)
        first = build_index(corpora["A"], store, embedder, cache=filling)
    port, log = free_port(), root / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(CLI), "serve", "--port", str(port)],
            env=environment(CHUCHU_STORE=str(store.root)),
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    served = Served(f"http://127.0.0.1:{port}", proc, log, store, corpora, cache, {first.build_id: "A"})
    try:
        wait_until_up(served.base, proc, log, seconds=240, probe="/readyz")
        yield served
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def log_lines(log: Path) -> dict[str, int]:
    """What gunicorn and the app said that matters here: workers started, timed out, errors."""
    text = log.read_text(encoding="utf-8", errors="replace")
    return {
        "workers_booted": text.count("Booting worker"),
        "worker_timeouts": text.count("WORKER TIMEOUT"),
        "tracebacks": text.count("Traceback"),
        "error_lines": sum(1 for line in text.splitlines() if " ERROR " in line or line.startswith("ERROR")),
    }


def machine_figures(load_average: float, cpu: float, requests: int) -> dict[str, float]:
    """The machine is shared: its load average when the run began, and the server's own CPU time."""
    return {
        "load_average_at_start": round(load_average, 2),
        "server_cpu_s": round(cpu, 1),
        "server_cpu_ms_per_request": round(cpu * 1000 / max(1, requests), 1),
    }


def show(capsys: pytest.CaptureFixture[str], title: str, figures: dict) -> None:
    with capsys.disabled():
        print(f"\n{title}: {json.dumps(figures, ensure_ascii=False)}")


def test_sixteen_clients_without_an_error_with_p99_under_a_second_and_flat_memory(served, capsys):
    before = log_lines(served.log)
    with Load(served.base, default_mix([p.stem for p in sorted(served.corpora["A"].glob("0*.txt"))]), CLIENTS) as load:
        time.sleep(WARM_UP)
        began, cpu, machine = time.monotonic(), cpu_seconds(served.proc.pid), os.getloadavg()[0]
        with MemorySampler(served.proc.pid) as sampler:
            time.sleep(SECONDS)
        ended, cpu = time.monotonic(), cpu_seconds(served.proc.pid) - cpu
    measured = load.between(began, ended)
    figures = latency_figures(measured, ended - began) | machine_figures(machine, cpu, len(measured))
    figures["warm_up"] = latency_figures(load.between(0, began), WARM_UP) | {"seconds": WARM_UP}
    figures["memory"] = window_means(sampler.samples, WINDOW)
    after = log_lines(served.log)
    figures["log"] = {k: after[k] - before[k] for k in after}
    show(capsys, f"load, {CLIENTS} clients, {SECONDS:g} s", figures)

    errors = failed(load.records)  # the warm-up's requests count too
    assert not errors, [(r.kind, r.status, r.error) for r in errors[:10]]
    assert figures["p99_ms"] < P99_LIMIT * 1000, figures
    for name in ("rss", "pss"):
        change = figures["memory"][f"{name}_change"]
        # A PSS alone moving: another process on the machine mapping the same files (USS stays).
        assert abs(change) <= MEMORY_TOLERANCE, f"{name.upper()} changed by {change:.1%}: {figures['memory']}"
    assert figures["log"]["worker_timeouts"] == 0 and figures["log"]["tracebacks"] == 0, served.log.read_text()


def probe_answer(base: str) -> tuple[str, tuple]:
    """The build the probe's answer names, and its passages as the load's records keep them."""
    query = urllib.parse.urlencode({"q": PROBE, "k": 3})
    with urllib.request.urlopen(f"{base}/api/search?{query}", timeout=60) as r:
        body = json.loads(r.read())
    return body["build"]["id"], tuple((p["file"], p["start"], p["end"], p["text"]) for p in body["passages"])


def serving(served: Served, build_id: str, seconds: float = 60, in_a_row: int = 12) -> tuple:
    """Asks the probe until ``in_a_row`` answers running name ``build_id`` (new connections, so
    every worker is asked); the passages of the last."""
    deadline, run, named = time.monotonic() + seconds, 0, Counter[str]()
    while time.monotonic() < deadline:
        build_id_named, passages = probe_answer(served.base)
        named[build_id_named] += 1
        run = run + 1 if build_id_named == build_id else 0
        if run >= in_a_row:
            return passages
        time.sleep(0.1)
    log = served.log.read_text(encoding="utf-8", errors="replace").splitlines()
    said = "\n".join(line for line in log if not line.startswith("{"))[-3000:]  # not the access log
    raise AssertionError(
        f"the server did not serve build {build_id} within {seconds} s; the probe's answers named {dict(named)}; "
        f"the store's live build is {served.store.live_id()}; the server said:\n{said}"
    )


class Rebuilder:
    """Publishes builds of the two corpora in turn into the served store until stopped."""

    def __init__(self, served: Served, first: str, pause: float = 1.0) -> None:
        self.served, self.first, self.pause = served, first, pause
        self.published: list[tuple[float, str, str, float]] = []  # when, id, corpus, seconds taken
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for i in itertools.count():
            if self._stop.is_set():
                return
            variant = self.first if i % 2 == 0 else other(self.first)
            began = time.monotonic()
            try:
                build_id = build(self.served, variant)
            except Exception as exc:  # an assertion of build(), or its timeout
                self.errors.append(repr(exc))
            else:
                self.published.append((time.monotonic(), build_id, variant, time.monotonic() - began))
            self._stop.wait(self.pause)

    def __enter__(self) -> Rebuilder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(600)


def inconsistencies(records: list[Record], variant_of: dict[str, str], expected: dict[str, tuple]) -> list[str]:
    """Every way a response disagrees with the build it names."""
    found = []
    for r in records:
        if r.build is None:
            continue  # a failed request, counted apart
        variant = variant_of.get(r.build)
        if variant is None:
            found.append(f"{r.kind}: names build {r.build}, which was never published")
            continue
        for question, named, passages in r.answers:
            if named != r.build:
                found.append(f"{r.kind}: an answer of build {named} in a response of build {r.build}")
            if question == PROBE and passages != expected[variant]:
                got, want = ([(f, s, e, t[:20]) for f, s, e, t in p] for p in (passages, expected[variant]))
                found.append(f"{r.kind}: build {r.build} (corpus {variant}) answered the probe with {got}, not {want}")
            for file, _, _, text in passages:
                if file == MARKER and says(variant) not in text:
                    found.append(f"{r.kind}: build {r.build} (corpus {variant}) cited {text!r}")
        if len(r.page_builds) > 1:
            found.append(f"{r.kind}: one page names several builds, {r.page_builds}")
        if r.page is not None:
            text = re.sub(r"<[^>]+>", "", r.page)
            if says(variant) not in text or says(other(variant)) in text:
                found.append(f"{r.kind}: the page of build {r.build} (corpus {variant}) shows another figure")
    return found


def test_builds_published_under_load_lose_no_request_and_every_answer_is_its_builds(served, capsys):
    # What each corpus's build answers to the probe, asked while nothing else runs.
    live = served.store.live_id()
    variant = served.variant_of[live]
    expected = {variant: serving(served, live)}
    last = build(served, other(variant))
    expected[other(variant)] = serving(served, last)
    for v in FIGURES:
        assert expected[v][0][0] == MARKER and says(v) in expected[v][0][3], expected

    english = next(q for q in questions() if q.isascii())
    document = Request("GET /docs", "GET", f"/docs/{Path(MARKER).stem}", probe=True)
    probes = [search(PROBE, 3), ask(PROBE, 3), page(PROBE, probe=True), ask_many([PROBE, english], 3), document]
    mix = []
    for i, request in enumerate(default_mix()):
        mix += [request] + ([probes[i // 2 % len(probes)]] if i % 2 else [])
    began, cpu, machine = time.monotonic(), cpu_seconds(served.proc.pid), os.getloadavg()[0]
    with (
        MemorySampler(served.proc.pid) as sampler,
        Load(served.base, mix, CLIENTS) as load,
        Rebuilder(served, first=variant) as rebuilder,
    ):
        time.sleep(SECONDS)
    ended, cpu = time.monotonic(), cpu_seconds(served.proc.pid) - cpu
    final = rebuilder.published[-1][1] if rebuilder.published else last
    serving(served, final)  # the last build published reaches every worker
    records = load.records

    seen = Counter(r.build for r in records if r.build)
    probed = Counter(served.variant_of.get(b) for r in records for q, b, _ in r.answers if q == PROBE)
    found = inconsistencies(records, served.variant_of, expected)
    figures = latency_figures(records, ended - began) | machine_figures(machine, cpu, len(records))
    figures |= {
        "builds_published": len(rebuilder.published),
        "build_seconds_mean": round(sum(p[3] for p in rebuilder.published) / max(1, len(rebuilder.published)), 2),
        "build_errors": len(rebuilder.errors),
        "builds_answered_from": len(seen),
        "probe_answers_by_corpus": dict(probed),
        "probe_pages": sum(r.page is not None for r in records),
        "inconsistencies": len(found),
        "memory": window_means(sampler.samples, WINDOW),
        "log": log_lines(served.log),
    }
    show(capsys, f"rebuilds under load, {CLIENTS} clients, {SECONDS:g} s", figures)

    errors = failed(records)
    assert not errors, [(r.kind, r.status, r.error) for r in errors[:10]]
    assert not rebuilder.errors, rebuilder.errors[:3]
    assert not found, found[:10]
    # The check tells the corpora apart: with each build mapped to the other corpus, every probe fails it.
    swapped = {build_id: other(corpus) for build_id, corpus in served.variant_of.items()}
    assert len(inconsistencies(records, swapped, expected)) >= sum(probed.values()) + figures["probe_pages"]
    assert len(rebuilder.published) >= 2, "at least one build of each corpus under load"
    assert set(probed) == {"A", "B"}, f"the probe was answered from both corpora's builds: {probed}"
    assert figures["log"]["tracebacks"] == 0, served.log.read_text()
