"""Whether the passages found answer the question: ``answerable`` and a ``confidence`` in 0..1.

The top score alone cannot tell (measured on the development questions: the unanswerable ones
score as high as the answerable ones, because they are asked about things the documents do
discuss). So the judgement rests on signals about the first passage, each in 0..1:

- **supplied**: the passage's answering sentence gives the kind of answer asked for (a
  person's name, an organisation, a date, a figure in 亿元, a percentage, a rank, a reason;
  `kinds.gives`);
- **focus**: the attribute the question is about (票价, 覆盖率, 成立) is in the passage or
  its context; a passage about the right company that never mentions its 负责人 or its 成立
  does not answer;
- **numbers**: the figures the question names itself (2022年) are with the passage;
- **coverage**: the share, weighted by rarity (idf), of the question's terms that the passage
  and its context contain;
- **agreement**: the dense and the lexical rankings both put the passage near the top.

A signal that does not apply (no kind to check, no focus, an English question that shares no
term) is None and counts for nothing. The confidence is a logistic regression on the signals of
`MODEL` (each centred at 0.5): its weights are fitted by `chuchu eval --calibrate` on all the
development questions, which also reports the figures of a cross-validation (each question
judged by weights fitted without it), so what is shipped is never scored on what it was fitted on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from chuchu.corpus.terms import fold
from chuchu.index.question.kinds import gives
from chuchu.index.question.reading import Asking
from chuchu.index.question.sentence import shared_terms

SIGNALS = ("supplied", "focus", "numbers", "coverage", "agreement")
# The signals the confidence is made of. The other three are shown (explain) but given no weight:
# fitted with them, their weights came out near zero or negative and the cross-validated
# abstention fell (12/15 and 1/39 wrongly, against 13/15 and 0/39 without them).
MODEL = ("supplied", "focus")
# Fitted with `chuchu eval --calibrate` on tests/data/dev.jsonl and dev_abstain.jsonl.
WEIGHTS = {"supplied": 5.902, "focus": 1.74}
BIAS = 1.157
THRESHOLD = 0.5  # answerable when the confidence is at least this
_AGREE_WITHIN = 3  # both legs rank the passage at most this far down


@dataclass(frozen=True)
class Evidence:
    """What the judgement looks at for the first passage."""

    text: str  # the passage
    context: str  # its document title, heading and date
    sentence: str  # its answering sentence: what must give the kind of answer asked for
    dense_rank: int
    lexical_rank: int  # 0 when the lexical leg did not match it


# Why a question was judged not answerable, as a code a page can put in the reader's language.
WHY = ("nothing_found", "filtered", "kind_missing", "focus_missing", "numbers_missing", "little_shared")


@dataclass(frozen=True)
class Why:
    """Why not answerable: a code of WHY and what it refers to."""

    code: str
    asked: str = ""  # the kind of answer asked for, in English words ("a figure in 亿元")
    kind: str = ""  # its code (reading.KINDS)
    units: tuple[str, ...] = ()  # the measure words asked for
    missing: tuple[str, ...] = ()  # the focus words no passage found mentions
    detail: str = ""  # the filter, for "filtered"


@dataclass(frozen=True)
class Verdict:
    """The judgement on one answer."""

    answerable: bool
    confidence: float
    raw: float  # the logit of the confidence
    signals: dict[str, float | None]  # each signal in 0..1, None when it does not apply
    reason: str  # why not answerable, in English words; "" when answerable
    why: Why | None = None  # the same as a code, None when answerable


def signals(asking: Asking, top: Evidence, idf: Callable[[str], float], lexical_voted: bool) -> dict[str, float | None]:
    """The signals for the first passage, each in 0..1; None where a signal says nothing."""
    # Coverage over bigrams and figures: single characters match almost anything.
    content = [t for t in asking.content if len(t) > 1]
    # Those of the question's figures and terms that the passage or its context holds: the same as
    # intersecting with their whole cut (corpus.terms), without cutting them.
    wanted = tuple(dict.fromkeys((*asking.numbers, *content)))
    around = shared_terms(wanted, fold(top.text)) | shared_terms(wanted, fold(top.context)) if wanted else set()
    checked = asking.kind not in ("", "yesno")
    # In the answering sentence, not anywhere in the passage: a reason or a name given about
    # something else two sentences away does not answer.
    supplied = (1.0 if gives(asking, top.sentence) else 0.0) if checked else None
    focus = None
    if asking.focus:
        text = fold(top.text + " " + top.context)
        focus = sum(1 for w in asking.focus if w in text) / len(asking.focus)
    numbers = sum(1 for n in asking.numbers if n in around) / len(asking.numbers) if asking.numbers else None
    weights = {t: idf(t) for t in content}
    total = sum(weights.values())
    coverage = sum(w for t, w in weights.items() if t in around) / total if total > 0 else None
    agreement = None
    if lexical_voted:
        agreement = 1.0 if top.dense_rank <= _AGREE_WITHIN and 0 < top.lexical_rank <= _AGREE_WITHIN else 0.0
    return {"supplied": supplied, "focus": focus, "numbers": numbers, "coverage": coverage, "agreement": agreement}


def features(values: Mapping[str, float | None]) -> list[float]:
    """The model's signals as the regression sees them: centred, and 0 (no say) where one does not apply."""
    return [0.0 if values.get(name) is None else float(values[name]) - 0.5 for name in MODEL]  # type: ignore[arg-type]


