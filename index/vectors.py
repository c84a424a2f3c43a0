"""The vector index of a build: exact search, or approximate (HNSW) above a size.

Exact search (a flat inner-product index) compares the question with every passage: a few
milliseconds for tens of thousands of passages, growing linearly. Above ``approximate_above``
passages the build writes an HNSW graph instead, which visits a few thousand of them; what that
costs in quality is measured by the build, as recall@10 against exact search on a sample of
queries, recorded in the manifest and shown by ``chuchu builds``. HNSW rather than IVF: it needs
no training pass over the vectors, so it is built from the same single stream of batches.

During a build the vectors are appended to a spool file of raw float32, one batch at a time, and
read back through a memory map, from which the index is filled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from chuchu.corpus.errors import BuildError

# Passages above which a build writes an approximate index: exact search over 100,000 vectors of
# 384 dimensions takes tens of milliseconds a question on two cores; below, exact costs nothing.
APPROXIMATE_ABOVE = 100_000
EXACT = "exact"
APPROXIMATE = "hnsw"
HNSW_M = 32  # graph neighbours per vector: 32 keeps recall@10 ≈ 0.99 for small sentence embeddings
EF_CONSTRUCTION = 100
# efSearch is chosen by each build: the least of EF_SEARCH, 2×, 4×… up to EF_SEARCH_MAX whose
# measured recall@10 reaches TARGET_RECALL. A bigger graph needs a wider search for the same
# recall: on clustered synthetic vectors (benchmarks/bench.py, scale) recall@10 at efSearch 256
# was 1.0 at 100k but 0.63 at 1M, where 1,024 gives 1.0 in 1.7 ms a question.
EF_SEARCH = 128
EF_SEARCH_MAX = 4096
TARGET_RECALL = 0.97
# How many passages the approximate dense leg returns per question; the rest get the lowest of
# their scores, so fusion sees them as the dense leg's last.
CANDIDATES = 256
RECALL_SAMPLE = 256  # queries of the recall measurement
_CHUNK = 8192  # vectors read from the spool at a time


@dataclass(frozen=True)
class VectorIndexInfo:
    """What kind of vector index a build has, and for an approximate one how well it agrees with exact search."""

    kind: str = EXACT
    recall_at_10: float | None = None  # approximate only: share of the exact top 10 the index finds
    sample: int = 0  # queries the recall was measured on
    m: int | None = None
    ef_search: int | None = None

    def record(self) -> dict[str, Any]:
        """What the manifest records."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> VectorIndexInfo:
        """Read back from a manifest; builds before approximate indexes existed are exact."""
        return cls(**record) if record else cls()


class VectorSpool:
    """Vectors appended batch by batch to a file of raw float32, read back as a memory map."""

    def __init__(self, path: Path, dimension: int) -> None:
        self.path = Path(path)
        self.dimension = int(dimension)
        self.count = 0
        self._file = open(self.path, "wb")  # held across add()s; close() ends it

    def add(self, vectors: np.ndarray) -> None:
        """Append a batch, in passage order."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise BuildError(f"Vectors of shape {vectors.shape} cannot join {self.dimension}-dimensional ones.")
        self._file.write(vectors.tobytes())
        self.count += len(vectors)

    def close(self) -> None:
        """Finish writing."""
        self._file.close()

    def array(self) -> np.ndarray:
        """All vectors, (count, dimension), memory-mapped read-only."""
        self.close()
        if not self.count:
            return np.zeros((0, self.dimension), np.float32)
        return np.memmap(self.path, dtype=np.float32, mode="r", shape=(self.count, self.dimension))


def write_index(spool: VectorSpool, path: Path, approximate_above: int, seed: int = 0) -> VectorIndexInfo:
    """Write the spool's vectors as an exact index, or an HNSW one when there are more than ``approximate_above``."""
    vectors = spool.array()
    n, d = vectors.shape
    if n <= approximate_above:
        index: Any = faiss.IndexFlatIP(d)
        info = VectorIndexInfo()
    else:
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = EF_CONSTRUCTION
    if n:
        # One add, straight from the memory map: the index keeps its own copy of the vectors
        # either way, and HNSW built in several adds is a worse graph (the real model's 100×
        # synthetic corpus: recall@10 0.934 added 8,192 at a time, 0.982 in one add).
        index.add(vectors)
    if n > approximate_above:
        ef, recall, sample = choose_ef_search(index, vectors, seed=seed)
        info = VectorIndexInfo(APPROXIMATE, round(recall, 4), sample, HNSW_M, ef)
    faiss.write_index(index, str(path))
    return info


