"""A load generator for a running `chuchu serve`, and the memory of its whole process tree.

Clients are threads, each with one keep-alive connection (``http.client``), asking in a closed
loop (the next request as soon as the answer is read, as ``wrk`` does) from a mix of requests:
the JSON API by GET and by POST (one question, and a batch), the results page and the document
page, with Chinese and English questions. Every response is kept as a ``Record``: when it was
sent, how long it took, its status, the build it names and what it answered, so that a test
can check after the run that each answer is the one its build gives.

The server is a black box started as `make run` starts it: whatever its workers, threads or
batching, the memory is that of the process `chuchu serve` started and all its descendants,
read from ``/proc/<pid>/smaps_rollup``: RSS summed, PSS (which counts shared pages once), USS
(private pages) and anonymous memory.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import statistics
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"

BUILD_ID = re.compile(r"\d{8}T\d{6}-[0-9a-f]{6}")


def questions() -> list[str]:
    """The development questions in file order: Chinese, and English (about one in nine)."""
    return [
        json.loads(line)["question"]
        for name in ("dev.jsonl", "dev_abstain.jsonl")
        for line in (DATA / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


@dataclass(frozen=True)
class Request:
    """One request of the mix: ``kind`` names it in the figures, ``probe`` marks the ones a test checks."""

    kind: str
    method: str
    path: str
    body: bytes | None = None
    probe: bool = False


def search(question: str, k: int | None = None, probe: bool = False) -> Request:
    query = {"q": question} | ({"k": k} if k else {})
    return Request("GET /api/search", "GET", "/api/search?" + urllib.parse.urlencode(query), probe=probe)


def ask(question: str, k: int | None = None, probe: bool = False) -> Request:
    body = {"question": question} | ({"k": k} if k else {})
    return Request("POST /api/ask", "POST", "/api/ask", json.dumps(body).encode(), probe=probe)


def ask_many(many: Sequence[str], k: int | None = None, probe: bool = False) -> Request:
    body = json.dumps({"questions": list(many)} | ({"k": k} if k else {})).encode()
    return Request("POST /api/ask batch", "POST", "/api/ask", body, probe=probe)


def page(question: str, probe: bool = False) -> Request:
    return Request("GET /search", "GET", "/search?" + urllib.parse.urlencode({"q": question}), probe=probe)


def default_mix(documents: Sequence[str] = ()) -> list[Request]:
    """The development questions in turn, three times over, asked in turn by GET /api/search (4 in
    10 requests), POST /api/ask (2), the results page (2) and a POST /api/ask batch of three (1);
    the tenth request a document page (or the home page when no documents are given)."""
    asked = itertools.cycle(questions())
    docs = itertools.cycle(documents or [""])
    pattern = [search, ask, page, search, ask_many, search, ask, page, search, None]
    mix: list[Request] = []
    while len(mix) < 3 * len(questions()):
        for make in pattern:
            if make is None:
                doc = next(docs)
                mix.append(Request("GET /docs", "GET", f"/docs/{doc}") if doc else Request("GET /", "GET", "/"))
            elif make is ask_many:
                mix.append(ask_many([next(asked) for _ in range(3)]))
            else:
                mix.append(make(next(asked)))  # type: ignore[operator]
    return mix


@dataclass
class Record:
    """One request's outcome. ``status`` 0: no HTTP answer (refused, reset, timed out)."""

    kind: str
    sent: float  # time.monotonic()
    seconds: float
    status: int
    build: str | None = None
    probe: bool = False
    # Per answer of the response (one, or one per question of a batch): its question, the build it
    # names and its passages as (file, start, end, text). For a page, every build id it shows, and
    # for a probe page its HTML.
    answers: list[tuple[str, str, tuple[tuple[str, int, int, str], ...]]] = field(default_factory=list)
    page_builds: tuple[str, ...] = ()
    page: str | None = None
    error: str | None = None


def _digest(req: Request, status: int, content_type: str, raw: bytes, record: Record) -> None:
    """What a test needs of a response, parsed in the client thread; an unreadable 200 is an error."""
    if status != 200:
        record.error = raw[:300].decode("utf-8", "replace")
        return
    if content_type.startswith("application/json"):
        body = json.loads(raw)
        record.build = body["build"]["id"]
        for one in body.get("answers", [body]):
            passages = tuple((p["file"], p["start"], p["end"], p["text"]) for p in one["passages"])
            record.answers.append((one["question"], one["build"]["id"], passages))
        return
    text = raw.decode("utf-8")
    record.page_builds = tuple(dict.fromkeys(BUILD_ID.findall(text)))
    record.build = record.page_builds[0] if record.page_builds else None
    if req.probe:
        record.page = text


