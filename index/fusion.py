"""How the dense and the lexical rankings are combined into one.

Each leg's scores are standardised on its own top ``top`` passages (minus their mean, over
their standard deviation), and the fused score is a weighted sum of the two, the lexical
weight times the share of the question's words written in Han characters. Measured with
``chuchu eval --compare`` on the development questions and ``benchmarks/insuranceqa.py`` (R@1):

| fusion                                   | dev  | IQA valid zh | IQA valid en | IQA train zh | IQA test zh |
|------------------------------------------|------|--------------|--------------|--------------|-------------|
| dense alone                              | .815 | .370         | .152         | .292         | .274        |
| min-max, dense weight .45 (until now)    | .963 | .347         | .048         | .270         | .266        |
| standardised on top 100, dense .6, Han   | .963 | .385         | .152         | .319         | .312        |

(IQA: 400 valid questions against a pool of 4,000 answers; on the same build, the 1,500 train
questions whose gold answers are in the pool, which chose the weights, and 398 such test
questions. Over all 2,298, hybrid gains 0.027 R@1 on dense; on the 400 valid ones alone 0.015,
95% bootstrap interval -0.015 to 0.045.)

- **Standardised, not min-max.** Min-max maps each leg's best passage to 1 however far ahead it
  is, so a leg with one weak match votes as hard as one with a clear winner. Standardising
  on the top of each leg's distribution says how far the best stand out from the other
  candidates: a peaked leg gets its say, a flat one hardly any. Over the top 100 rather than
  all passages, because the bulk of the corpus is not in contention (and BM25 gives most of it
  0), and 100 is within the 256 candidates an approximate vector index returns (index.vectors);
  the top 30 to 200 measured alike, the whole corpus lost 0.02 R@1.
- **Dense weight 0.6.** 0.55 to 0.65 measured alike on the InsuranceQA train questions; 0.7
  cost the development questions a rank-1 answer, 0.5 and below cost InsuranceQA R@1.
- **Han share.** An English question shares no words with Chinese passages except stray
  English in them ("Medicare", "IRA"), which min-max made the lexical leg's clear winner: hybrid
  R@1 0.048 against dense 0.152. So the lexical weight is multiplied by the share of the
  question's word terms (numbers are neutral) in Han characters, the script of the documents:
  an English question is ranked by the dense leg alone, a Chinese one with an English word in
  it keeps nearly all its lexical weight. Weighting by how much of the question the lexical
  leg matched was measured too, and cost dev R@1 (0.926): in a small corpus many question
  bigrams occur nowhere.
- Also measured, and no better on the train questions (within 0.005 R@1): weights following
  each leg's lead (its top score over its second), softmax-normalised legs, BM25 plus the idf
  share of the question each passage holds, and reciprocal ranks added to the scores.
- Other signals, measured on the same build (R@1, InsuranceQA valid / train / test, against
  .383 / .321 / .312 for this fusion): BM25 with jieba words added to the characters and
  bigrams .388 / .321 / .312, words alone .362 / .312 / .286, b 0.5 or k1 2 no better; dense
  pseudo-relevance feedback (top 1–5 passages, weight .2–.5) .367–.388 / .305–.321 / .281–.312;
  each split passage embedded as its whole paragraph .362 dense (against .370); the best
  sentence's cosine mixed into the dense leg .390 / .325 / .302; a logistic regression over
  both legs' standardised scores, reciprocal ranks and length, fitted on train, .385 / .303 /
  .302. None carries a gain beyond noise, so the fusion stays this simple one.
- Reciprocal-rank fusion alone (k=60) gave dev R@1 0.815; embedding title and heading with the passage
  0.926. Rejected; title and heading are a lexical field of lower weight instead.

Builds recorded before carry ``method: weighted-minmax`` and keep being searched that way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from chuchu.corpus.terms import terms

MODES = ("hybrid", "dense", "lexical")
METHODS = ("weighted-z", "weighted-minmax")  # the current one, and the one builds before it recorded


@dataclass(frozen=True)
class Fusion:
    """How the legs are weighted and normalised; record() goes into every build's manifest."""

    dense_weight: float = 0.6
    context_weight: float = 0.3  # the title/heading field, relative to the passage text
    # Cosine taken off captions and other short passages: a short text sits close to every
    # question in embedding space and took dense rank 1 from the answer (dense R@1 0.704 → 0.815
    # on the development questions with 0.02; hybrid unchanged at 0.963).
    short_penalty: float = 0.02
    top: int = 100  # passages each leg is standardised over
    method: str = "weighted-z"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"Unknown fusion method {self.method!r}; this version knows {', '.join(METHODS)}.")

    def lexical(self, body: np.ndarray, context: np.ndarray) -> np.ndarray:
        """One lexical score per passage from its text and its context fields."""
        return body + self.context_weight * context

    def lexical_weight(self, question: str, cut: list[str] | None = None) -> float:
        """The lexical leg's weight for this question (the dense leg has the rest); ``cut``, the
        question's terms when the caller has them already."""
        if self.method == "weighted-minmax":
            return 1 - self.dense_weight
        return (1 - self.dense_weight) * han_share(question, cut)

    def combine(self, dense: np.ndarray, lexical: np.ndarray, question: str, weight: float | None = None) -> np.ndarray:
        """The fused score per passage; a lexical leg that matched nothing does not vote. ``weight``:
        the lexical leg's weight when the caller worked it out already (Searcher does, before)."""
        if weight is None:
            weight = self.lexical_weight(question) if lexical.any() else 0.0
        normalise = _minmax if self.method == "weighted-minmax" else self._standardise
        fused = (1 - weight) * normalise(dense)
        return fused + weight * normalise(lexical) if weight else fused

    def record(self) -> dict[str, Any]:
        """What the manifest records."""
        return asdict(self)

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        """Scores as standard deviations above the mean of the leg's best ``top``."""
        n = min(self.top, len(x))
        if not n:
            return np.zeros_like(x)
        best = np.partition(x, len(x) - n)[len(x) - n :]
        mean = best.mean()
        # best.std() as numpy computes it (the same operations on the same types, so the same
        # value), without its generic reduction's layers and its second pass for the mean.
        deviation = best - mean
        spread = float(np.sqrt(np.add.reduce(deviation * deviation) / n))
        return (x - float(mean)) / spread if spread > 0 else np.zeros_like(x)


def han_share(question: str, cut: list[str] | None = None) -> float:
    """The share of the question's word terms that are Han characters; 1 when it has none (only
    numbers). ``cut``: terms(question), when the caller has it."""
    words = [t for t in (terms(question) if cut is None else cut) if not t[0].isdigit()]
    if not words:
        return 1.0
    return sum(1 for t in words if _is_han(t[0])) / len(words)


def _is_han(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"  # as corpus.terms reads them


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
