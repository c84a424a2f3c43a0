"""Near-duplicate passages: the same paragraph pasted twice, or republished with a word changed.

Two passages are duplicates when most of the character bigrams of the shorter one are also in
the longer one (containment ≥ 0.8), and the shorter has at least half the bigrams of the longer.

Comparing every pair costs n² (one common bigram such as 发展 is in most passages), so candidate
pairs come from prefix filtering instead: order bigrams from rarest to most common; if A is the
shorter and shares ≥ t·|A| bigrams with B, A misses at most k = |A| − ⌈t·|A|⌉ of its bigrams in
B, so B holds at least k + 1 of A's 2k + 1 rarest. Only pairs passing that test are compared
exactly, a block of rows at a time, so memory stays bounded by the block and the bigram sets,
which grow with the corpus only as the index itself does.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from chuchu.corpus.terms import fold

THRESHOLD = 0.8
# A passage far shorter than another is not a copy of it even when all its bigrams are in it:
# a photo caption ("江西沃德科科技有限公司外景") is contained in the paragraph that names the firm.
MIN_RATIO = 0.5
_BLOCK = 512  # rows compared at a time


class DuplicateFinder:
    """Takes passages one by one as a build streams them; ``groups`` then finds the duplicates."""

    def __init__(self, threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        self._vocabulary: dict[str, int] = {}
        self._rows: list[np.ndarray] = []  # per passage, its distinct bigram ids

    def add(self, text: str) -> None:
        """Take the next passage's text."""
        folded = "".join(fold(text).split())
        bigrams = {folded[j : j + 2] for j in range(len(folded) - 1)}
        ids = [self._vocabulary.setdefault(b, len(self._vocabulary)) for b in bigrams]
        self._rows.append(np.array(sorted(ids), dtype=np.int32))

    def groups(self) -> np.ndarray:
        """For each passage, the index of the first passage of its duplicate group (itself if none)."""
        # Passages with the same bigrams (a paragraph pasted many times, boilerplate repeated on
        # every page) are one group before any comparison: compared pair by pair, c copies make
        # c² candidates (50 MB of a repeated corpus ran 11 minutes). Only the first of each is
        # compared with the others; the copies follow it into its group.
        first: dict[bytes | int, int] = {}
        distinct: list[int] = []  # the original index of each distinct row, in order
        same = np.empty(len(self._rows), dtype=np.int64)  # each passage's distinct row
        for i, row in enumerate(self._rows):
            key: bytes | int = row.tobytes() if len(row) else i  # no bigrams: a copy of nothing
            if key not in first:
                first[key] = len(distinct)
                distinct.append(i)
            same[i] = first[key]
        roots = self._groups([self._rows[i] for i in distinct])
        return np.asarray(distinct, dtype=np.int64)[roots[same]]

    def _groups(self, rows: list[np.ndarray]) -> np.ndarray:
        n = len(rows)
        sets = _binary_rows(rows, len(self._vocabulary))
        sizes = np.diff(sets.indptr)
        rarity = np.empty(sets.shape[1], dtype=np.int64)  # 0 for the rarest bigram
        rarity[np.argsort(np.bincount(sets.indices, minlength=sets.shape[1]), kind="stable")] = np.arange(sets.shape[1])
        parent = np.arange(n)

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for start in range(0, n, _BLOCK):
            for i, j in self._pairs(sets, sizes, rarity, start, min(n, start + _BLOCK)):
                a, b = root(i), root(j)
                parent[max(a, b)] = min(a, b)
        return np.array([root(i) for i in range(n)], dtype=np.int64)

    def _pairs(
        self, sets: sp.csr_matrix, sizes: np.ndarray, rarity: np.ndarray, start: int, stop: int
    ) -> list[tuple[int, int]]:
        """Duplicate pairs (i, j) with i in [start, stop) the shorter passage (or the earlier of equals)."""
        prefix, needed = _rarest(sets[start:stop], rarity, self.threshold)
        candidates = (prefix @ sets.T).tocoo()
        rows, cols = candidates.row + start, candidates.col
        small, large = sizes[rows], sizes[cols]
        keep = (rows != cols) & ((small < large) | ((small == large) & (rows < cols))) & (small >= MIN_RATIO * large)
        keep &= candidates.data >= needed[candidates.row]
        rows, cols = rows[keep], cols[keep]
        if not len(rows):
            return []
        # The few candidates left are checked exactly: bigrams shared, pair by pair.
        shared = np.asarray(sets[rows].multiply(sets[cols]).sum(axis=1)).ravel()
        hits = shared >= self.threshold * np.maximum(sizes[rows], 1)
        return list(zip(rows[hits].tolist(), cols[hits].tolist()))


def duplicate_groups(texts: list[str], threshold: float = THRESHOLD) -> np.ndarray:
    """For each passage, the index of the first passage of its duplicate group (itself if none)."""
    finder = DuplicateFinder(threshold)
    for text in texts:
        finder.add(text)
    return finder.groups()


def _binary_rows(rows: list[np.ndarray], columns: int) -> sp.csr_matrix:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    indices = np.concatenate(rows) if rows else np.zeros(0, np.int32)
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(len(rows), columns))


def _rarest(sets: sp.csr_matrix, rarity: np.ndarray, threshold: float) -> tuple[sp.csr_matrix, np.ndarray]:
    """Each row's prefix of rarest bigrams, and how many of them a duplicate must hold.

    A row A may miss at most k = |A| − ⌈t·|A|⌉ of its bigrams in a duplicate, so a duplicate holds
    at least one of its k + 1 rarest. Taking the 2k + 1 rarest, it holds at least k + 1 of those:
    a longer prefix, but a far stronger test, which leaves few pairs to check exactly.
    """
    n, columns = sets.shape
    sizes = np.diff(sets.indptr)
    # The 1e-9 keeps float rounding (0.8 · 15 = 12.000000000000002) from shortening a prefix.
    missable = sizes - np.array([math.ceil(threshold * s - 1e-9) for s in sizes.tolist()], dtype=np.int64)
    length = np.minimum(sizes, 2 * missable + 1)
    if not sets.nnz:
        return sets.copy(), length - missable
    row_of = np.repeat(np.arange(n), sizes)
    order = np.lexsort((rarity[sets.indices], row_of))  # by row, then rarest first
    position = np.arange(sets.nnz) - sets.indptr[row_of[order]]
    keep = order[position < length[row_of[order]]]
    prefix = sp.csr_matrix(
        (np.ones(len(keep), np.float32), (row_of[keep], sets.indices[keep])), shape=(n, columns), dtype=np.float32
    )
    return prefix, length - missable
