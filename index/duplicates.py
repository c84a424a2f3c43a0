"""Near-duplicate passages: the same paragraph pasted twice, or republished with a word changed.

Two passages are duplicates when most of the character bigrams of the shorter one are also in
the longer one (containment ≥ 0.8). The bigram-set intersections of all pairs come from one
sparse matrix product, so this stays fast for corpora far larger than a few documents.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from corpus.terms import fold

THRESHOLD = 0.8
# A passage far shorter than another is not a copy of it even when all its bigrams are in it:
# a photo caption ("江西沃德科科技有限公司外景") is contained in the paragraph that names the firm.
MIN_RATIO = 0.5


def duplicate_groups(texts: list[str], threshold: float = THRESHOLD) -> np.ndarray:
    """For each passage, the index of the first passage of its duplicate group (itself if none)."""
    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for i, text in enumerate(texts):
        folded = "".join(fold(text).split())
        for bigram in {folded[j : j + 2] for j in range(len(folded) - 1)}:
            rows.append(i)
            cols.append(vocabulary.setdefault(bigram, len(vocabulary)))
    n = len(texts)
    sets = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, len(vocabulary)))
    sizes = np.asarray(sets.sum(axis=1)).ravel()
    overlap = (sets @ sets.T).tocoo()
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, shared in zip(overlap.row, overlap.col, overlap.data):
        small, large = sorted((sizes[i], sizes[j]))
        if i < j and small >= MIN_RATIO * large and shared >= threshold * max(small, 1):
            a, b = root(int(i)), root(int(j))
            parent[max(a, b)] = min(a, b)
    return np.array([root(i) for i in range(n)], dtype=np.int64)
