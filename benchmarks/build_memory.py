"""Peak memory of one cold build as the corpus grows: python benchmarks/build_memory.py [--factors 1 10 100].

Each factor gets a synthetic corpus that many times the real one (tests/synthetic.py), built once
in a child process with a fresh store and a fresh embedding cache, so every passage is embedded
and nothing the parent holds (the corpus generator, an earlier build) counts. The child's peak
resident set is its own VmHWM, which it writes at exit (see _PEAK), never this process's.

``--embedder real`` runs the `chuchu build` command with the default model; ``--embedder hashing``
builds with the test suite's fake model, which shows what the build itself holds, in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script, only benchmarks/ is on the path
    sys.path.insert(0, str(ROOT))

from chuchu.index.manifest import MANIFEST  # noqa: E402
from chuchu.index.store import Store  # noqa: E402
from tests.synthetic import corpus_size, make_corpus  # noqa: E402

MIB = 1 << 20
# The child of a hashing build: argv is corpus, store, cache. Run from ROOT, so `tests` imports.
_HASHING_BUILD = """
import sys
from pathlib import Path

from chuchu.index.build import build_index
from chuchu.index.cache import EmbeddingCache
from chuchu.index.store import Store
from tests.fakes import HashingEmbedder

corpus, store, cache = (Path(arg) for arg in sys.argv[1:])
model = HashingEmbedder()
with EmbeddingCache(cache, model.fingerprint, model.dimension) as embedding_cache:
    build_index(corpus, Store(store), model, cache=embedding_cache)
"""


# Prepended to every child: at exit it writes its own peak resident set (VmHWM, KiB) to the file
# named by CHUCHU_BENCH_PEAK. Not ru_maxrss from wait4: Linux carries a process's ru_maxrss across
# fork and exec, so a child of a parent that holds the model (a pytest session) reports the
# parent's size. VmHWM belongs to the memory map, which exec replaces.
_PEAK = """
import atexit, os

def _write_peak():
    with open("/proc/self/status") as status:
        kib = next(line for line in status if line.startswith("VmHWM:")).split()[1]
    with open(os.environ["CHUCHU_BENCH_PEAK"], "w") as out:
        out.write(kib)

atexit.register(_write_peak)
"""
_CLI = """
import sys
from chuchu.service.cli import main

raise SystemExit(main(sys.argv[1:]))
"""


def measure_build(corpus_dir: Path, workdir: Path, embedder: str = "hashing") -> dict[str, Any]:
    """Build ``corpus_dir`` once in a child process; its counts, peak RSS (MiB), wall seconds and manifest.

    The store, cache and log go into a new directory under ``workdir``, so the build is always cold.
    """
    run = Path(tempfile.mkdtemp(prefix="build-", dir=workdir))
    store, cache = run / "store", run / "cache"
    command, env = _child(Path(corpus_dir), store, cache, embedder)
    env["CHUCHU_BENCH_PEAK"] = str(run / "peak.txt")
    with open(run / "log.txt", "wb") as log:
        began = time.perf_counter()
        status = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
        seconds = time.perf_counter() - began
    if status != 0:
        tail = (run / "log.txt").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"The build of {corpus_dir} exited with {status}:\n{tail}")
    peak_kib = int((run / "peak.txt").read_text(encoding="ascii"))
    manifest = json.loads((Store(store).live_path() / MANIFEST).read_text(encoding="utf-8"))
    return {
        "documents": manifest["documents"],
        "passages": manifest["passages"],
        "peak_rss_mb": peak_kib / 1024,
        "seconds": seconds,
        "manifest": manifest,
    }


def _child(corpus_dir: Path, store: Path, cache: Path, embedder: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment of the build child."""
    env = dict(os.environ)
    if embedder == "hashing":
        return [sys.executable, "-c", _PEAK + _HASHING_BUILD, str(corpus_dir), str(store), str(cache)], env
    if embedder != "real":
        raise ValueError(f"embedder must be 'real' or 'hashing', not {embedder!r}")
    # The model converted once into the project's var/models, unless the caller points elsewhere.
    env.setdefault("CHUCHU_MODEL_CACHE", str(ROOT / "var" / "models"))
    env.update(CHUCHU_STORE=str(store), CHUCHU_EMBEDDING_CACHE=str(cache))
    # The `chuchu` command, run by this Python so the peak can be written at exit.
    return [sys.executable, "-c", _PEAK + _CLI, "build", "--corpus", str(corpus_dir)], env


def measure_factors(factors: list[int], workdir: Path, embedder: str) -> list[dict[str, Any]]:
    """One row per factor: a synthetic corpus made and built cold, with its figures."""
    rows = []
    for factor in factors:
        corpus = make_corpus(ROOT / "corpus", Path(tempfile.mkdtemp(prefix=f"corpus-x{factor}-", dir=workdir)), factor)
        figures = measure_build(corpus, workdir, embedder)
        rows.append(
            {
                "factor": factor,
                "build_id": figures["manifest"]["build_id"],
                "documents": figures["documents"],
                "passages": figures["passages"],
                "corpus_mb": corpus_size(corpus) / MIB,
                "peak_rss_mb": figures["peak_rss_mb"],
                "seconds": figures["seconds"],
            }
        )
    for row in rows:
        row["peak_relative"] = row["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a text table; the relative peak is to the first factor's."""
    first = rows[0]["factor"] if rows else 1
    lines = [
        f"{'factor':>6} {'documents':>9} {'passages':>9} {'corpus MB':>9} {'peak RSS MB':>11} "
        f"{'seconds':>8} {f'peak/{first}x':>9}"
    ]
    for r in rows:
        lines.append(
            f"{r['factor']:>6} {r['documents']:>9} {r['passages']:>9} {r['corpus_mb']:>9.2f} "
            f"{r['peak_rss_mb']:>11.1f} {r['seconds']:>8.1f} {r['peak_relative']:>9.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10, 100], help="Corpus sizes, × the real one.")
    parser.add_argument("--embedder", choices=("real", "hashing"), default="real", help="The model the build uses.")
    parser.add_argument("--workdir", type=Path, help="Where corpora and builds go (default: a temporary directory).")
    parser.add_argument("--json", action="store_true", help="Print the rows as JSON instead of a table.")
    args = parser.parse_args(argv)
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="chuchu-build-memory-") as workdir:
            rows = measure_factors(args.factors, Path(workdir), args.embedder)
    else:
        args.workdir.mkdir(parents=True, exist_ok=True)
        rows = measure_factors(args.factors, args.workdir, args.embedder)
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
