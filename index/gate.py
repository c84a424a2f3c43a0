"""The quality gate: a new build is measured on a question file before it may go live.

The candidate (still a ``.partial`` directory) is loaded as a Searcher with the model of the
build and asked every question in hybrid mode, 10 passages each, as `chuchu eval` does. It is
refused when its recall@5 falls more than ``margin`` below the live build's. The live build's
figures come from its manifest when it recorded them for a question file with the same sha256
(and the same mode and k); otherwise the live build is measured now, with the same model.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chuchu.corpus.errors import BadInput, BuildError, ChuchuError
from chuchu.index import evaluate
from chuchu.index.embedder import Embedder
from chuchu.index.manifest import Manifest
from chuchu.index.search import Searcher
from chuchu.index.snapshot import read_snapshot
from chuchu.index.store import Store

log = logging.getLogger(__name__)

MODE = "hybrid"
K = 10
GATED = "recall@5"
# Figures are ratios of small counts; a drop of exactly the margin is not "more than" it.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Gate:
    """Refuse a build whose recall@5 on ``questions`` is more than ``margin`` below the live build's."""

    questions: Path
    margin: float = 0.02


@dataclass(frozen=True)
class Questions:
    """A gate's question file, read: the questions and what the manifest records of the file."""

    questions: list[evaluate.Question]
    source: dict[str, Any]  # file name, sha256, count


def read_questions(gate: Gate) -> Questions:
    """Read the gate's question file; done before building, so a bad file fails before any work."""
    questions = evaluate.load_questions(gate.questions)
    if not any(q.answerable for q in questions):
        raise BadInput(f"The question file {gate.questions} has no answerable question, so recall cannot gate a build.")
    sha = hashlib.sha256(Path(gate.questions).read_bytes()).hexdigest()
    return Questions(questions, {"file": Path(gate.questions).name, "sha256": sha, "count": len(questions)})


def assess(gate: Gate, read: Questions, candidate: Path, embedder: Embedder, store: Store) -> dict[str, Any]:
    """The candidate's figures, to record in its manifest; BuildError when the gate refuses it."""
    questions, source = read.questions, read.source
    figures = measure(Searcher(read_snapshot(candidate), embedder), questions, source)
    live_id = store.live_id()
    baseline = _baseline(store, embedder, questions, source) if live_id else None
    if baseline is None:
        return figures
    drop = baseline[GATED] - figures[GATED]
    if drop > gate.margin + _TOLERANCE:
        raise BuildError(
            f"The quality gate refused the new build: its {GATED} on {source['file']} is {figures[GATED]:.3f}, "
            f"{drop:.3f} below the {baseline[GATED]:.3f} of the live build {live_id} (the margin is "
            f"{gate.margin:g}). It was not published; build {live_id} stays live. Check the corpus "
            "changes, or set CHUCHU_GATE_MARGIN if the drop is expected."
        )
    return {**figures, "compared_with": {"build_id": live_id, GATED: baseline[GATED], "margin": gate.margin}}


def measure(searcher: Searcher, questions: list[evaluate.Question], source: dict[str, Any]) -> dict[str, Any]:
    """recall@1/5/10, MRR@10 and abstention accuracy of one build, as a manifest records them."""
    scores = evaluate.score(evaluate.run(questions, evaluate.retriever(searcher, K, MODE)))
    return {
        "questions": source,
        "mode": MODE,
        "k": K,
        "recall@1": scores.recall[1],
        "recall@5": scores.recall[5],
        "recall@10": scores.recall[10],
        "mrr@10": scores.mrr10,
        "abstention_accuracy": scores.abstention_accuracy,
    }


def _baseline(
    store: Store, embedder: Embedder, questions: list[evaluate.Question], source: dict[str, Any]
) -> dict[str, Any] | None:
    """The live build's figures on these questions; None when it cannot be measured (nothing to compare)."""
    try:
        live = store.live_path()
        recorded = Manifest.read(live).quality
        if recorded and _same_measure(recorded, source):
            return recorded
        return measure(Searcher(read_snapshot(live), embedder), questions, source)
    except ChuchuError as exc:
        # A live build that cannot be loaded (damaged, or made by another model) is exactly one a
        # new build should be able to replace; the gate then has nothing to compare with.
        log.warning("the quality gate cannot measure the live build, so does not compare: %s", exc.message)
        return None


def _same_measure(recorded: dict[str, Any], source: dict[str, Any]) -> bool:
    questions = recorded.get("questions")
    return (
        isinstance(questions, dict)
        and questions.get("sha256") == source["sha256"]
        and recorded.get("mode") == MODE
        and recorded.get("k") == K
        and isinstance(recorded.get(GATED), int | float)
    )
