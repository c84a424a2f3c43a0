"""The lexical index: BM25 over character unigrams, bigrams and numbers (corpus.terms).

Stored beside the vectors as plain files (no pickle): ``lexical.npz`` holds the passage × term
BM25 weight matrix in compressed-sparse-column form, ``lexical.json`` the vocabulary and the
parameters. Weights are computed at build time, so a query is a sum of a few matrix columns.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from chuchu.corpus.errors import IndexCorrupt
from chuchu.corpus.terms import terms

NAME = "lexical"  # files are <name>.npz and <name>.json


@dataclass(frozen=True)
class LexicalScores:
    """BM25 scores of every passage for one question, and the question's terms found."""

    scores: np.ndarray  # one float per passage
    terms: tuple[str, ...]  # the question's terms that occur in the index, in column order
    weights: sp.csc_matrix  # the index's matrix, for the terms each passage matched
    columns: tuple[int, ...]  # those terms' columns
    # The columns' entries (_column_entries) when they came in one piece, as they do but in a large
    # build: kept for the terms each hit matched rather than gathered again.
    entries: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None

    def matched(self, passage: int) -> list[str]:
        """The question's terms that occur in one passage."""
        return list(self.matched_rows([passage])[0])

    def matched_rows(self, rows: list[int]) -> list[tuple[str, ...]]:
        """Per passage of ``rows``, the question's terms found in it, for all of them at once."""
        if not rows or not self.columns:
            return [() for _ in rows]
        position = np.full(self.weights.shape[0], -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        found: list[list[str]] = [[] for _ in rows]
        # The entries come column by column, the question's terms in order, so each passage's terms
        # come out in that order.
        pieces = [self.entries] if self.entries is not None else _column_entries(self.weights, self.columns)
        for first, entries, _, lengths in pieces:
            here = position[entries]
            kept = np.flatnonzero(here >= 0)
            which = np.repeat(np.arange(first, first + len(lengths)), lengths)[kept]
            for n, j in zip(here[kept].tolist(), which.tolist()):
                found[n].append(self.terms[j])
        return [tuple(f) for f in found]


class LexicalIndex:
    """BM25 (Okapi) with precomputed weights."""

    def __init__(self, weights: sp.csc_matrix, vocabulary: dict[str, int], k1: float, b: float) -> None:
        if not weights.has_canonical_format:  # score_terms wants each row once per column
            weights.sum_duplicates()
        self.weights = weights
        self.vocabulary = vocabulary
        self.terms = sorted(vocabulary, key=vocabulary.__getitem__)
        self.k1, self.b = k1, b
        n = weights.shape[0]
        df = np.diff(weights.indptr)  # passages per term: the column lengths of the CSC matrix
        self._idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)

    def idf(self, term: str) -> float:
        """How rare a term is across passages (BM25's idf); 0 for a term the index has not seen."""
        i = self.vocabulary.get(term)
        return float(self._idf[i]) if i is not None else 0.0

    @classmethod
    def build(cls, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> LexicalIndex:
        """Index texts (one per passage, in vector order)."""
        builder = LexicalBuilder()
        for text in texts:
            builder.add(text)
        return builder.build(k1, b)

    def score(self, question: str) -> LexicalScores:
        """BM25 of every passage for the question; all zeros when no term occurs."""
        return self.score_terms(terms(question))

    def score_terms(self, cut: Sequence[str]) -> LexicalScores:
        """BM25 of every passage for a question already cut into terms (corpus.terms): the sum of
        its terms' columns, added in column order, read without slicing the matrix."""
        columns = sorted({self.vocabulary[t] for t in cut if t in self.vocabulary})
        scores = np.zeros(self.weights.shape[0], dtype=np.float32)
        kept = None
        for piece, entries in enumerate(_column_entries(self.weights, columns)):
            # One call for many columns rather than one fancy-indexed add per column (a fifth of
            # the time); add.at adds element by element in order, so each row's sum is the same float32.
            np.add.at(scores, entries[1], entries[2])
            kept = entries if piece == 0 else None
        return LexicalScores(scores, tuple(self.terms[j] for j in columns), self.weights, tuple(columns), kept)

    def save(self, directory: Path, name: str = NAME) -> None:
        """Write <name>.npz and <name>.json."""
        sp.save_npz(directory / f"{name}.npz", self.weights, compressed=True)
        meta = {"k1": self.k1, "b": self.b, "terms": self.terms}
        (directory / f"{name}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, passages: int, name: str = NAME) -> LexicalIndex:
        """Read a build's lexical index, checking it matches its passages."""
        try:
            weights = sp.load_npz(directory / f"{name}.npz").tocsc()
            meta = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
            vocabulary = {t: i for i, t in enumerate(meta["terms"])}
            k1, b = float(meta["k1"]), float(meta["b"])
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorrupt(
                f"The lexical index in {directory} cannot be read ({exc}); run `chuchu build` again."
            ) from exc
        if weights.shape != (passages, len(vocabulary)):
            raise IndexCorrupt(
                f"The lexical index in {directory} covers {weights.shape[0]} passages and "
                f"{weights.shape[1]} terms, the build has {passages} passages and a vocabulary of "
                f"{len(vocabulary)}; run `chuchu build` again."
            )
        return cls(weights, vocabulary, k1, b)


class LexicalBuilder:
    """Takes passages one by one as a build streams them, holding only their term counts.

    Counts are kept as numpy arrays (a few bytes per distinct term of a passage) rather than
    Python lists of ints, about ten times smaller, so what grows with the corpus is about the
    size of the weight matrix the index is anyway.
    """

    def __init__(self) -> None:
        self._vocabulary: dict[str, int] = {}
        self._ids: list[np.ndarray] = []
        self._tfs: list[np.ndarray] = []

    def add(self, text: str) -> None:
        """Take the next passage's text."""
        counts = Counter(terms(text))
        vocabulary = self._vocabulary
        self._ids.append(
            np.fromiter((vocabulary.setdefault(t, len(vocabulary)) for t in counts), np.int32, len(counts))
        )
        self._tfs.append(np.fromiter(counts.values(), np.float32, len(counts)))

    def build(self, k1: float = 1.2, b: float = 0.75) -> LexicalIndex:
        """The BM25 index of the passages taken so far."""
        n, columns = len(self._ids), len(self._vocabulary)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum([len(ids) for ids in self._ids], out=indptr[1:])
        cols = np.concatenate(self._ids) if n else np.zeros(0, np.int32)
        tf = np.concatenate(self._tfs) if n else np.zeros(0, np.float32)
        self._ids, self._tfs = [], []  # the arrays above replace them
        df = np.bincount(cols, minlength=columns)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        lengths = np.diff(indptr)
        dl = np.bincount(np.repeat(np.arange(n), lengths), weights=tf, minlength=n).astype(np.float32)
        norm = k1 * (1 - b + b * dl / max(float(dl.mean()) if n else 0.0, 1.0))
        denominator = tf + np.repeat(norm, lengths)
        data = idf[cols]
        data *= tf
        data *= k1 + 1
        data /= denominator  # in place, in BM25's order of operations, with no index arrays of pairs
        del tf, denominator
        # Built row by row as CSR, then turned into CSC, the form queries read columns of.
        weights = sp.csr_matrix((data, cols, indptr), shape=(n, columns)).tocsc()
        vocabulary, self._vocabulary = self._vocabulary, {}
        return LexicalIndex(weights, vocabulary, k1, b)


# The most matrix entries gathered at once: a question's columns are taken together, but those of
# a large build's common characters in pieces, so that the arrays of one question stay a few MB.
_GATHER_AT_MOST = 1 << 17


def _column_entries(
    weights: sp.csc_matrix, columns: Sequence[int]
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """The stored entries of the columns, in column order, in pieces of a few consecutive columns:
    each piece's first column's position in ``columns``, its entries' rows and values, and how
    many entries each of its columns has."""
    if not columns:
        return
    wanted = np.asarray(columns, dtype=np.int64)
    starts = weights.indptr[wanted].astype(np.int64)
    lengths = weights.indptr[wanted + 1] - starts
    ends = np.cumsum(lengths)
    first = 0
    while first < len(wanted):
        # As many columns as fit in _GATHER_AT_MOST entries after those already taken, at least one.
        before = ends[first] - lengths[first]
        last = max(first + 1, int(np.searchsorted(ends, before + _GATHER_AT_MOST, side="right")))
        size = lengths[first:last]
        within = np.arange(int(ends[last - 1] - before))  # entry number in the piece
        take = within + np.repeat(starts[first:last] - (ends[first:last] - size - before), size)
        yield first, weights.indices[take], weights.data[take], size
        first = last