def read_index(path: Path, info: VectorIndexInfo) -> Any:
    """Read a build's vector index, set up to search as the build measured it."""
    index: Any = faiss.read_index(str(path))
    if info.kind == APPROXIMATE:
        index.hnsw.efSearch = info.ef_search or EF_SEARCH  # not stored in the file
    return index


def search(index: Any, info: VectorIndexInfo, query: np.ndarray, n: int, allowed: np.ndarray | None) -> np.ndarray:
    """Cosine of the query with each of the n passages; passages the index does not return get the lowest returned.

    ``allowed`` (passage numbers) restricts an approximate search to the passages a filter lets
    through, so they are not crowded out of its candidates by others.
    """
    dense = np.full(n, -1.0, dtype=np.float32)
    if info.kind == APPROXIMATE:
        k = min(n, CANDIDATES)
        # faiss's SWIG stubs leave the search parameter classes out. efSearch below k would be raised to k.
        params = faiss.SearchParametersHNSW(efSearch=max(k, info.ef_search or EF_SEARCH))  # type: ignore[attr-defined]
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            params.sel = selector  # the selector must outlive the search
        scores, ids = index.search(query, k, params=params)
    else:
        scores, ids = index.search(query, n)
    valid = ids[0] >= 0
    if valid.any():
        dense[:] = scores[0][valid].min()
        dense[ids[0][valid]] = scores[0][valid]
    return dense


def choose_ef_search(index: Any, vectors: np.ndarray, seed: int = 0) -> tuple[int, float, int]:
    """The least efSearch (doubling from what a search takes anyway) at which the HNSW index
    reaches TARGET_RECALL, with its recall@10 and the number of queries; EF_SEARCH_MAX and its
    recall when none does. The index is left searching with it."""
    ef = max(EF_SEARCH, CANDIDATES)  # search() never asks for fewer than CANDIDATES
    while True:
        index.hnsw.efSearch = ef
        recall, sample = measure_recall(index, vectors, seed=seed)
        if recall >= TARGET_RECALL or ef >= EF_SEARCH_MAX:
            return ef, recall, sample
        ef *= 2


def measure_recall(index: Any, vectors: np.ndarray, k: int = 10, seed: int = 0) -> tuple[float, int]:
    """Recall@k of an approximate index against exact search, and the number of queries.

    The queries are midpoints of two random passages' vectors, normalised: like questions, they
    lie among the passages without being one of them (a passage as its own query would always
    find itself). A result counts as found when it scores at least the exact k-th best, as
    ANN-benchmarks counts: a corpus holds copies (a caption in every issue of a paper), and which
    of several equal vectors exact search lists is arbitrary, so matching ids would count a copy
    as a miss (on a 100× synthetic corpus with 2,871 repeated vectors: 0.86 by ids, 0.97 by score).
    """
    n = len(vectors)
    rng = np.random.default_rng(seed)
    sample = min(RECALL_SAMPLE, n)
    a, b = rng.integers(0, n, sample), rng.integers(0, n, sample)
    queries = np.ascontiguousarray(vectors[np.sort(a)] + vectors[np.sort(b)], dtype=np.float32)
    faiss.normalize_L2(queries)
    kth = _exact_kth(queries, vectors, min(k, n))
    _, found = index.search(queries, k)
    hits = 0
    for query, ids, bar in zip(queries, found, kth):
        ids = ids[ids >= 0]
        hits += int((np.asarray(vectors[np.sort(ids)]) @ query >= bar - 1e-5).sum())  # 1e-5: float rounding
    return hits / (sample * min(k, n)), sample


def _exact_kth(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """The k-th best score of each query over all vectors, scanning them in chunks."""
    best = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    for start in range(0, len(vectors), _CHUNK):
        scores = np.concatenate([best, queries @ np.asarray(vectors[start : start + _CHUNK]).T], axis=1)
        best = -np.sort(-scores, axis=1)[:, :k]
    return best[:, k - 1]
