"""Whether the passages found answer the question: ``answerable`` and a ``confidence`` in 0..1.

The top score alone cannot tell (measured on the development questions: the unanswerable ones
score as high as the answerable ones, because they are asked about things the documents do
discuss). So the judgement rests on signals about the best passage:

- **supplied**: the question asks for a kind of answer (a figure in 亿元, a count of 名, a
  year, a percentage) and the passage gives one. A passage about 花炮出口额 that gives only its
  growth in % does not answer "出口额是多少亿元". This is the strongest signal.
- **numbers**: the figures the question names itself (2022年) appear with the passage, its
  heading or its document title.
- **coverage**: the share, weighted by rarity (idf), of the question's terms that the passage
  and its context contain.
- **agreement**: the dense and the lexical rankings both put the passage near the top.

They are combined in a logistic score whose weights were set by hand, and whose scale and
offset were fitted on the development questions (``chuchu eval --calibrate``), so that the
confidence reads as the chance that the first passage answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from chuchu.corpus.asking import Asking, supplies
from chuchu.corpus.terms import terms

# The raw score is _PRIOR + sum of weight * (signal - centre) over the signals that apply. Set by
# hand: a passage that lacks the kind of answer asked for outweighs everything else together; the
# centre of coverage is low because reworded questions share few terms with their answer (0.26
# to 0.5 on the development paraphrases); the prior is positive because a question that gives no
# signal either way (an English one: no shared terms) is more often answerable than not.
_PRIOR = 1.0
_WEIGHTS = {"supplied": (6.0, 0.5), "numbers": (1.5, 0.5), "coverage": (2.0, 0.3), "agreement": (0.5, 0.5)}
_AGREE_WITHIN = 3  # both legs rank the passage at most this far down
# Platt scaling of the raw score, fitted with `chuchu eval --calibrate` on tests/data/dev.jsonl.
SLOPE, INTERCEPT = 1.14, -0.21
THRESHOLD = 0.5  # answerable when the confidence is at least this


@dataclass(frozen=True)
class Evidence:
    """What the judgement looks at for the first passage (None: the signal does not apply)."""

    text: str  # the passage
    context: str  # its document title, heading and date
    dense_rank: int
    lexical_rank: int  # 0 when the lexical leg did not match it


@dataclass(frozen=True)
class Verdict:
    """The judgement on one answer."""

    answerable: bool
    confidence: float
    raw: float  # the score before calibration (what `chuchu eval --calibrate` fits)
    signals: dict[str, float | None]  # each signal in 0..1, None when it does not apply
    reason: str  # why not answerable, in words; "" when answerable


def signals(asking: Asking, top: Evidence, idf: Callable[[str], float], lexical_voted: bool) -> dict[str, float | None]:
    """The signals for the first passage, each in 0..1; None where a signal says nothing."""
    passage = set(terms(top.text))
    around = passage | set(terms(top.context))
    supplied = (1.0 if supplies(asking, top.text) else 0.0) if asking.wants else None
    numbers = sum(1 for n in asking.numbers if n in around) / len(asking.numbers) if asking.numbers else None
    # Coverage over bigrams and figures: single characters match almost anything.
    content = [t for t in asking.content if len(t) > 1]
    weights = {t: idf(t) for t in content}
    total = sum(weights.values())
    coverage = sum(w for t, w in weights.items() if t in around) / total if total > 0 else None
    agreement = None
    if lexical_voted:
        agreement = 1.0 if top.dense_rank <= _AGREE_WITHIN and 0 < top.lexical_rank <= _AGREE_WITHIN else 0.0
    return {"supplied": supplied, "numbers": numbers, "coverage": coverage, "agreement": agreement}


def raw_score(values: dict[str, float | None]) -> float:
    """The weighted signals; a signal that does not apply (None) counts for nothing."""
    total = _PRIOR
    for name, v in values.items():
        if v is not None:
            weight, centre = _WEIGHTS[name]
            total += weight * (v - centre) * 2
    return total


def judge(
    asking: Asking,
    hits: Sequence[Evidence],
    idf: Callable[[str], float],
    lexical_voted: bool,
    slope: float = SLOPE,
    intercept: float = INTERCEPT,
) -> Verdict:
    """Whether the first passage answers the question, with a calibrated confidence."""
    if not hits:
        return Verdict(False, 0.0, 0.0, {}, "No passage matched the question.")
    values = signals(asking, hits[0], idf, lexical_voted)
    raw = raw_score(values)
    confidence = scale(raw, slope, intercept)
    answerable = confidence >= THRESHOLD
    return Verdict(answerable, confidence, raw, values, "" if answerable else _reason(asking, values))


def calibrate(raws: Sequence[float], correct: Sequence[bool], l2: float = 0.1) -> tuple[float, float]:
    """Platt scaling: the slope and intercept that make sigmoid(slope·raw + intercept) a probability.

    Fitted by Newton's method on the log loss, with a small L2 penalty on the slope, because on
    a few dozen questions the classes can be separable and the unpenalised slope then diverges.
    """
    x = np.asarray(raws, dtype=np.float64)
    y = np.asarray(correct, dtype=np.float64)
    w = np.zeros(2)  # slope, intercept
    features = np.stack([x, np.ones_like(x)], axis=1)
    penalty = np.diag([l2, 0.0])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(features @ w)))
        gradient = features.T @ (p - y) + penalty @ w
        hessian = features.T @ (features * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def scale(raw: float, slope: float = SLOPE, intercept: float = INTERCEPT) -> float:
    """The raw score as a probability (Platt scaling)."""
    z = slope * raw + intercept
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def _reason(asking: Asking, values: dict[str, float | None]) -> str:
    if values.get("supplied") == 0.0:
        return f"The question asks for {asking.describe()}, and the passages found do not give one."
    if values.get("numbers") is not None and (values["numbers"] or 0.0) < 1.0:
        return "The passages found are not about the figures or years the question names."
    return "The passages found share too little with the question."


def context_of(title: str, heading: str, date: str | None) -> str:
    """The context a passage is judged with: its document's title and date, its heading."""
    return " ".join(part for part in (title, heading, date or "") if part)
