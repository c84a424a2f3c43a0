"""The build embeds in length-sorted batches (little padding), and the order changes no vector."""

import numpy as np

from chuchu.index.cache import EmbeddingCache, embed_with_cache
from tests.fakes import HashingEmbedder


def _texts() -> list[str]:
    rng = np.random.default_rng(0)
    # Short and long passages mixed, as in a FAQ corpus; one repeated.
    texts = ["问" * int(n) + str(i) for i, n in enumerate(rng.integers(5, 300, 97))]
    return [*texts, texts[3]]


def test_batches_are_sorted_by_length_and_vectors_stay_in_order():
    model = HashingEmbedder()
    seen: list[list[str]] = []

    def embed(batch: list[str]) -> np.ndarray:
        seen.append(batch)
        return model.embed_passages(batch)

    texts = _texts()
    vectors, reused = embed_with_cache(texts, embed, None, batch_size=16)

    lengths = [len(t) for batch in seen for t in batch]
    assert lengths == sorted(lengths)
    assert all(len(b) <= 16 for b in seen) and sum(map(len, seen)) == len(set(texts))
    np.testing.assert_array_equal(vectors, model.embed_passages(texts))
    assert reused == 0


def test_sorted_batches_fill_the_cache_by_text(tmp_path):
    model = HashingEmbedder()
    texts = _texts()
    with EmbeddingCache(tmp_path, model.fingerprint, model.dimension) as cache:
        first, _ = embed_with_cache(texts, model.embed_passages, cache, batch_size=8)
        again, reused = embed_with_cache(list(reversed(texts)), model.embed_passages, cache, batch_size=8)
    np.testing.assert_array_equal(again, first[::-1])
    assert reused == len(texts)
