"""The answering sentence: within a passage, the sentence that best answers the question.

A passage is a few sentences; the reader wants the one that answers. Sentences are scored by
the rarity (idf) of the question's terms they contain, and a sentence that gives what the
question asks for (a figure in the asked unit, a year) is preferred, because "多少亩" is answered
by the sentence with the acreage, not by the one that repeats the question's words. When the
question shares no term with the passage (an English question), the caller picks by meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chuchu.corpus.splitting import Passage, sentences
from chuchu.corpus.terms import terms
from chuchu.index.question.kinds import gives
from chuchu.index.question.reading import Asking

# A sentence that supplies the asked kind of answer counts as if it matched this share more.
_SUPPLY_BONUS = 0.5
_BLANK = " \t\r\n\u3000\xa0"


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


def best_sentence(asking: Asking, text: str, passage: Passage, idf: Callable[[str], float]) -> Span | None:
    """The sentence sharing the most (idf-weighted) with the question; None when none shares any."""
    wanted = set(asking.content)
    best, best_score = None, 0.0
    for span in passage_sentences(text, passage):
        sentence = text[span.start : span.end]
        score = sum(idf(t) for t in wanted.intersection(terms(sentence)))
        if score > 0 and asking.kind and gives(asking, sentence):
            score *= 1 + _SUPPLY_BONUS
        if score > best_score:
            best, best_score = span, score
    return best
