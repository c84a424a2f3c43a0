"""Retrieval on InsuranceQA-zh: python benchmarks/insuranceqa.py [--split valid] [--questions 400] [--pool 4000].

An external check of the retrieval that the development questions (tests/data/dev.jsonl, 30
questions about 5 documents) cannot give. InsuranceQA (Feng et al. 2015; Chinese translation by
Hai Liang Wang, PyPI package ``insuranceqa-data``, GPL-3.0) has insurance questions, each with
the ids of its gold answers, and every question and answer in Chinese (``zh``) and English
(``en``). The data is downloaded with ``pip download`` into the work directory (default
``var/insuranceqa``, which git ignores) and used for measuring only: nothing of it enters the
repository.

What the script does:

1. ``pip download --no-deps insuranceqa-data==1.0`` (an sdist) and take ``answers.json.gz`` and
   ``{train,valid,test}.json.gz`` out of it.
2. Choose ``--questions`` questions of ``--split`` (fixed ``--seed``) and a pool of ``--pool``
   answers: the gold answers of those questions plus random others. Write the pool's Chinese
   text into ``corpus/`` as .txt files of ``--per-file`` answers, one answer a paragraph
   (separated by a blank line), with a catalog giving each file a neutral title, and record
   where each answer went (file and character span).
3. Build it with the real command, ``chuchu build``, in a child process with ``CHUCHU_CORPUS``,
   ``CHUCHU_STORE`` and ``CHUCHU_EMBEDDING_CACHE`` inside the work directory. The embedding
   cache is kept, so only the first build embeds (about 8 minutes for 4,300 passages on two
   cores); a build is skipped when the live one already holds this corpus with this code's
   fusion (``--build auto``).
4. Ask each question in Chinese and in English through ``Searcher.run`` (what the service
   answers with) in each mode, and print R@1, R@5, R@10, MRR@10, and the share of questions
   the service marked answerable (every question is answerable here: its gold answers are in
   the pool).

Which answer a retrieved passage is: by position, not by text. The reader may join a paragraph
that does not end a sentence with the next one across the blank line (5% of the answers end
without final punctuation; one version of the reader made 185 of 4,321 passages that way, the
next 4 of 4,432), and splits a paragraph over ``CHUCHU_MAX_CHARS`` at sentence ends (9% of the
answers), so a passage may be part of one answer, or the end of one and the start of the next.
Every passage keeps the exact file spans it is made of (``Passage.spans``), and
the script knows each answer's span in the file it wrote; a passage is an answer's when one of
its spans overlaps the answer's span. That holds whatever normalisation or joining the reader
does, and is what "the passage contains the gold answer, or the gold answer contains the
passage" says by text, plus the joined case, which text containment would miss. A hit also
counts for the near-duplicates it was returned for (``also_in``).

``evaluate(searcher, …)`` takes any Searcher, so other code can measure a modified one (say
``searcher.fusion = Fusion(...)``) over the same build without rebuilding; see ``prepare``.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
import os
import random
import subprocess
import sys
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "insuranceqa-data==1.0"
SDIST = "insuranceqa_data-1.0.tar.gz"
FILES = ("answers", "train", "valid", "test")
LANGUAGES = ("zh", "en")
KS = (1, 5, 10)


@dataclass(frozen=True)
class Question:
    """One InsuranceQA question in both languages, with the ids of its gold answers."""

    id: str
    zh: str
    en: str
    gold: frozenset[str]


@dataclass(frozen=True)
class Prepared:
    """A built benchmark corpus: its store, its questions, and where each answer was written."""

    workdir: Path
    store: Path
    questions: list[Question]
    placements: dict[str, tuple[str, int, int]]  # answer id → (file, start, end) in the decoded file


# -- the data -------------------------------------------------------------------------------


def fetch(workdir: Path) -> Path:
    """The data directory with the four .json.gz files, downloading the sdist with pip once."""
    data = workdir / "data"
    if all((data / f"{name}.json.gz").exists() for name in FILES):
        return data
    download = workdir / "download"
    sdist = download / SDIST
    if not sdist.exists():
        download.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", PACKAGE]
        subprocess.run([*command, "-d", str(download)], check=True, stdout=subprocess.DEVNULL)
    data.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if name.endswith(".json.gz") and name.removesuffix(".json.gz") in FILES:
                source = tar.extractfile(member)
                assert source is not None
                (data / name).write_bytes(source.read())
    return data


def load(data: Path, name: str) -> dict[str, Any]:
    """One of the data files: answers (id → zh, en) or a split (id → zh, en, answers, …)."""
    with gzip.open(data / f"{name}.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def choose_questions(split: dict[str, Any], n: int, seed: int) -> list[Question]:
    """n questions of a split, the same ones for the same seed."""
    ids = sorted(split, key=int)
    chosen = sorted(random.Random(seed).sample(ids, min(n, len(ids))), key=int)
    return [
        Question(i, split[i]["zh"].strip(), " ".join(split[i]["en"].split()), frozenset(split[i]["answers"]))
        for i in chosen
    ]


def choose_pool(answers: dict[str, Any], questions: Sequence[Question], size: int, seed: int) -> list[str]:
    """The answers to index: every gold answer of the questions, then random others, shuffled."""
    gold = sorted({a for q in questions for a in q.gold}, key=int)
    rng = random.Random(seed + 1)
    others = sorted((a for a in answers if a not in set(gold) and answers[a]["zh"].strip()), key=int)
    pool = gold + rng.sample(others, max(0, min(size - len(gold), len(others))))
    rng.shuffle(pool)
    return pool


def write_corpus(
    corpus: Path, answers: dict[str, Any], pool: Sequence[str], per_file: int
) -> dict[str, tuple[str, int, int]]:
    """Write the pool as .txt files of per_file answers a paragraph each; where each answer went.

    Each file gets a neutral title in catalog.json; without one, a document's title is its first
    line, here the first answer, which would then sit in the title field of every passage of
    the file. Files of an earlier run that this one does not write are removed.
    """
    corpus.mkdir(parents=True, exist_ok=True)
    placements: dict[str, tuple[str, int, int]] = {}
    catalog: dict[str, dict[str, str]] = {}
    written = set()
    for n, first in enumerate(range(0, len(pool), per_file)):
        name = f"answers_{n:03d}.txt"
        parts, offset = [], 0
        for answer_id in pool[first : first + per_file]:
            text = answers[answer_id]["zh"].strip()
            placements[answer_id] = (name, offset, offset + len(text))
            parts.append(text)
            offset += len(text) + 2  # the blank line between paragraphs
        content = "\n\n".join(parts) + "\n"
        path = corpus / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
        catalog[name] = {"title": f"答案集 {n + 1}", "source": "InsuranceQA"}
        written.add(name)
    for stale in corpus.glob("*.txt"):
        if stale.name not in written:
            stale.unlink()
    catalog_text = json.dumps(catalog, ensure_ascii=False, indent=1)
    if not (corpus / "catalog.json").exists() or (corpus / "catalog.json").read_text(encoding="utf-8") != catalog_text:
        (corpus / "catalog.json").write_text(catalog_text, encoding="utf-8")
    return placements


# -- the build ------------------------------------------------------------------------------


def build_needed(corpus: Path, store: Path) -> bool:
    """Whether the live build lacks this corpus or was made with another fusion than this code's."""
    from chuchu.corpus.documents import read_corpus
    from chuchu.index.fusion import Fusion
    from chuchu.index.manifest import Manifest
    from chuchu.index.store import Store

    try:
        manifest = Manifest.read(Store(store).live_path())
    except Exception:
        return True
    same_fusion = manifest.settings.get("fusion") == Fusion().record()
    return not same_fusion or manifest.corpus_hash != read_corpus(corpus).hash


