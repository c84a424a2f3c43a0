"""Retrieval quality on question files: recall@k and MRR@10, overall and per question type."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chuchu.corpus.errors import BadInput
from chuchu.index.question.reading import read_question
from chuchu.index.question.verdict import Verdict

if TYPE_CHECKING:
    from chuchu.index.search import Searcher

KS = (1, 5, 10)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Question:
    """One evaluation question; ``evidence`` is empty when the corpus does not answer it."""

    id: str
    question: str
    type: str
    evidence: tuple[str, ...]
    answer: str = ""

    @property
    def answerable(self) -> bool:
        """Whether the corpus answers the question."""
        return bool(self.evidence)


@dataclass(frozen=True)
class Outcome:
    """Where the first answering passage came for one question (None: not in the top k), and the verdict."""

    question: Question
    first_rank: int | None
    verdict: Verdict

    @property
    def abstained(self) -> bool:
        """Whether the service said "no good answer"."""
        return not self.verdict.answerable

    @property
    def answered(self) -> bool:
        """Whether the first passage answers: what the confidence is the probability of."""
        return self.first_rank == 1


@dataclass(frozen=True)
class Scores:
    """Metrics over a group of questions."""

    questions: int
    recall: dict[int, float]
    mrr10: float
    unanswerable: int
    abstention_accuracy: float | None


def load_questions(path: Path) -> list[Question]:
    """Read a question file in the format of shared/eval (one JSON object a line)."""
    questions = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInput(f"The question file {path} cannot be read ({exc.strerror or exc}).") from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(
                Question(
                    id=str(row["id"]),
                    question=row["question"],
                    type=row.get("type", "untyped"),
                    evidence=tuple(row.get("evidence") or ()),
                    answer=row.get("answer", ""),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BadInput(f"{path}, line {n}: not a question record ({exc}).") from exc
    return questions


def normalise(text: str) -> str:
    """NFKC with all whitespace removed: how evidence is compared with passages."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


def answers(passage_text: str, evidence: Sequence[str]) -> bool:
    """Whether a passage contains any one of the evidence strings."""
    text = normalise(passage_text)
    return any(normalise(e) in text for e in evidence)


def answers_partly(sentence: str, evidence: Sequence[str]) -> bool:
    """Whether a sentence holds an evidence string, or is part of one (evidence may span sentences)."""
    text = normalise(sentence)
    return bool(text) and any(normalise(e) in text or text in normalise(e) for e in evidence)


Retrieve = Callable[[str], tuple[list[str], Verdict]]


def retriever(searcher: Searcher, k: int, mode: str = "hybrid") -> Retrieve:
    """What `run` asks with: a searcher's ranked passage texts and its verdict."""

    def retrieve(question: str) -> tuple[list[str], Verdict]:
        result = searcher.run(question, k, mode)
        return [h.passage.text for h in result.hits], result.verdict

    return retrieve


def run(questions: Sequence[Question], retrieve: Retrieve) -> list[Outcome]:
    """Ask every question; retrieve returns the ranked passage texts and the verdict on the first."""
    outcomes = []
    for q in questions:
        texts, verdict = retrieve(q.question)
        first = next((r for r, t in enumerate(texts[:10], start=1) if answers(t, q.evidence)), None)
        outcomes.append(Outcome(q, first if q.answerable else None, verdict))
    return outcomes


def score(outcomes: Sequence[Outcome]) -> Scores:
    """recall@1/5/10 and MRR@10 over the answerable questions; abstention accuracy over all."""
    answerable = [o for o in outcomes if o.question.answerable]
    n = len(answerable)
    recall = {k: sum(1 for o in answerable if o.first_rank and o.first_rank <= k) / n if n else 0.0 for k in KS}
    mrr = sum(1 / o.first_rank for o in answerable if o.first_rank) / n if n else 0.0
    # Abstaining is right exactly when the corpus does not answer.
    correct = sum(1 for o in outcomes if o.abstained != o.question.answerable)
    unanswerable = len(outcomes) - n
    return Scores(len(outcomes), recall, mrr, unanswerable, correct / len(outcomes) if outcomes else None)


def by_type(outcomes: Sequence[Outcome]) -> dict[str, Scores]:
    """Scores per question type, then 'overall'."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.question.type].append(o)
    table = {t: score(groups[t]) for t in sorted(groups)}
    table["overall"] = score(outcomes)
    return table


def abstention_by_kind(outcomes: Sequence[Outcome]) -> dict[str, dict[str, tuple[int, int]]]:
    """Per kind of answer asked (person, date, money…; "other" when none), abstentions out of
    questions, apart for the unanswerable and the answerable ones."""
    table: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"unanswerable": [0, 0], "answerable": [0, 0]})
    for o in outcomes:
        kind = read_question(o.question.question).kind or "other"
        cell = table[kind]["answerable" if o.question.answerable else "unanswerable"]
        cell[0] += o.abstained
        cell[1] += 1
    return {k: {side: (v[0], v[1]) for side, v in table[k].items()} for k in sorted(table)}
