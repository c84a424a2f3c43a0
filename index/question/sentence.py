"""The answering sentence: within a passage, the sentence that best answers the question.

A passage is a few sentences; the reader wants the one that answers. Sentences are scored by
the rarity (idf) of the question's terms they contain, and a sentence that gives what the
question asks for (a figure in the asked unit, a year) is preferred, because "多少亩" is answered
by the sentence with the acreage, not by the one that repeats the question's words. When the
question shares no term with the passage (an English question), the caller picks by meaning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from chuchu.corpus.splitting import Passage, sentences
from chuchu.corpus.terms import STOP_CHARS, TOKEN, UNITS, fold
from chuchu.index.question.kinds import gives
from chuchu.index.question.reading import Asking

# A sentence that supplies the asked kind of answer counts as if it matched this share more.
_SUPPLY_BONUS = 0.5
_BLANK = " \t\r\n\u3000\xa0"
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")  # as corpus.terms reads Han characters
# What lies between the Han runs corpus.terms cuts into characters and bigrams: its numbers with
# their units (a unit may be Han: 12330亩), and every other character but a digit or a Han one.
# Scanned as TOKEN scans, a number starts at the same digit and takes the same unit, so what this
# leaves of a text are exactly TOKEN's Han runs.
_BETWEEN_RUNS = re.compile(
    r"\d+(?:\.\d+)?(?:" + "|".join(map(re.escape, UNITS)) + r")?|[^\d\u3400-\u9fff\uf900-\ufaff]+"
)


@dataclass(frozen=True)
class Span:
    """A stretch of a document, in the same file coordinates as a passage's start/end."""

    start: int
    end: int


def passage_sentences(text: str, passage: Passage) -> list[Span]:
    """The sentences of a passage, within each of its pieces and each line its own.

    A sentence never spans two pieces of a joined paragraph: the answer is one span of the file.
    """
    spans = []
    for piece_start, piece_end in passage.spans:
        pos = piece_start
        for line in text[piece_start:piece_end].split("\n"):
            line_end = pos + len(line)
            for start, end in sentences(text, pos, line_end):
                while start < end and text[start] in _BLANK:
                    start += 1
                while end > start and text[end - 1] in _BLANK:
                    end -= 1
                if end > start:
                    spans.append(Span(start, end))
            pos = line_end + 1
    return spans or [Span(passage.start, passage.end)]


def shared_terms(wanted: Iterable[str], folded: str) -> set[str]:
    """Which of ``wanted`` are terms of the text whose folded form is ``folded``: the same as
    ``set(wanted) & set(terms(text))`` (corpus.terms), without cutting the whole text into terms.

    A Han character or bigram is a term where it lies inside one run of Han characters (not in a
    number's unit, 12330亩; a single character not a stop character); a number, a number with its
    unit and a Latin word are terms as the tokens of the text. tests/unit/test_sentence_vectors.py
    holds the two ways together.
    """
    han, other = _classify(tuple(wanted))
    return _shared(han, other, folded)


@lru_cache(maxsize=1024)  # per question: its hits' sentences are matched against the same terms
def _classify(wanted: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """The wanted terms that are Han characters or bigrams, and the others; stop characters, never terms, left out."""
    han, other = set(), set()
    for t in wanted:
        if len(t) <= 2 and _HAN.fullmatch(t):
            if len(t) == 2 or t not in STOP_CHARS:
                han.add(t)
        else:
            other.add(t)
    return frozenset(han), frozenset(other)


def _shared(han: frozenset[str], other: frozenset[str], folded: str) -> set[str]:
    if not other:
        # Only Han terms wanted (most Chinese questions): the runs alone, cut out in one call.
        joined = _BETWEEN_RUNS.sub("\n", folded)  # a break no bigram spans
        return {t for t in han if t in joined}
    runs: list[str] = []
    tokens: set[str] = set()
    for m in TOKEN.finditer(folded):
        kind = m.lastgroup  # "unit" for a number with its unit
        if kind == "cjk":
            runs.append(m.group())
        else:
            tokens.add(m.group())
            if kind == "unit":
                tokens.add(m.group("num"))
    joined = "\n".join(runs)  # a break no bigram spans
    return {t for t in han if t in joined} | (other & tokens)


def best_sentence(
    asking: Asking,
    text: str,
    passage: Passage,
    idf: Callable[[str], float],
    spans: list[Span] | None = None,
) -> Span | None:
    """The sentence sharing the most (idf-weighted) with the question; None when none shares any.
    ``spans``: passage_sentences(text, passage), when the caller has them."""
    wanted = set(asking.content)
    if not wanted:
        return None
    han, other = _classify(asking.content)
    best, best_score = None, 0.0
    for span in passage_sentences(text, passage) if spans is None else spans:
        sentence = text[span.start : span.end]
        folded = fold(sentence)
        # Every term of a text is a stretch of its folded form: a sentence holding none of the
        # wanted terms as a stretch shares none, and is passed over without cutting it into terms
        # (most sentences, for an English question). With Han terms wanted, nearly every sentence
        # holds one, and _shared finds none as fast as this would.
        if not han and not any(t in folded for t in other):
            continue
        score = sum(idf(t) for t in sorted(_shared(han, other, folded)))
        # Whether it gives the answer asked for (jieba's tags, for a name) only matters when the
        # bonus could make it the best.
        if score > 0 and asking.kind and score * (1 + _SUPPLY_BONUS) > best_score and gives(asking, sentence, folded):
            score *= 1 + _SUPPLY_BONUS
        if score > best_score:
            best, best_score = span, score
    return best
