import logging
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chuchu.corpus.errors import BuildError
from chuchu.index.cache import EmbeddingCache, embed_with_cache
from tests.fakes import HashingEmbedder

ROOT = Path(__file__).resolve().parents[2]
DIM = 8


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def test_vectors_come_back_bitwise_equal(tmp_path):
    special = np.array([np.nan, -0.0, np.inf, -np.inf, 1e-45, np.finfo(np.float32).max, 1 / 3, -7.25], np.float32)
    special[0] = np.frombuffer(b"\x01\x00\xc0\x7f", np.float32)[0]  # a NaN with a payload
    vectors = [special, *_vectors(3)]
    with EmbeddingCache(tmp_path, "model-a", DIM) as cache:
        keys = [cache.key(f"text {i}") for i in range(len(vectors))]
        cache.put_many(dict(zip(keys, vectors)))
        assert len(cache) == 4
    with EmbeddingCache(tmp_path, "model-a", DIM) as cache:
        found = cache.get_many(keys)
    assert set(found) == set(keys)
    for key, vector in zip(keys, vectors):
        assert found[key].dtype == np.float32 and found[key].tobytes() == vector.tobytes()
        assert found[key].flags.writeable


def test_missing_keys_are_left_out_and_lookups_are_chunked(tmp_path):
    vectors = _vectors(1200)
    with EmbeddingCache(tmp_path, "model-a", DIM) as cache:
        keys = [cache.key(str(i)) for i in range(1200)]
        cache.put_many({k: v for k, v in zip(keys, vectors) if int(k, 16) % 3})
        asked = keys + [cache.key("never stored")]
        found = cache.get_many(asked)
    assert set(found) == {k for k in keys if int(k, 16) % 3}
    assert all(np.array_equal(found[k], v) for k, v in zip(keys, vectors) if k in found)


def test_keys_depend_on_the_model_and_the_exact_text(tmp_path):
    with EmbeddingCache(tmp_path, "model-a", DIM) as a, EmbeddingCache(tmp_path, "model-b", DIM) as b:
        assert a.key("甲镇") == a.key("甲镇") != a.key("甲镇 ") != b.key("甲镇")
        assert len(a.key("甲镇")) == 64
        assert a.key("\ud800 a lone surrogate")  # any str, not only valid UTF-8


def test_each_model_has_its_own_file_kept_when_switching(tmp_path):
    [vector] = _vectors(1)
    with EmbeddingCache(tmp_path, "model-a", DIM) as a:
        a.put_many({a.key("x"): vector})
    with EmbeddingCache(tmp_path, "model-b", DIM) as b, EmbeddingCache(tmp_path, "model-a", DIM * 2) as wide:
        assert len(b) == 0 and len(wide) == 0 and b.get_many([b.key("x")]) == {}
        b.put_many({b.key("x"): vector})
        assert len({a.file, b.file, wide.file}) == 3
    with EmbeddingCache(tmp_path, "model-a", DIM) as a:
        assert a.get_many([a.key("x")])[a.key("x")].tobytes() == vector.tobytes()


def test_the_file_is_in_wal_mode_and_records_its_model(tmp_path):
    with EmbeddingCache(tmp_path, "model-a", DIM) as cache:
        file = cache.file
    db = sqlite3.connect(file)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert dict(db.execute("SELECT name, value FROM meta")) == {"fingerprint": "model-a", "dimension": str(DIM)}
    finally:
        db.close()


def test_a_file_recording_another_model_is_emptied(tmp_path, caplog):
    with EmbeddingCache(tmp_path, "model-a", DIM) as cache:
        cache.put_many({cache.key("x"): _vectors(1)[0]})
        file = cache.file
    db = sqlite3.connect(file)
    with db:
        db.execute("UPDATE meta SET value = 'someone-else' WHERE name = 'fingerprint'")
    db.close()
    with caplog.at_level(logging.WARNING), EmbeddingCache(tmp_path, "model-a", DIM) as cache:
        assert len(cache) == 0
    assert "another model" in caplog.text


def test_a_garbage_file_is_moved_aside_and_the_cache_starts_empty(tmp_path, caplog):
    with EmbeddingCache(tmp_path, "model-a", DIM) as cache:
        file = cache.file
    garbage = os.urandom(4096)
    file.write_bytes(garbage)
    with caplog.at_level(logging.WARNING), EmbeddingCache(tmp_path, "model-a", DIM) as cache:
        assert len(cache) == 0
        cache.put_many({cache.key("x"): _vectors(1)[0]})
        assert len(cache) == 1
    assert "damaged" in caplog.text and ".corrupt" in caplog.text
    assert file.with_name(file.name + ".corrupt").read_bytes() == garbage


def test_damaged_pages_found_after_opening_do_not_break_a_build(tmp_path, caplog):
    vectors = _vectors(3000)
    with EmbeddingCache(tmp_path, "model-a", DIM) as cache:
        keys = [cache.key(str(i)) for i in range(len(vectors))]
        cache.put_many(dict(zip(keys, vectors)))
        file = cache.file
    db = sqlite3.connect(file)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    with open(file, "r+b") as f:  # scribble over every page but the first (the schema)
        size = f.seek(0, os.SEEK_END)
        f.seek(4096)
        f.write(b"\xff" * (size - 4096))
    with caplog.at_level(logging.WARNING), EmbeddingCache(tmp_path, "model-a", DIM) as cache:
        found = cache.get_many(keys)
        assert all(found[k].tobytes() == v.tobytes() for k, v in zip(keys, vectors) if k in found)
        cache.put_many({keys[0]: vectors[0]})
        assert keys[0] in cache.get_many(keys[:1])
    assert "damaged" in caplog.text


