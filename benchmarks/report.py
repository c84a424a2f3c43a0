"""BENCHMARKS.md and its plots from the figures of one run of benchmarks/bench.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:begin (written by benchmarks/bench.py; edit outside the markers) -->"
END = "<!-- bench:end -->"


def write_report(r: dict[str, Any], report: Path, plots: Path) -> None:
    """Replace the measured part of the report (between the markers) and redraw the plots."""
    plots.mkdir(parents=True, exist_ok=True)
    body = "\n\n".join(
        part for part in (_header(r), _limit(r), _inproc(r), _http(r), _build(r), _scale(r), _ratios(r)) if part
    )
    _plots(r, plots)
    text = report.read_text(encoding="utf-8") if report.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    report.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}", encoding="utf-8")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _header(r: dict[str, Any]) -> str:
    m = r.get("machine", {})
    # A section run on its own (`--sections`) is merged into the results of the others: its start
    # is shown when it differs from the run's.
    began = r.get("began", {})
    sections = ", ".join(
        f"{k} {r[k]['seconds']:.0f} s" + (f" (run {began[k]})" if began.get(k, m.get("date")) != m.get("date") else "")
        for k in ("limit", "inproc", "http", "build", "quality", "scale")
        if k in r
    )
    return (
        f"Run of {m.get('date', '?')} on {m.get('cpus', '?')} CPUs, load average "
        f"{m.get('loadavg_1m_at_start', '?')} at the start (the machine is shared: figures are noisy, ratios are "
        f"taken within one run). Sections: {sections}."
    )


def _limit(r: dict[str, Any]) -> str:
    lim = r.get("limit")
    if not lim:
        return ""
    rows = [
        [b, e["one_ms"]["p50"], e["one_ms"]["p95"], e["batch16_ms"]["p50"], e["batch16_qps"]]
        for b, e in lim["encode"].items()
    ]
    s = lim["search_ms"]
    return (
        "### The limit: raw encode and raw search\n\n"
        + _table(["backend", "1 question p50 ms", "p95 ms", "16 questions p50 ms", "questions/s at 16"], rows)
        + f"\n\nFAISS search over the {lim['passages']} passages of the seed build: "
        f"p50 {s['p50']} ms, p95 {s['p95']} ms."
    )


def _inproc(r: dict[str, Any]) -> str:
    ip = r.get("inproc")
    if not ip:
        return ""
    rows = []
    for backend, langs in ip.items():
        if not isinstance(langs, dict) or backend in ("seconds", "concurrent"):
            continue
        for lang, st in langs.items():
            cells = [
                f"{st[k]['p50']} / {st[k]['p95']}" if k in st else "-"
                for k in ("encode", "dense", "lexical", "fusion", "answer", "total", "limit")
            ]
            rows.append([backend, lang, *cells])
    return (
        "### In process: answer time per stage, p50 / p95 ms (`Searcher.run`, k=5)\n\n"
        "`encode` is the question's encode through the model's batcher (index.batching: with one question at a "
        "time it runs on the asking thread at once), `dense` the search of the vectors; `answer` is reading the "
        "question, the answering sentence of each hit (for English questions from the build's sentence vectors) "
        "and the verdict. `limit alongside` is the raw encode and search of the same question, timed just before "
        "each answer.\n\n"
        + _table(
            ["backend", "questions", "encode", "dense", "lexical", "fuse", "answer", "total", "limit alongside"], rows
        )
        + _concurrent(ip.get("concurrent"))
        + "\n\n![in-process stages](benchmarks/plots/inproc.png)"
    )


def _concurrent(c: dict[str, Any] | None) -> str:
    if not c:
        return ""
    return (
        f"\n\n{c['threads']} threads asking at once (onnx, Chinese and English questions): {c['qps']} questions/s, "
        f"{c['questions_per_call']} questions per model call (index.batching); the batch-16 encode just after: "
        f"{c['batch16_qps']} questions/s."
    )


def _http(r: dict[str, Any]) -> str:
    h = r.get("http")
    if not h:
        return ""
    rows = []
    for name, cfg in h["configs"].items():
        for c in (1, 4, 16):
            x = cfg[f"c{c}"]
            near = x.get("limit", {})
            rows.append(
                [
                    name,
                    c,
                    x["p50"],
                    x["p95"],
                    x["p99"],
                    x["qps"],
                    x["errors"],
                    near.get("one_ms", "-"),
                    near.get("batch16_qps", "-"),
                ]
            )
    mem = [
        [
            name,
            cfg["memory_loaded"]["processes"],
            cfg["memory_loaded"]["pss_mb"],
            cfg["memory_loaded"].get("master_pss_mb", "-"),
            cfg["memory_loaded"]["rss_mb"],
        ]
        for name, cfg in h["configs"].items()
    ]
    return (
        "### Over HTTP: `chuchu serve`, `wrk` on `GET /api/search?k=5`, Chinese and English questions in turn\n\n"
        + _table(
            [
                "server",
                "clients",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "questions/s",
                "errors",
                "raw encode alongside, 1 question p50 ms",
                "raw encode alongside, questions/s at 16",
            ],
            rows,
        )
        + "\n\nThe raw encode alongside is timed in the benchmark's process just before and just after each wrk "
        "run (the mean of the two), with the server idle: the machine's speed drifts within a run.\n\n"
        "![HTTP](benchmarks/plots/http.png)\n\n"
        "Memory of the whole server after the load (master and workers; PSS counts shared pages once, and the "
        "master's share holds its part of the tokenizer and dictionary it loaded for the workers):\n\n"
        + _table(["server", "processes", "PSS MB", "of which master", "RSS MB (sum)"], mem)
    )


def _build(r: dict[str, Any]) -> str:
    b = r.get("build")
    if not b:
        return ""
    rows = []
    for corpus, row in b.items():
        if not isinstance(row, dict) or "plain_st_fp32" not in row:
            continue
        p = row["plain_st_fp32"]
        rows.append(
            [
                corpus,
                row["passages"],
                "plain sentence-transformers fp32",
                p["seconds"],
                p["passages_per_s"],
                "-",
                "-",
                "-",
                p["peak_rss_mb"],
            ]
        )
        for backend in ("torch", "onnx", "onnx-int8"):
            if backend in row:
                x = row[backend]
                rows.append(
                    [
                        corpus,
                        row["passages"],
                        f"chuchu build, {backend}",
                        x["seconds"],
                        x["passages_per_s"],
                        x["rebuild_seconds"],
                        x.get("dev_recall_at_5", "-"),
                        f"{x['sentences']} in {x['sentence_seconds']} s" if "sentences" in x else "-",
                        x["peak_rss_mb"],
                    ]
                )
    return (
        "### Builds: cold (fresh store and embedding cache, model loaded before the clock) and unchanged rebuild\n\n"
        + _table(
            [
                "corpus",
                "passages",
                "what",
                "cold s",
                "passages/s",
                "rebuild s",
                "dev recall@5",
                "sentence vectors (of the cold s)",
                "peak RSS MB",
            ],
            rows,
        )
        + "\n\n![builds](benchmarks/plots/build.png)"
    )


def _scale(r: dict[str, Any]) -> str:
    s = r.get("scale")
    if not s:
        return ""
    rows = []
    for n, row in s["sizes"].items():
        for ef, x in row["ef"].items():
            rows.append(
                [
                    f"{int(n):,}",
                    row["exact_p50_ms"],
                    row["hnsw_build_s"],
                    f"{ef} (the build's)" if str(ef) == str(row.get("chosen_ef")) else ef,
                    x["p50_ms"],
                    x["p95_ms"],
                    x["recall_at_10"],
                ]
            )
    return (
        f"### Scale: synthetic clustered vectors (384 d), HNSW M={s['m']}, efConstruction={s['ef_construction']}\n\n"
        + _table(["passages", "exact p50 ms", "HNSW build s", "efSearch", "HNSW p50 ms", "p95 ms", "recall@10"], rows)
        + "\n\n![scale](benchmarks/plots/scale.png)"
    )


def _ratios(r: dict[str, Any]) -> str:
    rows = [[k, v] for k, v in r.get("ratios", {}).items()]
    return "### Ratios of this run\n\n" + _table(["figure", "value"], rows) if rows else ""


def _plots(r: dict[str, Any], plots: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if r.get("inproc"):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        labels, bottoms = [], []
        stages = ("encode", "dense", "lexical", "fusion", "answer")
        bars = {s: [] for s in stages}
        for backend, langs in r["inproc"].items():
            if backend in ("seconds", "concurrent"):
                continue
            for lang, st in langs.items():
                labels.append(f"{backend} {lang}")
                for s in stages:
                    bars[s].append(st.get(s, {}).get("p50", 0))
        bottoms = [0.0] * len(labels)
        for s in stages:
            ax.barh(labels, bars[s], left=bottoms, label=s)
            bottoms = [a + b for a, b in zip(bottoms, bars[s])]
        ax.set_xlabel("p50 ms per stage")
        ax.legend()
        fig.tight_layout()
        fig.savefig(plots / "inproc.png", dpi=100)
        plt.close(fig)
    if r.get("http"):
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
        for name, cfg in r["http"]["configs"].items():
            cs = [1, 4, 16]
            a1.plot(cs, [cfg[f"c{c}"]["p50"] for c in cs], marker="o", label=name)
            a2.plot(cs, [cfg[f"c{c}"]["qps"] for c in cs], marker="o", label=name)
        a1.set_xlabel("clients")
        a1.set_ylabel("p50 ms")
        a2.set_xlabel("clients")
        a2.set_ylabel("questions/s")
        a2.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(plots / "http.png", dpi=100)
        plt.close(fig)
    if r.get("build"):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        names, values = [], []
        for corpus, row in r["build"].items():
            if not isinstance(row, dict) or "plain_st_fp32" not in row:
                continue
            for what in ("plain_st_fp32", "torch", "onnx", "onnx-int8"):
                if what in row:
                    names.append(f"{corpus[:14]} {what}")
                    values.append(row[what]["passages_per_s"])
        ax.barh(names, values)
        ax.set_xlabel("passages/s (cold)")
        fig.tight_layout()
        fig.savefig(plots / "build.png", dpi=100)
        plt.close(fig)
    if r.get("scale"):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for n, row in r["scale"]["sizes"].items():
            efs = list(row["ef"])
            ax.plot(
                [row["ef"][e]["p50_ms"] for e in efs],
                [row["ef"][e]["recall_at_10"] for e in efs],
                marker="o",
                label=f"{int(n):,}",
            )
        ax.set_xlabel("HNSW search p50 ms")
        ax.set_ylabel("recall@10 vs exact")
        ax.legend(title="passages")
        fig.tight_layout()
        fig.savefig(plots / "scale.png", dpi=100)
        plt.close(fig)