def build(corpus: Path, store: Path, cache: Path, log_file: Path, poll: float = 15.0) -> None:
    """Run `chuchu build` in the background and report its progress until it ends."""
    env = dict(
        os.environ,
        CHUCHU_CORPUS=str(corpus),
        CHUCHU_STORE=str(store),
        CHUCHU_EMBEDDING_CACHE=str(cache),
        CHUCHU_MODEL_CACHE=os.environ.get("CHUCHU_MODEL_CACHE", str(ROOT / "var" / "models")),
    )
    chuchu = Path(sys.executable).with_name("chuchu")
    command = [str(chuchu)] if chuchu.exists() else [sys.executable, "-m", "chuchu.service.cli"]
    began = time.monotonic()
    with log_file.open("w", encoding="utf-8") as log:
        child = subprocess.Popen([*command, "build", "--wait"], cwd=ROOT, env=env, stdout=log, stderr=log)
        while child.poll() is None:
            time.sleep(poll)
            if child.poll() is None:
                _say(f"building ({time.monotonic() - began:.0f} s): {_last_line(log_file)}")
    output = log_file.read_text(encoding="utf-8", errors="replace")
    if child.returncode != 0:
        raise SystemExit(f"chuchu build failed (exit {child.returncode}); see {log_file}:\n{output[-2000:]}")
    _say(output.split("\r")[-1].strip())


