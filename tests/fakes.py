"""A deterministic stand-in for the model, for unit tests that must run in milliseconds."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


class HashingEmbedder:
    """Character bigrams hashed into a vector: similar texts get similar vectors."""

    name = "hashing-test-embedder"
    fingerprint = "hashing-v1"
    dimension = 64

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return np.vstack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_passages(texts)

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, np.float32)
        for a, b in zip(text, text[1:]):
            v[int(hashlib.md5((a + b).encode()).hexdigest(), 16) % self.dimension] += 1
        n = np.linalg.norm(v)
        return v / n if n else v


class CountingEmbedder(HashingEmbedder):
    """The fake model, remembering every passage text it was asked to embed (questions are not counted)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.texts.extend(texts)
        return super().embed_passages(texts, batch_size)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return HashingEmbedder.embed_passages(self, texts)