def raw_score(values: Mapping[str, float | None], weights: Mapping[str, float] = WEIGHTS, bias: float = BIAS) -> float:
    """The logit: the bias plus each applicable signal's weighted distance from its centre."""
    return bias + sum(weights[name] * x for name, x in zip(MODEL, features(values)))


def judge(
    asking: Asking,
    hits: Sequence[Evidence],
    idf: Callable[[str], float],
    lexical_voted: bool,
    weights: Mapping[str, float] = WEIGHTS,
    bias: float = BIAS,
) -> Verdict:
    """Whether the first passage answers the question, with a calibrated confidence."""
    if not hits:
        return Verdict(False, 0.0, -math.inf, {}, REASONS["nothing_found"], Why("nothing_found"))
    values = signals(asking, hits[0], idf, lexical_voted)
    raw = raw_score(values, weights, bias)
    confidence = sigmoid(raw)
    if confidence >= THRESHOLD:
        return Verdict(True, confidence, raw, values, "")
    why = _why(asking, values, hits[0])
    return Verdict(False, confidence, raw, values, reason(why), why)


def filtered(verdict: Verdict, where: str) -> Verdict:
    """The verdict when no passage is in the documents a filter allows."""
    why = Why("filtered", detail=where)
    return replace(verdict, answerable=False, reason=reason(why), why=why)


def sigmoid(z: float) -> float:
    """The logit as a probability."""
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


REASONS = {
    "nothing_found": "No passage matched the question.",
    "filtered": "No passage is in the documents the filter allows ({detail}).",
    "kind_missing": "The question asks for {asked}, and the passages found do not give one.",
    "focus_missing": "The question asks about {missing}, which the passages found do not mention.",
    "numbers_missing": "The passages found are not about the figures or years the question names.",
    "little_shared": "The passages found share too little with the question.",
}


def reason(why: Why) -> str:
    """Why, in English words."""
    return REASONS[why.code].format(asked=why.asked, missing="、".join(why.missing), detail=why.detail)


def _why(asking: Asking, values: Mapping[str, float | None], top: Evidence) -> Why:
    if values.get("supplied") == 0.0:
        return Why("kind_missing", asking.describe(), asking.kind, asking.units)
    if values.get("focus") is not None and (values["focus"] or 0.0) < 1.0:
        text = fold(top.text + " " + top.context)
        return Why("focus_missing", missing=tuple(w for w in asking.focus if w not in text))
    if values.get("numbers") is not None and (values["numbers"] or 0.0) < 1.0:
        return Why("numbers_missing")
    return Why("little_shared")


def context_of(title: str, heading: str, date: str | None) -> str:
    """The context a passage is judged with: its document's title and date, its heading."""
    return " ".join(part for part in (title, heading, date or "") if part)