def test_a_cache_that_cannot_be_opened_says_where_and_why(tmp_path):
    with EmbeddingCache(tmp_path / "a", "model-a", DIM) as cache:
        file = cache.file
    file.unlink()
    file.mkdir()  # a directory where the file should be
    with pytest.raises(BuildError, match=f"{file}.*cannot be used"):
        EmbeddingCache(tmp_path / "a", "model-a", DIM)
    (tmp_path / "b").write_text("a file where the directory should be")
    with pytest.raises(BuildError, match="directory .* cannot be made"):
        EmbeddingCache(tmp_path / "b", "model-a", DIM)


def test_a_vector_of_the_wrong_size_is_refused(tmp_path):
    with EmbeddingCache(tmp_path, "model-a", DIM) as cache, pytest.raises(BuildError, match="shape \\(9,\\)"):
        cache.put_many({cache.key("x"): np.zeros(9, np.float32)})


# Writes batches of 50 vectors forever, vector i filled with i, one transaction a batch.
WRITER = """
import sys
import numpy as np
from pathlib import Path
from chuchu.index.cache import EmbeddingCache
cache = EmbeddingCache(Path(sys.argv[1]), "model-a", 8)
i = 0
while True:
    cache.put_many({f"k{j}": np.full(8, j, np.float32) for j in range(i, i + 50)})
    i += 50
    print(i, flush=True)
"""


def test_a_writer_killed_mid_write_leaves_a_consistent_cache(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    try:
        while int(proc.stdout.readline()) < 2000:
            pass
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    with EmbeddingCache(tmp_path, "model-a", DIM) as cache:
        stored = len(cache)
        assert stored >= 2000 and stored % 50 == 0, "whole batches only"
        found = cache.get_many([f"k{j}" for j in range(stored + 50)])
        assert sorted(found, key=lambda k: int(k[1:])) == [f"k{j}" for j in range(stored)]
        assert all(np.array_equal(v, np.full(DIM, int(k[1:]), np.float32)) for k, v in found.items())
    db = sqlite3.connect(cache.file)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()


class CountingEmbedder(HashingEmbedder):
    """The fake model, recording the batches it was asked to embed."""

    def __init__(self, fail_on_batch: int | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_on_batch = fail_on_batch

    def __call__(self, texts: list[str]) -> np.ndarray:
        if len(self.batches) == self.fail_on_batch:
            raise RuntimeError("killed")
        self.batches.append(list(texts))
        return self.embed_passages(texts)


TEXTS = [f"第{i}段：甲镇今年种植一季稻{i}亩。" for i in range(10)]


def test_without_a_cache_every_distinct_text_is_embedded_once_in_batches():
    embed, calls = CountingEmbedder(), []
    texts = TEXTS + TEXTS[:3]
    vectors, reused = embed_with_cache(texts, embed, None, batch_size=4, progress=lambda *a: calls.append(a))
    assert reused == 0 and vectors.dtype == np.float32 and vectors.shape == (13, 64)
    assert np.array_equal(vectors, embed.embed_passages(texts))
    assert [len(b) for b in embed.batches] == [4, 4, 2] and sorted(sum(embed.batches, [])) == sorted(TEXTS)
    assert calls == [(4, 10), (8, 10), (10, 10)]


def test_a_second_run_embeds_only_what_is_new(tmp_path):
    with EmbeddingCache(tmp_path, HashingEmbedder.fingerprint, 64) as cache:
        first, reused = embed_with_cache(TEXTS, CountingEmbedder(), cache, batch_size=4)
        assert reused == 0 and len(cache) == 10

        again = CountingEmbedder()
        second, reused = embed_with_cache(TEXTS, again, cache, batch_size=4)
        assert reused == 10 and again.batches == [] and second.tobytes() == first.tobytes()

        changed = ["新的一段", *TEXTS[:5], "新的一段", TEXTS[0]]
        more, calls = CountingEmbedder(), []
        third, reused = embed_with_cache(changed, more, cache, batch_size=4, progress=lambda *a: calls.append(a))
        assert more.batches == [["新的一段"]] and calls == [(1, 1)]
        assert reused == 6, "positions served from the cache, the repeated TEXTS[0] included"
        assert np.array_equal(third, more.embed_passages(changed))


def test_a_build_killed_half_way_keeps_the_batches_it_finished(tmp_path):
    with EmbeddingCache(tmp_path, HashingEmbedder.fingerprint, 64) as cache:
        with pytest.raises(RuntimeError, match="killed"):
            embed_with_cache(TEXTS, CountingEmbedder(fail_on_batch=2), cache, batch_size=4)
        assert len(cache) == 8
        resumed = CountingEmbedder()
        _, reused = embed_with_cache(TEXTS, resumed, cache, batch_size=4)
        assert reused == 8 and resumed.batches == [TEXTS[8:]]


def test_no_texts(tmp_path):
    vectors, reused = embed_with_cache([], CountingEmbedder(), None, batch_size=4)
    assert vectors.shape == (0, 0) and reused == 0
    with EmbeddingCache(tmp_path, "model-a", DIM) as cache:
        vectors, reused = embed_with_cache([], CountingEmbedder(), cache, batch_size=4)
    assert vectors.shape == (0, DIM) and vectors.dtype == np.float32 and reused == 0


def test_a_model_that_answers_the_wrong_shape_is_reported(tmp_path):
    with pytest.raises(BuildError, match="for a batch of 2 texts"):
        embed_with_cache(["a", "b"], lambda texts: np.zeros((1, 4), np.float32), None, batch_size=2)
    with EmbeddingCache(tmp_path, "model-a", DIM) as cache, pytest.raises(BuildError, match="64-dimensional"):
        embed_with_cache(["a", "b"], CountingEmbedder(), cache, batch_size=2)