class Load:
    """``clients`` threads asking ``base`` the requests of ``mix`` in turn until stopped."""

    def __init__(self, base: str, mix: Sequence[Request], clients: int = 16, timeout: float = 60) -> None:
        parsed = urllib.parse.urlsplit(base)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.mix, self.timeout = list(mix), timeout
        self.records: list[Record] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)]

    def _client(self, number: int) -> None:
        connection: http.client.HTTPConnection | None = None
        # Each client starts at its own place in the mix, so that all kinds run at once.
        for i in itertools.count(number * len(self.mix) // len(self._threads)):
            if self._stop.is_set():
                break
            req = self.mix[i % len(self.mix)]
            if connection is None:
                connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            headers = {"Accept-Language": "zh-CN,zh;q=0.9" if number % 2 else "en"}
            if req.body is not None:
                headers["Content-Type"] = "application/json"
            sent = time.monotonic()
            record = Record(req.kind, sent, 0.0, 0, probe=req.probe)
            try:
                connection.request(req.method, req.path, body=req.body, headers=headers)
                response = connection.getresponse()
                raw = response.read()
                record.seconds = time.monotonic() - sent
                record.status = response.status
                _digest(req, response.status, response.getheader("Content-Type", ""), raw, record)
                if response.will_close:
                    connection.close()
                    connection = None
            except Exception as exc:  # a refused, reset or dropped connection is a failed request
                record.seconds = time.monotonic() - sent
                record.error = f"{type(exc).__name__}: {exc}"
                if connection is not None:
                    connection.close()
                connection = None
            with self._lock:
                self.records.append(record)
        if connection is not None:
            connection.close()

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 5)

    def between(self, start: float, end: float = float("inf")) -> list[Record]:
        with self._lock:
            return [r for r in self.records if start <= r.sent < end]


def failed(records: Sequence[Record]) -> list[Record]:
    """Requests without a readable 200 answer naming its build."""
    return [r for r in records if r.status != 200 or r.error is not None or r.build is None]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))]


def latency_figures(records: Sequence[Record], seconds: float) -> dict[str, Any]:
    times = [r.seconds for r in records]
    return {
        "requests": len(records),
        "errors": len(failed(records)),
        "per_second": round(len(records) / seconds, 1),
        "p50_ms": round(percentile(times, 50) * 1000, 1),
        "p95_ms": round(percentile(times, 95) * 1000, 1),
        "p99_ms": round(percentile(times, 99) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        "kinds": {k: sum(r.kind == k for r in records) for k in sorted({r.kind for r in records})},
    }


# The memory of the whole server.


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name in parentheses may hold spaces
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic()
    processes: int
    rss_mb: float  # summed over the processes
    pss_mb: float  # shared pages divided among all their processes, these and any other
    uss_mb: float  # private pages (Private_Clean + Private_Dirty): what only these processes hold
    anonymous_mb: float  # the heaps: where a leak grows


ROLLUP = {"Rss": "rss", "Pss": "pss", "Private_Clean": "uss", "Private_Dirty": "uss", "Anonymous": "anonymous"}


def memory(root: int) -> Sample:
    """The memory of ``root`` and its descendants, from /proc/<pid>/smaps_rollup.

    PSS counts a page shared by n processes as 1/n in each, so it moves when another process on
    the machine maps the same files (the model, the libraries); RSS and USS do not.
    """
    kb = dict.fromkeys(ROLLUP.values(), 0)
    processes = 0
    for pid in process_tree(root):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        processes += 1
        for line in rollup.splitlines():
            name, _, rest = line.partition(":")
            if name in ROLLUP:
                kb[ROLLUP[name]] += int(rest.split()[0])
    mb = {name: value / 1024 for name, value in kb.items()}
    return Sample(time.monotonic(), processes, mb["rss"], mb["pss"], mb["uss"], mb["anonymous"])


def cpu_seconds(root: int) -> float:
    """User and system CPU time of ``root`` and its descendants so far (the live ones, and those
    reaped), from /proc/<pid>/stat."""
    ticks = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime, stime, and of reaped children cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class MemorySampler:
    """Samples the server's memory every ``every`` seconds in a thread, from start to stop."""

    def __init__(self, root: int, every: float = 1.0) -> None:
        self.root, self.every = root, every
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.samples.append(memory(self.root))
            next_at += self.every
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def window_means(samples: Sequence[Sample], window: float) -> dict[str, Any]:
    """Mean RSS, PSS, USS and anonymous memory over the first and the last ``window`` seconds of the
    samples, and the change."""
    start, end = samples[0].at, samples[-1].at
    first = [s for s in samples if s.at - start < window]
    last = [s for s in samples if end - s.at < window]

    def mean(chosen: Sequence[Sample], name: str) -> float:
        return statistics.fmean(getattr(s, f"{name}_mb") for s in chosen)

    out: dict[str, Any] = {"window_s": window, "samples": len(samples)}
    for name in ("rss", "pss", "uss", "anonymous"):
        a, b = mean(first, name), mean(last, name)
        out[f"{name}_first_mb"], out[f"{name}_last_mb"] = round(a, 1), round(b, 1)
        out[f"{name}_change"] = round((b - a) / a, 4)
    out["processes"] = sorted({s.processes for s in samples})
    return out
