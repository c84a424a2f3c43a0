"""Marking a passage for the reader: the question's terms, the answering sentence, the figure asked for.

The lexical terms a hit matched are folded (NFKC, traditional → simplified, lower case), so they
are looked for in the folded text, character for character in step with the text as written.
Single characters are left unmarked: matched one by one they would speckle every line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chuchu.corpus.terms import fold
from chuchu.index.question.kinds import ORGANISATION, alike
from chuchu.index.question.reading import Asking, tag

Span = tuple[int, int]

# A figure as Chinese text writes it, and the measure words a figure comes with.
_NUMBER = r"\d[\d,，.]*(?:[十百千万亿]+)?"
_MEASURES = sorted(
    "万亩 亩 公顷 亿元 万元 千元 元 万人次 人次 万人 人 万名 名 位 个 家 户 项 次 场 条 件 座 所 栋 间 处 套 台 辆 "
    "公里 千米 平方公里 平方米 米 万吨 吨 千瓦 倍 岁 年 天 % ‰".split(),
    key=len,
    reverse=True,
)
_PATTERNS = {
    "percent": re.compile(rf"{_NUMBER}\s*[%‰]|百分之[一二三四五六七八九十百零点两\d.]+|{_NUMBER}个百分点"),
    "date": re.compile(
        r"(?:19|20)\d\d年(?:\d{1,2}月(?:\d{1,2}[日号])?)?|\d{1,2}月\d{1,2}[日号]|(?:19|20)\d\d[-/.]\d{1,2}(?:[-/.]\d{1,2})?"
    ),
    "rank": re.compile(r"第[一二三四五六七八九十百\d]+(?:名|位|等次)?|首位|榜首|居首|冠军"),
}
_CLAUSE_ENDS = frozenset("，,、；;。！!？?：:\n")
_NAME_TAGS = {"person": ("nr",), "place": ("ns",), "organisation": ("nt",)}


@dataclass(frozen=True)
class Run:
    """A stretch of text and how it is marked."""

    text: str
    term: bool = False  # one of the question's terms
    asked: bool = False  # the figure or name the question asks for


@dataclass(frozen=True)
class Marked:
    """A text cut for display: before, within and after its answering sentence."""

    before: tuple[Run, ...]
    answer: tuple[Run, ...] = ()  # empty when no answering sentence is marked
    after: tuple[Run, ...] = ()

    @property
    def text(self) -> str:
        return "".join(r.text for r in (*self.before, *self.answer, *self.after))


def folded(text: str) -> str:
    """The text folded as the lexical terms are, one character for each character of the text."""
    whole = fold(text)
    if len(whole) == len(text):
        return whole
    return "".join((fold(c) or c)[0] for c in text)


def term_spans(text: str, terms: Iterable[str]) -> list[Span]:
    """Where the terms (of two characters or more) occur in the text, overlapping ones merged."""
    haystack = folded(text)
    spans = []
    for term in {t for t in terms if len(t) > 1}:
        at = haystack.find(term)
        while at >= 0:
            spans.append((at, at + len(term)))
            at = haystack.find(term, at + 1)
    return merge(spans)


def asked_spans(asking: Asking, text: str) -> list[Span]:
    """Where the text gives the kind of answer the question asks for: 12330亩 for 多少亩, a name for 谁."""
    haystack = folded(text)
    if asking.kind in ("number", "money"):
        return merge(m.span() for m in _figure(asking).finditer(haystack))
    if asking.kind in _PATTERNS:
        return merge(m.span() for m in _PATTERNS[asking.kind].finditer(haystack))
    if asking.kind in _NAME_TAGS:
        question = fold(asking.question)
        spans, at = [], 0
        for word, flag in tag(haystack):
            named = flag in _NAME_TAGS[asking.kind] or (
                asking.kind == "organisation" and len(word) > 2 and ORGANISATION.search(word)
            )
            if named and len(word) > 1 and word not in question:
                spans.append((at, at + len(word)))
            at += len(word)
        return spans
    return []


def nearest_asked(asking: Asking, text: str, spans: Sequence[Span]) -> list[Span]:
    """Of several figures or names, the ones in the clause that shares most with the question:
    "完成一季稻种植12330亩、晚稻3802.87亩" answers 多少亩一季稻 with the first, not the second."""
    if len(spans) < 2:
        return list(spans)
    haystack = folded(text)
    wanted = {t for t in asking.content if len(t) > 1}

    def shared(span: Span) -> int:
        a, b = span
        while a > 0 and haystack[a - 1] not in _CLAUSE_ENDS:
            a -= 1
        while b < len(haystack) and haystack[b] not in _CLAUSE_ENDS:
            b += 1
        return sum(1 for t in wanted if t in haystack[a:b])

    scores = [shared(s) for s in spans]
    return [s for s, score in zip(spans, scores) if score == max(scores)]


def _figure(asking: Asking) -> re.Pattern[str]:
    """A figure with the measure asked for (亿元 also as 万元 or 元), or with any measure when none is."""
    if not asking.units:
        return re.compile(rf"{_NUMBER}(?:{'|'.join(map(re.escape, _MEASURES))})?")
    measures = {m for unit in asking.units for c in alike(unit) for m in (c, "万" + c, "亿" + c, "千" + c)}
    words = "|".join(map(re.escape, sorted(measures, key=len, reverse=True)))
    return re.compile(rf"{_NUMBER}\s*[余多]?[大小类种]?(?:{words})")


def merge(spans: Iterable[Span]) -> list[Span]:
    """Spans sorted, overlapping ones joined: the bigrams 一季 and 季稻 make 一季稻, while 今年 and
    种植 side by side stay two words."""
    out: list[Span] = []
    for a, b in sorted(spans):
        if out and a < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def mark(text: str, answer: Span | None = None, terms: Sequence[Span] = (), asked: Sequence[Span] = ()) -> Marked:
    """The text cut into runs: inside or outside the answering sentence, terms and the asked figure marked."""
    if answer is None:
        return Marked(_runs(text, 0, len(text), terms, asked))
    a, b = answer
    return Marked(
        _runs(text, 0, a, terms, asked), _runs(text, a, b, terms, asked), _runs(text, b, len(text), terms, asked)
    )


def words(text: str, spans: Sequence[Span], most: int = 8) -> tuple[str, ...]:
    """The distinct words the spans mark, in order of first appearance."""
    return tuple(dict.fromkeys(text[a:b] for a, b in spans))[:most]


def _runs(text: str, start: int, end: int, terms: Sequence[Span], asked: Sequence[Span]) -> tuple[Run, ...]:
    cuts = {start, end}
    for a, b in (*terms, *asked):
        cuts.update(x for x in (a, b) if start < x < end)
    points = sorted(cuts)
    runs: list[Run] = []
    for a, b in zip(points, points[1:]):
        inside_asked = any(x <= a and b <= y for x, y in asked)
        inside_term = any(x <= a and b <= y for x, y in terms)
        if runs and (runs[-1].term, runs[-1].asked) == (inside_term, inside_asked):
            runs[-1] = Run(runs[-1].text + text[a:b], inside_term, inside_asked)
        else:
            runs.append(Run(text[a:b], inside_term, inside_asked))
    return tuple(runs)
