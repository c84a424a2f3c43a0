"""The `chuchu` command: build, builds, rollback, serve, ask, eval, settings."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chuchu.corpus.errors import ChuchuError
from chuchu.index.fusion import MODES
from chuchu.service.settings import Settings

log = logging.getLogger("chuchu")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.load(
            corpus=getattr(args, "corpus", None),
            store=getattr(args, "store", None),
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
        )
        configure_logging(settings.log_level)
        return int(args.run(args, settings) or 0)
    except ChuchuError as exc:
        print(f"chuchu: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def configure_logging(level: str) -> None:
    """Log to stderr once, at the entry point."""
    logging.basicConfig(level=level.upper(), format="%(levelname)s %(name)s: %(message)s")
    # faiss logs at INFO each CPU-specific module it tries and does not find: noise, not news.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chuchu", description="Cited answers from Chinese documents.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    _add_build_commands(sub)

    p = sub.add_parser("corpus", help="Look at the corpus as a build reads it.")
    corpus_sub = p.add_subparsers(required=True, metavar="ACTION")
    p = corpus_sub.add_parser(
        "check", help="Per document: encoding, passages, captions, headings, joined breaks, duplicates, skipped."
    )
    p.add_argument("--corpus", type=Path, help="Directory of the documents (default: the corpus/ package).")
    p.add_argument("--strict", action="store_true", help="Exit 2 when any file cannot be read.")
    p.set_defaults(run=_corpus_check)

    p = sub.add_parser("serve", help="Serve the web pages and the JSON API with gunicorn.")
    p.add_argument("--host", help="Address to listen on (default 127.0.0.1).")
    p.add_argument("--port", type=int, help="Port to listen on (default 8000).")
    p.add_argument("--store", type=Path, help="Directory of the index builds.")
    p.set_defaults(run=_serve)

    p = sub.add_parser("ask", help="Answer a question in the terminal, with citations.")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=None, help="How many passages (default 5).")
    p.add_argument("--json", action="store_true", help="Print the API's JSON instead of text.")
    p.add_argument("--store", type=Path, help="Directory of the index builds.")
    p.set_defaults(run=_ask)

    p = sub.add_parser("eval", help="Measure recall@1/5/10 and MRR@10 on a question file.")
    p.add_argument("--questions", type=Path, nargs="+", required=True, help="JSONL files in the format of shared/eval.")
    p.add_argument("-k", type=int, default=10, help="Passages retrieved per question (default 10).")
    p.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    p.add_argument("--mode", choices=MODES, default="hybrid", help="Ranking to measure (default hybrid).")
    p.add_argument("--compare", action="store_true", help="Measure the three modes side by side.")
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="Fit the confidence's weights on these questions and print them with leave-one-out figures.",
    )
    p.add_argument("--store", type=Path, help="Directory of the index builds.")
    p.set_defaults(run=_eval)

    p = sub.add_parser("settings", help="List every setting with its environment variable and value.")
    p.set_defaults(run=_settings)
    return parser


def _add_build_commands(sub: Any) -> None:
    """build, builds and rollback: the commands that write the store, each under its build lock."""
    p = sub.add_parser("build", help="Build the index from the corpus and publish it.")
    p.add_argument("--corpus", type=Path, help="Directory of the documents (default: the corpus/ package).")
    p.add_argument("--store", type=Path, help="Directory of the index builds (default: var/index).")
    p.add_argument("--if-missing", action="store_true", help="Do nothing when a live build exists.")
    p.add_argument("--wait", action="store_true", help="Wait for a build already running on the store to finish.")
    p.add_argument("--strict", action="store_true", help="Stop at the first file that cannot be read.")
    p.add_argument(
        "--gate",
        type=Path,
        metavar="QUESTIONS",
        help="Measure the new build on this question file before publishing it, and refuse it when its "
        "recall@5 is more than CHUCHU_GATE_MARGIN below the live build's.",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="Embed on a Ray cluster (host:port, ray://host:port or auto); without ADDRESS, on a Ray cluster "
        "started on this machine for the build. Needs the extra: pip install 'chuchu[ray]'.",
    )
    p.set_defaults(run=_build)

    p = sub.add_parser("builds", help="List the published builds: id, time, counts, quality, which is live.")
    p.add_argument("--json", action="store_true", help="Print the list as JSON.")
    p.add_argument("--store", type=Path, help="Directory of the index builds.")
    p.set_defaults(run=_builds)

    p = sub.add_parser("rollback", help="Make an earlier build live again (by default the one before the live one).")
    p.add_argument("build_id", nargs="?", metavar="ID", help="The build to make live (see `chuchu builds`).")
    p.add_argument("--wait", action="store_true", help="Wait for a build running on the store to finish.")
    p.add_argument("--store", type=Path, help="Directory of the index builds.")
    p.set_defaults(run=_rollback)


def _corpus_check(args: argparse.Namespace, settings: Settings) -> int:
    from chuchu.corpus.splitting import SplitOptions
    from chuchu.index.corpus_check import check_corpus, format_report

    report = check_corpus(settings.corpus, SplitOptions(max_chars=settings.max_chars, min_chars=settings.min_chars))
    print(format_report(report))
    return 2 if args.strict and report.unreadable else 0


def _build(args: argparse.Namespace, settings: Settings) -> int:
    from chuchu.corpus.splitting import SplitOptions
    from chuchu.index.build import build_index
    from chuchu.index.cache import EmbeddingCache
    from chuchu.index.gate import Gate
    from chuchu.index.lock import BuildLock
    from chuchu.index.ray_embedding import RayOptions
    from chuchu.index.store import Store

    store = Store(settings.store)
    ray = RayOptions(args.ray, settings.model, settings.model_cache) if args.ray else None
    if args.if_missing and store.live_id() is not None:
        print(f"chuchu: build {store.live_id()} is live at {store.root}; nothing to do.")
        return 0
    gate = Gate(args.gate, settings.gate_margin) if args.gate else None
    # The lock first: a second build stops at once rather than after loading the model.
    with BuildLock(store.root).acquire(wait=args.wait) as lock:
        embedder = _embedder(settings)
        with (
            EmbeddingCache(settings.embedding_cache, embedder.fingerprint, embedder.dimension) as cache,
            _ProgressBar() as bar,
        ):
            summary = build_index(
                settings.corpus,
                store,
                embedder,
                SplitOptions(max_chars=settings.max_chars, min_chars=settings.min_chars),
                batch_size=settings.batch_size,
                progress=bar.update,
                cache=cache,
                lock=lock,
                keep=settings.keep_builds,
                gate=gate,
                strict=args.strict,
                approximate_above=settings.approximate_above,
                ray=ray,
            )
    for failure in summary.failures:
        print(f"chuchu: skipped {failure}", file=sys.stderr)
    _print_summary(summary)
    return 0


def _embedder(settings: Settings) -> Any:
    """The model for a build, loaded only if some passage is not in the embedding cache."""
    from chuchu.index.lazy_embedder import load_lazily

    return load_lazily(settings.model, settings.model_cache, settings.embedding_cache, settings.embedding_backend)


class _ProgressBar:
    """tqdm over the passages to embed; shown only once there are some, since only cache misses are embedded."""

    def __init__(self) -> None:
        self._bar: Any = None

    def update(self, done: int, total: int, unit: str = "passage") -> None:
        if self._bar is not None and self._bar.unit != unit:
            # The sentences follow the passages (index.sentence_vectors): a bar of their own.
            self._bar.close()
            self._bar = None
        if self._bar is None:
            from tqdm import tqdm

            # With the total known, tqdm shows the rate (passage/s) and the time left.
            self._bar = tqdm(total=total, unit=unit, desc=f"embedding {unit}s", file=sys.stderr)
        self._bar.total = max(total, done)
        self._bar.update(done - self._bar.n)

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def _print_summary(summary: Any) -> None:
    c = summary.changes
    if summary.replaced_damaged:
        since = f" (build {c.since} was live, but damaged: nothing to compare with)"
    else:
        since = f" since build {c.since}" if c.since else " (no build was live)"
    print(f"built {summary.build_id} in {summary.seconds:.1f} s → {summary.path}")
    for label, count, t in (("documents", summary.documents, c.documents), ("passages", summary.passages, c.passages)):
        print(
            f"  {label:<9} {count:>6}: {t.added} added, {t.changed} changed, {t.removed} removed, "
            f"{t.unchanged} unchanged{since if label == 'documents' else ''}"
        )
    print(f"  vectors: {summary.embedded} passages embedded, {summary.reused} reused from the embedding cache")
    print(f"  vector index: {_vector_index(summary.vectors.record())}")
    if summary.failures:
        print(f"  {len(summary.failures)} files unreadable, skipped")
    if summary.quality:
        q = summary.quality
        line = f"  quality on {q['questions']['file']}: {_quality(q)}"
        compared = q.get("compared_with")
        line += f"; live build R@5 {compared['recall@5']:.3f}" if compared else "; no live build to compare with"
        print(line)
    if summary.replaced_damaged:
        print(f"  replaced the damaged live build {c.since}: {summary.replaced_damaged}")
    if summary.swept:
        print(f"  removed unfinished builds of killed runs: {', '.join(summary.swept)}")
    if summary.pruned:
        print(f"  removed old builds: {', '.join(summary.pruned)}")


def _quality(q: dict[str, Any]) -> str:
    def figure(name: str) -> str:
        value = q.get(name)
        return f"{value:.3f}" if isinstance(value, int | float) else "-"

    return (
        f"R@1 {figure('recall@1')}  R@5 {figure('recall@5')}  R@10 {figure('recall@10')}  "
        f"MRR@10 {figure('mrr@10')}  abstention {figure('abstention_accuracy')}"
    )


def _vector_index(record: dict[str, Any]) -> str:
    if record.get("kind", "exact") == "exact":
        return "exact"
    recall = record.get("recall_at_10", float("nan"))
    return f"{record['kind']}, recall@10 {recall:.3f} against exact search on {record.get('sample')} queries"


def _builds(args: argparse.Namespace, settings: Settings) -> int:
    from chuchu.index.store import Store

    store = Store(settings.store)
    builds = store.list_builds()
    if args.json:
        rows = [
            {
                "id": b.build_id,
                "built_at": b.built_at,
                "live": b.live,
                "documents": b.documents,
                "passages": b.passages,
                "quality": b.quality,
                "vectors": b.vectors,
            }
            for b in builds
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not builds:
        print(f"No published build in {store.root}; run `chuchu build`.")
        return 0
    print(f"   {'build':<24}{'built (UTC)':<21}{'docs':>6}{'passages':>10}   {'vectors':<16}quality (hybrid, k=10)")
    for b in builds:
        built = (b.built_at or "?")[:19].replace("T", " ")
        quality = f"{_quality(b.quality)}  on {b.quality.get('questions', {}).get('file', '?')}" if b.quality else "-"
        docs = "?" if b.documents is None else str(b.documents)
        passages = "?" if b.passages is None else str(b.passages)
        vectors = b.vectors.get("kind", "exact")
        if "recall_at_10" in b.vectors:
            vectors += f" R@10 {b.vectors['recall_at_10']:.3f}"
        row = f"{'*' if b.live else ' '}  {b.build_id:<24}{built:<21}{docs:>6}{passages:>10}   {vectors:<16}{quality}"
        print(row)
    live = store.live_id()
    if live is None:
        print("(no build is live)")
    elif not any(b.live for b in builds):
        print(f"(the live build {live} is missing from {store.builds})")
    else:
        print("* live")
    return 0


def _rollback(args: argparse.Namespace, settings: Settings) -> int:
    from chuchu.corpus.errors import NotFound
    from chuchu.index.lock import BuildLock
    from chuchu.index.store import Store

    store = Store(settings.store)
    if not store.builds.is_dir():  # said before taking the lock, which would create the store
        raise NotFound(f"No build has been published in {store.root}; run `chuchu build`.")
    # Under the build lock: a build publishing meanwhile would otherwise undo the rollback at
    # once, or prune the very build being made live.
    with BuildLock(store.root).acquire(wait=args.wait):
        before = store.live_id()
        now = store.rollback(args.build_id)
    print(
        f"build {now} is live (was {before or 'none'}); a running `chuchu serve` picks it up within "
        f"{settings.reload_seconds:g} s, or at once on POST /api/admin/reload."
    )
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from chuchu.service.server import serve

    serve(settings)
    return 0


def _live(settings: Settings) -> Any:
    from chuchu.service.app import live_index

    return live_index(settings)


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from chuchu.service.app import create_app
    from chuchu.service.queries import parse_query

    query = parse_query({"question": args.question, "k": args.k}, settings)
    app = create_app(settings, _live(settings))
    with app.test_request_context():
        from chuchu.service.answers import answer, answer_json

        searcher, result, took_ms = answer(app.extensions["chuchu"], query)
        hits = result.hits
        if args.json:
            print(json.dumps(answer_json(query, searcher, result, took_ms), ensure_ascii=False, indent=2))
            return 0
        verdict = result.verdict
        if not verdict.answerable:
            print(f"No good answer in the documents. {verdict.reason} The nearest passages:")
        for hit in hits:
            p = hit.passage
            print(f"{hit.rank}. [{hit.score:.3f}] {' '.join(p.text.split())}")
            if hit.answer and verdict.answerable:
                sentence = hit.document.text[hit.answer.start : hit.answer.end]
                print(f"   » {' '.join(sentence.split())} (chars {hit.answer.start}–{hit.answer.end})")
            print(f"   — {hit.document.title} · {p.file} ¶{p.paragraph} chars {p.start}–{p.end}")
        print(
            f"({len(hits)} passages from build {searcher.snapshot.build_id}, "
            f"confidence {verdict.confidence:.2f}, {took_ms:.0f} ms)"
        )
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from chuchu.index import evaluate
    from chuchu.index.question import calibration

    questions = [q for path in args.questions for q in evaluate.load_questions(path)]
    searcher = _live(settings).searcher()
    modes = MODES if args.compare else (args.mode,)
    outcomes = {mode: evaluate.run(questions, evaluate.retriever(searcher, args.k, mode)) for mode in modes}
    if args.calibrate:
        return _calibrate(outcomes[modes[0]])
    tables = {mode: evaluate.by_type(outcomes[mode]) for mode in modes}
    judged = outcomes[modes[0]]
    judgement = calibration.report(
        [o.verdict.confidence for o in judged], [o.question.answerable for o in judged], [o.answered for o in judged]
    )
    if args.json:
        figures: dict[str, Any] = {m: {t: _scores_json(s) for t, s in table.items()} for m, table in tables.items()}
        figures["abstention"] = {"mode": modes[0], **asdict(judgement)}
        figures["abstention_by_kind"] = evaluate.abstention_by_kind(judged)
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return 0
    columns = f"{'R@5':>6}{'R@10':>6}{'MRR':>6}{'abst':>6}"
    print(f"{'type':<16}{'n':>4}" + "".join(f"  {m + ' R@1':>12}{columns}" for m in tables))
    for name in next(iter(tables.values())):
        row = f"{name:<16}{tables[modes[0]][name].questions:>4}"
        for table in tables.values():
            s = table[name]
            abstention = f"{s.abstention_accuracy:>6.3f}" if s.abstention_accuracy is not None else f"{'-':>6}"
            if s.questions == s.unanswerable:  # recall means nothing where nothing is answerable
                row += f"  {'-':>12}{'-':>6}{'-':>6}{'-':>6}{abstention}"
            else:
                row += f"  {s.recall[1]:>12.3f}{s.recall[5]:>6.3f}{s.recall[10]:>6.3f}{s.mrr10:>6.3f}{abstention}"
        print(row)
    print("abst: share of questions where answering or saying 'no good answer' was right (all questions).")
    print(calibration.format_report(f"confidence ({modes[0]})", judgement))
    kinds = evaluate.abstention_by_kind(judged)
    print(
        "abstained, by the kind of answer asked: "
        + "; ".join(
            f"{kind} {u[0]}/{u[1]} unanswerable, {a[0]}/{a[1]} answerable"
            for kind, sides in kinds.items()
            for u, a in [(sides["unanswerable"], sides["answerable"])]
        )
    )
    print(f"build {searcher.snapshot.build_id}; {len(questions)} questions from {', '.join(map(str, args.questions))}")
    return 0


def _calibrate(outcomes: Sequence[Any]) -> int:
    """Fit the confidence's weights on all the questions; report them held out, question by question."""
    from chuchu.index.question import calibration, verdict

    answerable = [o.question.answerable for o in outcomes]
    answered = [o.answered for o in outcomes]
    fitted = calibration.fit([o.verdict.signals for o in outcomes], answered)
    shipped = [o.verdict.confidence for o in outcomes]
    print(
        calibration.format_report(
            "shipped weights, on these questions", calibration.report(shipped, answerable, answered)
        )
    )
    print(
        calibration.format_report("refitted, leave-one-out", calibration.report(fitted.held_out, answerable, answered))
    )
    print(f"shipped: WEIGHTS = {verdict.WEIGHTS}, BIAS = {verdict.BIAS}")
    print(f"refitted on all {len(outcomes)} questions: WEIGHTS = {fitted.weights}, BIAS = {fitted.bias}")
    return 0


def _scores_json(s: Any) -> dict[str, Any]:
    return {
        "questions": s.questions,
        "recall@1": s.recall[1],
        "recall@5": s.recall[5],
        "recall@10": s.recall[10],
        "mrr@10": s.mrr10,
        "unanswerable": s.unanswerable,
        "abstention_accuracy": s.abstention_accuracy,
    }


def _settings(args: argparse.Namespace, settings: Settings) -> int:
    for (env, help_text), value in zip(Settings.help().items(), settings.shown().values()):
        print(f"{env}={value}\n    {help_text}")
    return 0