def _last_line(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").replace("\r", "\n").strip()
    return text.splitlines()[-1] if text else "starting"


def prepare(
    workdir: Path,
    split: str = "valid",
    questions: int = 400,
    pool: int = 4000,
    per_file: int = 100,
    seed: int = 0,
    rebuild: str = "auto",
) -> Prepared:
    """Download, choose, write and (when needed) build; what evaluate needs besides a Searcher."""
    workdir = workdir.resolve()
    data = fetch(workdir)
    answers = load(data, "answers")
    chosen = choose_questions(load(data, split), questions, seed)
    corpus, store = workdir / "corpus", workdir / "store"
    placements = write_corpus(corpus, answers, choose_pool(answers, chosen, pool, seed), per_file)
    if rebuild == "always" or (rebuild == "auto" and build_needed(corpus, store)):
        build(corpus, store, workdir / "cache", workdir / "build.log")
    return Prepared(workdir, store, chosen, placements)


def searcher_for(store: Path, model_cache: Path = ROOT / "var" / "models") -> Any:
    """The service's searcher over the store's live build, with the real default model."""
    from chuchu.index.embedder import load_embedder
    from chuchu.index.live import LiveIndex
    from chuchu.index.store import Store

    return LiveIndex(Store(store), lambda: load_embedder("default", model_cache)).searcher()


# -- measuring ------------------------------------------------------------------------------


class AnswerMap:
    """Which answers a passage's file spans overlap."""

    def __init__(self, placements: dict[str, tuple[str, int, int]]) -> None:
        self._files: dict[str, list[tuple[int, int, str]]] = {}
        for answer_id, (file, start, end) in placements.items():
            self._files.setdefault(file, []).append((start, end, answer_id))
        for spans in self._files.values():
            spans.sort()
        self._starts = {file: [s for s, _, _ in spans] for file, spans in self._files.items()}

    def answers(self, passage: Any) -> set[str]:
        """The ids of the answers one passage is made of (in whole or in part)."""
        spans, starts = self._files.get(passage.file, []), self._starts.get(passage.file, [])
        found = set()
        for start, end in passage.spans:
            i = max(bisect.bisect_right(starts, start) - 1, 0)
            while i < len(spans) and spans[i][0] < end:
                if spans[i][1] > start:
                    found.add(spans[i][2])
                i += 1
        return found


def evaluate(
    searcher: Any,
    questions: Sequence[Question],
    placements: dict[str, tuple[str, int, int]],
    languages: Sequence[str] = LANGUAGES,
    modes: Sequence[str] = ("hybrid", "dense", "lexical"),
    k: int = 10,
    progress: bool = False,
) -> dict[str, dict[str, dict[str, float]]]:
    """Figures per language and mode: recall@1/5/10, MRR@10, and the share marked answerable."""
    where = AnswerMap(placements)
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for language in languages:
        for mode in modes:
            began = time.monotonic()
            ranks, answered = [], []  # answered: (marked answerable, first passage right)
            for q in questions:
                result = searcher.run(getattr(q, language), k, mode)
                ranks.append(
                    next(
                        (
                            h.rank
                            for h in result.hits
                            if any(where.answers(p) & q.gold for p in (h.passage, *h.also_in))
                        ),
                        None,
                    )
                )
                answered.append((result.answerable, ranks[-1] == 1))
            n = len(questions)
            row = {f"recall@{c}": sum(1 for r in ranks if r and r <= c) / n for c in KS}
            row["mrr@10"] = sum(1 / r for r in ranks if r and r <= 10) / n
            row["answerable"] = sum(a for a, _ in answered) / n
            # Every question here has an answer in the pool, so what "answerable" should track is
            # whether the first passage is right: its share when right, and when wrong.
            for key, right in (("answerable_when_right", True), ("answerable_when_wrong", False)):
                marks = [a for a, r in answered if r is right]
                row[key] = sum(marks) / len(marks) if marks else float("nan")
            figures.setdefault(language, {})[mode] = row
            if progress:
                _say(f"{language} {mode}: R@1 {row['recall@1']:.3f} ({time.monotonic() - began:.0f} s)")
    return figures


def table(figures: dict[str, dict[str, dict[str, float]]]) -> str:
    """The figures as a text table."""
    lines = [
        f"{'lang':<5}{'mode':<9}{'R@1':>7}{'R@5':>7}{'R@10':>7}{'MRR@10':>8}{'answerable':>12}"
        f"{'if 1st right':>14}{'if 1st wrong':>14}"
    ]
    for language, modes in figures.items():
        for mode, row in modes.items():
            lines.append(
                f"{language:<5}{mode:<9}{row['recall@1']:>7.3f}{row['recall@5']:>7.3f}{row['recall@10']:>7.3f}"
                f"{row['mrr@10']:>8.3f}{row['answerable']:>12.3f}"
                f"{row['answerable_when_right']:>14.3f}{row['answerable_when_wrong']:>14.3f}"
            )
    return "\n".join(lines)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Retrieval on InsuranceQA-zh (downloaded with pip, built with `chuchu build`): "
        "R@1/5/10, MRR@10 and the share answered, per question language and search mode.",
    )
    p.add_argument("--workdir", type=Path, default=ROOT / "var" / "insuranceqa", help="default: var/insuranceqa")
    p.add_argument("--split", choices=("valid", "test", "train"), default="valid", help="default: valid")
    p.add_argument("--questions", type=int, default=400, help="questions asked (default 400)")
    p.add_argument("--pool", type=int, default=4000, help="answers indexed, the gold ones included (default 4000)")
    p.add_argument("--per-file", type=int, default=100, help="answers per corpus file (default 100)")
    p.add_argument("--seed", type=int, default=0, help="choice of questions and pool (default 0)")
    p.add_argument("--languages", nargs="+", choices=LANGUAGES, default=list(LANGUAGES))
    p.add_argument("--modes", nargs="+", choices=("hybrid", "dense", "lexical"), default=["hybrid", "dense", "lexical"])
    p.add_argument(
        "--build",
        choices=("auto", "always", "never"),
        default="auto",
        help="auto (default): build when the live build lacks this corpus or this code's fusion",
    )
    p.add_argument(
        "--fusion",
        type=json.loads,
        metavar="JSON",
        help="search with this fusion instead of the build's, e.g. "
        '\'{"method": "weighted-minmax", "dense_weight": 0.45}\' (fields of index.fusion.Fusion)',
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    prepared = prepare(args.workdir, args.split, args.questions, args.pool, args.per_file, args.seed, args.build)
    searcher = searcher_for(prepared.store)
    if args.fusion is not None:
        from chuchu.index.fusion import Fusion

        searcher.fusion = Fusion(**args.fusion)
    figures = evaluate(searcher, prepared.questions, prepared.placements, args.languages, args.modes, progress=True)
    setup = {
        "split": args.split,
        "questions": len(prepared.questions),
        "pool": len(prepared.placements),
        "seed": args.seed,
        "build": searcher.snapshot.build_id,
        "fusion": searcher.fusion.record(),
    }
    if args.json:
        print(json.dumps({**setup, "figures": figures}, indent=2))
    else:
        print(table(figures))
        print(", ".join(f"{k} {v}" for k, v in setup.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
