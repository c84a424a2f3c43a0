"""Fitting the confidence, and measuring it honestly: `chuchu eval --calibrate`.

The weights are a logistic regression (scikit-learn) of "the first passage answers" on the
verdict's signals, fitted on every development question. What is reported of them is measured by
leave-one-out cross-validation: each question is judged by weights fitted on all the others,
so no figure comes from a question the weights were fitted on. The regression is L2-penalised
(C=10: on a few dozen questions the classes are nearly separable, and an unpenalised fit
diverges).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chuchu.index.question.verdict import MODEL, THRESHOLD, features

C = 10.0


@dataclass(frozen=True)
class Fit:
    """Fitted weights, and the cross-validated confidence of each question."""

    weights: dict[str, float]
    bias: float
    held_out: list[float]  # per question, the confidence given by weights fitted without it


@dataclass(frozen=True)
class Report:
    """How well a confidence separates the answered from the unanswerable."""

    abstained_unanswerable: int  # abstentions on questions the corpus does not answer
    unanswerable: int
    abstained_answerable: int  # abstentions on questions it does answer
    answerable: int
    precision: float  # of the abstentions, the share on unanswerable questions
    recall: float  # of the unanswerable questions, the share abstained on
    roc_auc: float | None  # how well the confidence ranks answered above not (None: one class only)
    reliability: list[tuple[float, float, int]]  # per confidence bin: mean confidence, share answered, count


def fit(signals: Sequence[dict[str, float | None]], answered: Sequence[bool], c: float = C) -> Fit:
    """Weights from all questions, and each question's confidence from weights fitted without it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    x = np.array([features(s) for s in signals])
    y = np.array(answered, dtype=int)
    model = LogisticRegression(C=c)
    held_out = cross_val_predict(model, x, y, cv=LeaveOneOut(), method="predict_proba")[:, 1]
    model.fit(x, y)
    weights = {name: round(float(w), 3) for name, w in zip(MODEL, model.coef_[0])}
    return Fit(weights, round(float(model.intercept_[0]), 3), held_out.tolist())


def report(confidence: Sequence[float], answerable: Sequence[bool], answered: Sequence[bool], bins: int = 5) -> Report:
    """Abstention precision and recall against the questions' answerability; AUC and reliability
    of the confidence against whether the first passage answered."""
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    p = np.asarray(confidence, dtype=float)
    abstained = p < THRESHOLD
    unanswerable = ~np.asarray(answerable, dtype=bool)
    truth = np.asarray(answered, dtype=int)
    auc = float(roc_auc_score(truth, p)) if 0 < truth.sum() < len(truth) else None
    edges = np.linspace(0.0, 1.0, bins + 1)
    reliability = []
    for lo, hi in zip(edges, edges[1:]):
        inside = (p >= lo) & ((p < hi) if hi < 1.0 else (p <= hi))
        if inside.any():
            reliability.append((float(p[inside].mean()), float(truth[inside].mean()), int(inside.sum())))
    return Report(
        abstained_unanswerable=int((abstained & unanswerable).sum()),
        unanswerable=int(unanswerable.sum()),
        abstained_answerable=int((abstained & ~unanswerable).sum()),
        answerable=int((~unanswerable).sum()),
        precision=float(precision_score(unanswerable, abstained, zero_division=0.0)),
        recall=float(recall_score(unanswerable, abstained, zero_division=0.0)),
        roc_auc=auc,
        reliability=reliability,
    )


def format_report(title: str, r: Report) -> str:
    """The report as text, with its reliability table."""
    auc = f"{r.roc_auc:.3f}" if r.roc_auc is not None else "-"
    lines = [
        f"{title}: abstained on {r.abstained_unanswerable}/{r.unanswerable} unanswerable and "
        f"{r.abstained_answerable}/{r.answerable} answerable questions; abstention precision {r.precision:.3f}, "
        f"recall {r.recall:.3f}; ROC AUC {auc}",
        "  confidence  answered  questions",
    ]
    lines += [f"  {mean:>10.2f}  {share:>8.2f}  {n:>9}" for mean, share, n in r.reliability]
    return "\n".join(lines)
