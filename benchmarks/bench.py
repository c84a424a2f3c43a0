"""chuchu against the machine's limit, in one run: python benchmarks/bench.py [--quick] (or `make bench`).

Sections, each timed in the same run so that every target is a ratio of two figures measured
together on the same (possibly busy) machine:

- limit: the raw encode of one question and of 16 at a time; raw FAISS search over the index.
- inproc: the answer time per stage (encode+dense, lexical, fuse, answer sentence), Chinese and
  English questions apart, p50/p95, and the ratio to the limit; then 16 threads asking at once
  (questions/s, and how many questions each model call embedded).
- http: `chuchu serve` as `make run` starts it (and the former default, 2 workers × 4 threads),
  under Debian's `wrk` at 1, 4 and 16 connections: p50/p95/p99, questions/s, errors; then the
  proportional set size (PSS) of master and workers.
- build: cold builds of the seed corpus and of InsuranceQA-zh answers (var/insuranceqa/corpus,
  written by benchmarks/insuranceqa.py) against plain sentence-transformers fp32 on the same
  passages, an unchanged rebuild, a build's peak memory, and recall@5 on tests/data/dev.jsonl.
- scale: synthetic vectors, 10k, 100k and (without --quick) 1M: exact and HNSW search p50 and
  HNSW recall@10 against exact.

The figures go to BENCHMARKS.md (between the markers it keeps) and plots to benchmarks/plots/.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "var" / "models"
WORK = ROOT / "var" / "bench"
PLOTS = ROOT / "benchmarks" / "plots"
REPORT = ROOT / "BENCHMARKS.md"
DEV = ROOT / "tests" / "data" / "dev.jsonl"
IQA = ROOT / "var" / "insuranceqa" / "corpus"
SECTIONS = ("limit", "inproc", "http", "build", "quality", "scale")
# English questions about the seed corpus (the product answers English questions about Chinese
# text); their answering sentences are picked by meaning (the build's sentence vectors), so they
# are timed apart.
ENGLISH = [
    "How many mu of single-season rice did Shangbu town plant this year?",
    "Which park related to the Autumn Harvest Uprising will get better infrastructure?",
    "What is the regional cooperation plan that covers all of Pingxiang called?",
    "What did the government work report say about rural revitalization?",
    "How much did the county's GDP grow last year?",
    "Which villages were named as demonstration villages?",
    "When was the new bridge opened to traffic?",
    "What are the main industries of the town?",
]
log = logging.getLogger("bench")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="scale up to 100k (not 1M), fewer repeats, shorter HTTP runs"
    )
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--iqa-files", type=int, default=10, help="InsuranceQA corpus files (100 answers each) built")
    parser.add_argument("--http-seconds", type=int, default=0, help="seconds per wrk run (default 20, 10 quick)")
    parser.add_argument("--out", type=Path, default=WORK / "results.json", help="figures as JSON (merged)")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite BENCHMARKS.md and the plots")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("chuchu", "sentence_transformers", "root", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["machine"] = machine()
    store = seed_store()
    for section in args.sections:
        began = time.monotonic()
        say(f"== {section}")
        results[section] = SECTION_RUNNERS[section](args, store, results)
        results[section]["seconds"] = round(time.monotonic() - began, 1)
        results.setdefault("began", {})[section] = results["machine"]["date"]
        args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    results["ratios"] = ratios(results)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(results["ratios"], indent=1))
    if not args.no_report:
        from report import write_report  # benchmarks/report.py: tables and plots

        write_report(results, REPORT, PLOTS)
        say(f"wrote {REPORT.relative_to(ROOT)} and {PLOTS.relative_to(ROOT)}/")
    return 0


# -- helpers ---------------------------------------------------------------------------------


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    return {"p50": round(pct(values, 50), 2), "p95": round(pct(values, 95), 2), "n": len(values)}


def timed(fn: Callable[[], Any], repeat: int, warm: int = 3) -> list[float]:
    for _ in range(warm):
        fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "loadavg_1m_at_start": round(load[0], 2),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def chuchu_env(**settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHUCHU_")}
    env.update({f"CHUCHU_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def seed_store() -> Path:
    """A build of the seed corpus for the benchmark, made once (with the default backend)."""
    store = WORK / "seed-store"
    if not (store / "CURRENT").exists():
        say("building the seed corpus into var/bench/seed-store (once)")
        cmd = [str(ROOT / ".venv" / "bin" / "chuchu"), "build"]
        subprocess.run(cmd, cwd=ROOT, env=chuchu_env(store=store, embedding_cache=WORK / "cache"), check=True)
    return store


def dev_questions() -> list[str]:
    return [json.loads(line)["question"] for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def embedder(backend: str) -> Any:
    """The model as `make run`'s server of one worker holds it (its threads spin within a call):
    the limit is what that session does alone, and the in-process answers use it too."""
    from chuchu.index.embedder import load_embedder

    return load_embedder("default", MODELS, backend, spinning=True)


def searcher(store: Path, backend: str) -> Any:
    from chuchu.index.live import LiveIndex
    from chuchu.index.store import Store

    return LiveIndex(Store(store), lambda: embedder(backend)).searcher()


# -- limit -----------------------------------------------------------------------------------


def raw_encode(
    model: Any, questions: Sequence[str], ones: int, sixteens: int, warm: int = 3
) -> tuple[list[float], list[float]]:
    """The model alone: ms of ``ones`` calls of one question (the questions in turn), then of
    ``sixteens`` calls of the first 16 at once."""
    cycle = iter(range(10**9))
    one = timed(lambda: model.embed_queries([questions[next(cycle) % len(questions)]]), ones)
    sixteen = timed(lambda: model.embed_queries(questions[:16]), sixteens, warm)
    return one, sixteen


def run_limit(args: argparse.Namespace, store: Path, results: dict[str, Any]) -> dict[str, Any]:
    repeat = 30 if args.quick else 60
    questions = dev_questions()
    out: dict[str, Any] = {"encode": {}}
    for backend in ("onnx", "torch", "onnx-int8"):
        model = embedder(backend)
        one, sixteen = raw_encode(model, questions, repeat, max(8, repeat // 4))
        out["encode"][backend] = {
            "one_ms": summary_ms(one),
            "batch16_ms": summary_ms(sixteen),
            "batch16_qps": round(16 / (pct(sixteen, 50) / 1000), 1),
        }
        say(
            f"{backend}: one question p50 {pct(one, 50):.1f} ms; 16 at a time {out['encode'][backend]['batch16_qps']}/s"
        )
        del model
    s = searcher(store, "onnx")
    from chuchu.index import vectors as vec

    index, kind = s.snapshot.vectors, s.snapshot.vector_info
    query = s.embedder.embed_queries([questions[0]])
    n = len(s.snapshot.passages)
    search = timed(lambda: vec.search(index, kind, query, n, None), repeat * 4)
    out["search_ms"] = summary_ms(search)
    out["passages"] = n
    say(f"FAISS search over {n} passages: p50 {pct(search, 50):.3f} ms")
    return out


# -- in-process ------------------------------------------------------------------------------


def run_inproc(args: argparse.Namespace, store: Path, results: dict[str, Any]) -> dict[str, Any]:
    rounds = 2 if args.quick else 4
    from chuchu.index import vectors as vec

    out: dict[str, Any] = {}
    for backend in ("onnx", "torch"):
        s = searcher(store, backend)
        for language, questions in (("zh", dev_questions()), ("en", ENGLISH)):
            for q in questions[:3]:
                s.run(q, 5)  # warm
            stages: dict[str, list[float]] = {}
            index, kind, n = s.snapshot.vectors, s.snapshot.vector_info, len(s.snapshot.passages)
            for _ in range(rounds):
                for q in questions:
                    # The limit again, question by question beside the answer: the machine's load
                    # drifts between sections, and this ratio should not.
                    t = time.perf_counter()
                    vec.search(index, kind, s.embedder.embed_queries([q]), n, None)
                    stages.setdefault("limit", []).append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    result = s.run(q, 5)
                    total = (time.perf_counter() - t) * 1000
                    for name, ms in result.timings_ms.items():
                        stages.setdefault(name.removesuffix("_ms"), []).append(ms)
                    stages.setdefault("total", []).append(total)
            out.setdefault(backend, {})[language] = {k: summary_ms(v) for k, v in stages.items()}
            say(f"{backend} {language}: p50 {pct(stages['total'], 50):.1f} ms, p95 {pct(stages['total'], 95):.1f} ms")
        if backend == "onnx":
            out["concurrent"] = concurrent(s, dev_questions() + ENGLISH, 16, 5 if args.quick else 10)
            say(f"onnx, 16 threads at once: {out['concurrent']}")
        del s
    return out


def concurrent(s: Any, questions: list[str], threads: int, seconds: float) -> dict[str, Any]:
    """Questions/s with ``threads`` threads asking at once, and the questions per model call (the
    Searcher's micro-batching, index.batching); the batch-16 encode of the same moment beside it."""
    import threading

    batcher = s._batcher
    stop = time.monotonic() + seconds
    counts = [0] * threads
    batches, asked = batcher.batches, batcher.questions

    def ask(i: int) -> None:
        j = i
        while time.monotonic() < stop:
            s.run(questions[j % len(questions)], 5)
            counts[i] += 1
            j += threads

    began = time.perf_counter()
    workers = [threading.Thread(target=ask, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    sixteen = timed(lambda: s.embedder.embed_queries(questions[:16]), 8, 1)
    calls = batcher.batches - batches
    return {
        "threads": threads,
        "qps": round(sum(counts) / elapsed, 1),
        "questions_per_call": round((batcher.questions - asked) / max(1, calls), 1),
        "batch16_qps": round(16 / (pct(sixteen, 50) / 1000), 1),
    }


# -- HTTP ------------------------------------------------------------------------------------

WRK_SCRIPT = r"""
local questions = {}
for line in io.lines(os.getenv("BENCH_QUESTIONS")) do questions[#questions + 1] = line end
local counter = 0
request = function()
  counter = counter + 1
  local q = questions[(counter % #questions) + 1]
  return wrk.format("GET", "/api/search?k=5&q=" .. q)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %d, "seconds": %.3f, "p50": %.3f, "p95": %.3f, "p99": %.3f, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pss_tree(pid: int, children: bool = True) -> dict[str, Any]:
    """PSS and RSS (MB) of a process and all its descendants (or itself alone), from /proc/<pid>/smaps_rollup."""
    pids = [pid]
    i = 0
    while children and i < len(pids):
        try:
            children = Path(f"/proc/{pids[i]}/task/{pids[i]}/children").read_text().split()
        except OSError:
            children = []
        pids.extend(int(c) for c in children)
        i += 1
    pss = rss = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
        except OSError:
            pass
    return {"processes": len(pids), "pss_mb": round(pss / 1024, 1), "rss_mb": round(rss / 1024, 1)}


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: `apt-get install -y wrk` (make bench does it).")
    return path


def run_http(args: argparse.Namespace, store: Path, results: dict[str, Any]) -> dict[str, Any]:
    wrk = ensure_wrk()
    seconds = args.http_seconds or (10 if args.quick else 20)
    from urllib.parse import quote

    qfile = WORK / "questions.txt"
    qfile.write_text("\n".join(quote(q) for q in dev_questions() + ENGLISH) + "\n")
    lua = WORK / "wrk.lua"
    lua.write_text(WRK_SCRIPT)
    out: dict[str, Any] = {"configs": {}}
    # The default (make run) and the former default beside it.
    configs = {
        "default: 1 worker × 16 threads": {},
        "2 workers × 4 threads (the former default)": {"workers": 2, "threads": 4},
    }
    # The raw encode, timed in this process just before and just after each wrk run: the machine's
    # speed drifts by a third within a bench, and a ratio to the limit section alone measured that.
    model = embedder("onnx")
    questions = dev_questions() + ENGLISH
    for label, extra in configs.items():
        out["configs"][label] = http_config(wrk, lua, qfile, store, seconds, "onnx", extra, (model, questions))
    return out


def limit_now(model: Any, questions: Sequence[str]) -> dict[str, float]:
    """The raw encode at this moment: one question p50 ms, and questions/s 16 at a time."""
    one, sixteen = raw_encode(model, questions, 30, 6, warm=1)
    return {"one_ms": pct(one, 50), "batch16_qps": 16 / (pct(sixteen, 50) / 1000)}


def alongside(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round((before[k] + after[k]) / 2, 2) for k in before}


def http_config(
    wrk: str,
    lua: Path,
    qfile: Path,
    store: Path,
    seconds: int,
    backend: str,
    extra: dict[str, Any],
    raw: tuple[Any, Sequence[str]],
) -> dict[str, Any]:
    port = free_port()
    env = chuchu_env(store=store, port=port, embedding_backend=backend, log_level="WARNING", **extra)
    env["BENCH_QUESTIONS"] = str(qfile)
    log_file = open(WORK / f"serve-{port}.log", "w")
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "chuchu"), "serve"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out: dict[str, Any] = {"backend": backend, **extra}
    try:
        wait_healthy(port, server)
        # Every worker answers once before the clock starts (each loads the model itself).
        subprocess.run(
            [wrk, "-t1", "-c8", "-d3s", "-s", str(lua), f"http://127.0.0.1:{port}"],
            env=env,
            capture_output=True,
            check=False,
        )
        out["memory_idle"] = pss_tree(server.pid)
        for clients in (1, 4, 16):
            threads = min(clients, 2)
            before = limit_now(*raw)
            proc = subprocess.run(
                [
                    wrk,
                    f"-t{threads}",
                    f"-c{clients}",
                    f"-d{seconds}s",
                    "--timeout",
                    "10s",
                    "-s",
                    str(lua),
                    f"http://127.0.0.1:{port}",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH ")), None)
            if line is None:
                raise RuntimeError(f"wrk gave no figures: {proc.stdout} {proc.stderr}")
            row = json.loads(line[6:])
            row["qps"] = round(row["requests"] / row["seconds"], 1)
            row["errors"] = sum(row[k] for k in ("connect", "read", "write", "status", "timeout"))
            row["limit"] = alongside(before, limit_now(*raw))
            out[f"c{clients}"] = row
            figures = f"p50 {row['p50']:.1f} ms p99 {row['p99']:.1f} ms, {row['qps']}/s, errors {row['errors']}"
            say(f"{backend} {extra or 'default'} c={clients}: {figures}")
        out["memory_loaded"] = pss_tree(server.pid)
        out["memory_loaded"]["master_pss_mb"] = pss_tree(server.pid, children=False)["pss_mb"]
        say(f"server memory: {out['memory_loaded']}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log_file.close()
    return out


def wait_healthy(port: int, server: subprocess.Popen[bytes], timeout: float = 240) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"chuchu serve exited ({server.returncode}); see {WORK}/serve-{port}.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("chuchu serve did not become healthy")


# -- builds ----------------------------------------------------------------------------------


def run_build(args: argparse.Namespace, store: Path, results: dict[str, Any]) -> dict[str, Any]:
    from chuchu.service.settings import Settings  # only for the corpus default

    corpora = {"seed": Settings().corpus}
    if IQA.is_dir():
        sub = WORK / f"iqa-{args.iqa_files}"
        if not sub.is_dir():
            sub.mkdir(parents=True)
            for f in sorted(IQA.glob("answers_*.txt"))[: args.iqa_files]:
                shutil.copy(f, sub / f.name)
        corpora[f"insuranceqa ({args.iqa_files * 100} answers)"] = sub
    out: dict[str, Any] = {}
    for name, corpus in corpora.items():
        row: dict[str, Any] = {}
        texts = passages_of(corpus)
        row["passages"] = len(texts)
        row["plain_st_fp32"] = child(["plain", "--corpus", str(corpus)])
        for backend in ("torch", "onnx", "onnx-int8"):
            row[backend] = child(["build", "--corpus", str(corpus), "--backend", backend])
            say(f"{name} {backend}: {row[backend]}")
        say(f"{name} plain sentence-transformers: {row['plain_st_fp32']}")
        out[name] = row
    return out


def passages_of(corpus: Path) -> list[str]:
    from chuchu.corpus.documents import scan_corpus
    from chuchu.corpus.errors import DocumentUnreadable
    from chuchu.corpus.splitting import split_document
    from chuchu.index.build import embedding_text

    texts = []
    for item in scan_corpus(corpus):
        if not isinstance(item, DocumentUnreadable):
            texts.extend(embedding_text(p) for p in split_document(item))
    return texts


def child(argv: list[str]) -> dict[str, Any]:
    """Run one build measurement in a fresh process: its own peak memory, no warm caches."""
    proc = subprocess.run(
        [sys.executable, __file__, "_child", *argv], cwd=ROOT, capture_output=True, text=True, check=False
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("CHILD ")), None)
    if line is None:
        raise RuntimeError(f"child {argv} failed: {proc.stderr[-3000:]}")
    return json.loads(line[6:])


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("plain", "build"))
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--backend", default="onnx")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    texts = passages_of(args.corpus)
    if args.what == "plain":
        # Plain sentence-transformers fp32, as a user would call it: one encode of every passage.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        from chuchu.index.default_model import ensure_default_model

        st = SentenceTransformer(str(ensure_default_model(MODELS)), device="cpu", local_files_only=True)
        t = time.perf_counter()
        st.encode(texts, prompt_name="passage", batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        seconds = time.perf_counter() - t
        result = {"seconds": round(seconds, 1), "passages_per_s": round(len(texts) / seconds, 1)}
    else:
        result = child_build(args.corpus, args.backend, len(texts))
    # VmHWM, not ru_maxrss: ru_maxrss survives exec, so a child would report its parent's peak.
    result["peak_rss_mb"] = peak_rss_mb()
    print("CHILD " + json.dumps(result))
    return 0


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def child_build(corpus: Path, backend: str, n: int) -> dict[str, Any]:
    import chuchu.index.build as build_module
    from chuchu.index.build import build_index
    from chuchu.index.cache import EmbeddingCache
    from chuchu.index.embedder import load_embedder
    from chuchu.index.evaluate import load_questions, retriever, run, score
    from chuchu.index.live import LiveIndex
    from chuchu.index.store import Store

    sentence_seconds = [0.0]
    write_vectors = build_module.write_vectors

    def timed_sentences(*a: Any, **k: Any) -> Any:  # the sentence vectors' share of the build
        t = time.perf_counter()
        try:
            return write_vectors(*a, **k)
        finally:
            sentence_seconds[0] += time.perf_counter() - t

    build_module.write_vectors = timed_sentences
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        model = load_embedder("default", MODELS, backend)  # loaded before the clock: a build's model load is seconds
        store = Store(Path(tmp) / "store")
        with EmbeddingCache(Path(tmp) / "cache", model.fingerprint, model.dimension) as cache:
            t = time.perf_counter()
            cold = build_index(corpus, store, model, batch_size=32, cache=cache)
            cold_s = time.perf_counter() - t
            cold_sentences_s = sentence_seconds[0]
            t = time.perf_counter()
            again = build_index(corpus, store, model, batch_size=32, cache=cache)
            rebuild_s = time.perf_counter() - t
        result: dict[str, Any] = {
            "seconds": round(cold_s, 1),
            "passages_per_s": round(cold.embedded / cold_s, 1),
            "embedded": cold.embedded,
            "rebuild_seconds": round(rebuild_s, 2),
            "rebuild_embedded": again.embedded,
            "sentences": store_sentences(cold.path),
            "sentence_seconds": round(cold_sentences_s, 1),
        }
        if corpus.resolve() == seed_corpus().resolve():
            s = LiveIndex(store, lambda: model).searcher()
            scores = score(run(load_questions(DEV), retriever(s, 10)))
            result["dev_recall_at_5"] = round(scores.recall[5], 4)
    return result


def store_sentences(build: Path) -> int:
    """How many sentence vectors a build stored (index.sentence_vectors)."""
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    return int((manifest.get("settings", {}).get("sentences") or {}).get("count", 0))


def seed_corpus() -> Path:
    from chuchu.service.settings import Settings

    return Settings().corpus


# -- quality of the backends on InsuranceQA-zh ----------------------------------------------


def run_quality(args: argparse.Namespace, store: Path, results: dict[str, Any]) -> dict[str, Any]:
    """Recall on the InsuranceQA-zh `valid` questions (benchmarks/insuranceqa.py's corpus) per backend.

    Each backend builds the 4,000-answer corpus into a store of its own; the fp32 backends share
    one embedding cache (their vectors are the same model's), int8 has its own.
    """
    import insuranceqa

    from chuchu.index.build import build_index
    from chuchu.index.cache import EmbeddingCache
    from chuchu.index.live import LiveIndex
    from chuchu.index.store import Store

    if not (IQA.parent / "data").is_dir():
        return {"skipped": "no var/insuranceqa/data: run benchmarks/insuranceqa.py once"}
    prepared = insuranceqa.prepare(IQA.parent, rebuild="never")
    n = 200 if args.quick else 400
    out: dict[str, Any] = {"questions": n, "pool": len(prepared.placements)}
    for backend in ("onnx", "onnx-int8"):
        model = embedder(backend)
        store_b = Store(WORK / f"iqa-store-{backend}")
        with EmbeddingCache(WORK / "iqa-cache", model.fingerprint, model.dimension) as cache:
            t = time.perf_counter()
            summary = build_index(IQA, store_b, model, batch_size=32, cache=cache, keep=2)
            say(f"{backend}: InsuranceQA build {time.perf_counter() - t:.0f} s, {summary.embedded} embedded")
        s = LiveIndex(store_b, lambda m=model: m).searcher()
        figures = insuranceqa.evaluate(
            s, prepared.questions[:n], prepared.placements, ("zh", "en"), ("hybrid", "dense")
        )
        out[backend] = {
            f"{lang} {mode}": {k: round(v, 4) for k, v in row.items()}
            for lang, modes in figures.items()
            for mode, row in modes.items()
        }
        say(f"{backend}: {out[backend]}")
    return out


# -- scale -----------------------------------------------------------------------------------


def run_scale(args: argparse.Namespace, store: Path, results: dict[str, Any]) -> dict[str, Any]:
    import faiss

    from chuchu.index import vectors as vec

    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    rng = np.random.default_rng(0)
    d = 384
    # Clustered like sentence embeddings (a few thousand topics), not uniform noise, which no
    # approximate index handles well and no corpus looks like.
    centres = rng.standard_normal((2048, d)).astype(np.float32)
    out: dict[str, Any] = {
        "ef_search": vec.EF_SEARCH,
        "m": vec.HNSW_M,
        "ef_construction": vec.EF_CONSTRUCTION,
        "sizes": {},
    }
    for n in sizes:
        x = np.empty((n, d), dtype=np.float32)
        for start in range(0, n, 100_000):
            m = min(100_000, n - start)
            x[start : start + m] = centres[rng.integers(0, len(centres), m)] + 0.9 * rng.standard_normal((m, d)).astype(
                np.float32
            )
        faiss.normalize_L2(x)
        queries = x[rng.integers(0, n, 200)] + x[rng.integers(0, n, 200)]
        faiss.normalize_L2(queries)
        flat = faiss.IndexFlatIP(d)
        flat.add(x)
        exact_ms = [ms for q in queries[:50] for ms in timed(lambda q=q, f=flat: f.search(q[None], 10), 1, 0)]
        _, truth = flat.search(queries, 10)
        t = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(d, vec.HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = vec.EF_CONSTRUCTION
        hnsw.add(x)
        build_s = time.perf_counter() - t
        # The efSearch a build of this size would choose (index.vectors.choose_ef_search).
        chosen, _, _ = vec.choose_ef_search(hnsw, x)
        row: dict[str, Any] = {
            "exact_p50_ms": round(pct(exact_ms, 50), 2),
            "hnsw_build_s": round(build_s, 1),
            "chosen_ef": chosen,
            "ef": {},
        }
        for ef in sorted({32, 64, 128, 256, 512, 1024, 2048, chosen}):
            hnsw.hnsw.efSearch = ef
            ms = [m for q in queries for m in timed(lambda q=q, h=hnsw: h.search(q[None], 10), 1, 0)]
            _, found = hnsw.search(queries, 10)
            recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
            row["ef"][ef] = {
                "p50_ms": round(pct(ms, 50), 3),
                "p95_ms": round(pct(ms, 95), 3),
                "recall_at_10": round(recall, 4),
            }
        out["sizes"][n] = row
        say(f"scale {n}: exact p50 {row['exact_p50_ms']} ms, HNSW built in {build_s:.0f} s, {row['ef']}")
        del x, flat, hnsw
    return out


# -- ratios ----------------------------------------------------------------------------------


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    limit = r.get("limit")
    if not limit:
        return out
    for backend in ("onnx", "torch"):
        enc = limit["encode"][backend]
        floor = enc["one_ms"]["p50"] + limit["search_ms"]["p50"]
        out[f"{backend}: limit one question, ms (encode + search)"] = round(floor, 2)
        for lang in ("zh", "en"):
            got = r.get("inproc", {}).get(backend, {}).get(lang)
            if got:
                out[f"{backend}: in-process p50 / limit, {lang} (target ≤ 1.15)"] = round(
                    got["total"]["p50"] / floor, 2
                )
            if got and "limit" in got:
                out[f"{backend}: in-process p50 / limit measured alongside, {lang} (target ≤ 1.15)"] = round(
                    got["total"]["p50"] / got["limit"]["p50"], 2
                )
    conc = r.get("inproc", {}).get("concurrent")
    if conc:
        out["onnx: in-process throughput at 16 threads / batch-16 encode of the same moment"] = round(
            conc["qps"] / conc["batch16_qps"], 2
        )
    for name, cfg in r.get("http", {}).get("configs", {}).items():
        enc = limit["encode"][cfg["backend"]]
        floor = enc["one_ms"]["p50"] + limit["search_ms"]["p50"]
        out[f"HTTP {name}: p50 at 1 client / limit (target ≤ 1.3)"] = round(cfg["c1"]["p50"] / floor, 2)
        out[f"HTTP {name}: throughput at 16 / batch-16 encode (target ≥ 0.75)"] = round(
            cfg["c16"]["qps"] / enc["batch16_qps"], 2
        )
        if "limit" in cfg["c1"]:  # the raw encode timed just before and after the same wrk run
            near = cfg["c1"]["limit"]["one_ms"] + limit["search_ms"]["p50"]
            out[f"HTTP {name}: p50 at 1 client / limit measured alongside (target ≤ 1.3)"] = round(
                cfg["c1"]["p50"] / near, 2
            )
            out[f"HTTP {name}: throughput at 16 / batch-16 encode measured alongside (target ≥ 0.75)"] = round(
                cfg["c16"]["qps"] / cfg["c16"]["limit"]["batch16_qps"], 2
            )
        out[f"HTTP {name}: errors"] = sum(cfg[f"c{c}"]["errors"] for c in (1, 4, 16))
        out[f"HTTP {name}: PSS MB (target ≤ 1024)"] = cfg["memory_loaded"]["pss_mb"]
    q = r.get("quality", {})
    if "onnx" in q and "onnx-int8" in q:
        for key in q["onnx"]:
            out[f"InsuranceQA valid {key}: recall@5 int8 − fp32 (target ≥ −0.01)"] = round(
                q["onnx-int8"][key]["recall@5"] - q["onnx"][key]["recall@5"], 4
            )
    for corpus, row in r.get("build", {}).items():
        if not isinstance(row, dict) or "plain_st_fp32" not in row:
            continue
        base = row["plain_st_fp32"]["passages_per_s"]
        for backend in ("torch", "onnx", "onnx-int8"):
            if backend in row:
                got = row[backend]
                out[f"build {corpus}, {backend}: passages/s / plain ST fp32 (target ≥ 2.5)"] = round(
                    got["passages_per_s"] / base, 2
                )
                # The same build without its sentence vectors' share (index.sentence_vectors):
                # the passages' embedding alone, the work plain sentence-transformers does.
                alone = got["seconds"] - got.get("sentence_seconds", 0.0)
                if got.get("sentence_seconds") and alone > 0:
                    out[f"build {corpus}, {backend}: the passages alone / plain ST fp32"] = round(
                        got["embedded"] / alone / base, 2
                    )
    for n, row in r.get("scale", {}).get("sizes", {}).items():
        chosen = row.get("chosen_ef")
        at = row["ef"].get(str(chosen), row["ef"].get(chosen)) if chosen else None
        if at:
            out[f"scale {int(n):,}: HNSW p50 ms at the build's efSearch {chosen} (target ≤ 10 at 1M)"] = at["p50_ms"]
            out[f"scale {int(n):,}: recall@10 at the build's efSearch {chosen} (target ≥ 0.95)"] = at["recall_at_10"]
    return out


SECTION_RUNNERS: dict[str, Callable[[argparse.Namespace, Path, dict[str, Any]], dict[str, Any]]] = {
    "limit": run_limit,
    "inproc": run_inproc,
    "http": run_http,
    "build": run_build,
    "quality": run_quality,
    "scale": run_scale,
}

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        sys.exit(child_main(sys.argv[2:]))
    sys.exit(main())
