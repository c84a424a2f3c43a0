"""The embedding cache: passage vectors kept between builds, so a rebuild embeds only new text.

One SQLite file per model, ``<directory>/<name>.sqlite`` where the name is derived from the
model fingerprint and dimension, so switching models back and forth keeps each model's cache.
A vector is keyed by the sha256 of the fingerprint and the exact text embedded; the fingerprint
covers the weights, the vocabulary and the prompts (index.embedder), so a key can only ever
name a vector that model would make again.

SQLite transactions make a build killed mid-write (SIGKILL included) lose at most the batch it
was writing, never the file. A file that is not a database or is damaged is a cache miss, not a
failed build: it is moved aside as ``.corrupt`` with a warning, and the cache starts empty.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import numpy as np

from chuchu.corpus.errors import BuildError

log = logging.getLogger(__name__)
T = TypeVar("T")

Progress = Callable[[int, int], None]  # (texts embedded so far, texts to embed)
_CHUNK = 500  # keys per SELECT … IN (…): well under SQLite's limit on bound parameters
_FLOAT = np.dtype("<f4")  # stored little-endian whatever the machine, so a cache file can move
# SQLITE_CORRUPT and SQLITE_NOTADB: the file is damaged or is not a database at all. Other errors
# (locked, read-only, disk full) say nothing about the file's contents and are not cured by
# moving it aside.
_DAMAGED = {11, 26}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID;
"""


class EmbeddingCache:
    """Passage vectors of one model, by key of the text embedded; a context manager."""

    def __init__(self, path: Path, fingerprint: str, dimension: int) -> None:
        self.directory = Path(path)
        self.fingerprint = fingerprint
        self.dimension = int(dimension)
        # Derived by hashing rather than taken from the fingerprint itself: any fingerprint
        # (a model name with slashes, say) makes a valid file name, and the dimension is part
        # of what the vectors are.
        name = hashlib.sha256(f"{fingerprint}\0{self.dimension}".encode()).hexdigest()[:16]
        self.file = self.directory / f"{name}.sqlite"
        self._prefix = fingerprint.encode() + b"\0"
        self._db = self._open()

    def key(self, text: str) -> str:
        """The cache key of a text embedded by this model."""
        return hashlib.sha256(self._prefix + text.encode("utf-8", "surrogatepass")).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``keys``; keys not in the cache are left out."""
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), _CHUNK):
            none: list[tuple[str, bytes]] = []
            rows = self._guarded(partial(self._select, list(keys[start : start + _CHUNK])), none)
            for key, blob in rows:
                if len(blob) == self.dimension * _FLOAT.itemsize:
                    found[key] = np.frombuffer(blob, dtype=_FLOAT).astype(np.float32)
        return found

    def has_many(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` the cache holds, without reading their vectors."""
        present: set[str] = set()
        for start in range(0, len(keys), _CHUNK):
            none: list[tuple[str]] = []
            rows = self._guarded(partial(self._select, list(keys[start : start + _CHUNK]), "key"), none)
            present.update(row[0] for row in rows)
        return present

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        """Store vectors, in one transaction: all of them are kept or, if killed, none."""
        rows = []
        for key, vector in items.items():
            array = np.asarray(vector)
            if array.shape != (self.dimension,):
                raise BuildError(
                    f"An embedding of shape {array.shape} cannot go into the cache of {self.dimension}-dimensional "
                    f"vectors at {self.file}; the model made vectors of another size than it declares."
                )
            rows.append((key, array.astype(_FLOAT).tobytes()))
        if rows:
            self._guarded(lambda: self._write(rows), None)

    def __len__(self) -> int:
        return self._guarded(lambda: int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]), 0)

    def close(self) -> None:
        """Close the file; the cache cannot be used afterwards."""
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _open(self) -> sqlite3.Connection:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BuildError(f"The embedding cache directory {self.directory} cannot be made ({exc}).") from exc
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if not _damaged(exc):
                raise self._unusable(exc) from exc
            self._move_aside(exc)
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from exc

    def _unusable(self, exc: sqlite3.Error) -> BuildError:
        return BuildError(
            f"The embedding cache {self.file} cannot be used ({exc}); check the permissions of "
            f"{self.directory} and the free space on its disk, or delete the file."
        )

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; _write opens its own.
        db = sqlite3.connect(self.file, isolation_level=None, timeout=30)
        try:
            # WAL: a writer killed mid-transaction leaves the database as of its last commit;
            # synchronous=NORMAL keeps that for a killed process (a power cut may lose the last
            # commits, which for a cache only means embedding them again).
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
            expected = {"fingerprint": self.fingerprint, "dimension": str(self.dimension)}
            if meta != expected:
                if meta:  # only by a hash collision of the file name, or a file copied by hand
                    log.warning("embedding cache %s belongs to another model (%s); emptying it", self.file, meta)
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM vectors")
                db.execute("DELETE FROM meta")
                db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(expected.items()))
                db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        return db

    def _select(self, keys: list[str], columns: str = "key, vector") -> list[Any]:
        sql = f"SELECT {columns} FROM vectors WHERE key IN ({','.join('?' * len(keys))})"
        return self._db.execute(sql, keys).fetchall()

    def _write(self, rows: list[tuple[str, bytes]]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # keep the first error, not the rollback's
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _guarded(self, operation: Callable[[], T], empty: T) -> T:
        """Run a statement; damage found now is handled as on open, and the cache starts empty."""
        try:
            return operation()
        except sqlite3.DatabaseError as exc:
            if not _damaged(exc):
                raise self._unusable(exc) from exc
            self._db.close()
            self._move_aside(exc)
            self._db = self._connect()
            return empty

    def _move_aside(self, exc: sqlite3.DatabaseError) -> None:
        aside = self.file.with_name(self.file.name + ".corrupt")
        log.warning("embedding cache %s is damaged (%s); moved to %s, starting empty", self.file, exc, aside)
        self.file.replace(aside)
        # The journal files belong to the damaged database; left behind, SQLite would try to
        # apply them to the new, empty one.
        for suffix in ("-wal", "-shm"):
            self.file.with_name(self.file.name + suffix).unlink(missing_ok=True)


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in _DAMAGED  # the low byte is the primary code of an extended one
    return any(s in str(exc) for s in ("file is not a database", "malformed"))


def embed_with_cache(
    texts: Sequence[str],
    embed: Callable[[list[str]], np.ndarray],
    cache: EmbeddingCache | None,
    batch_size: int,
    progress: Progress | None = None,
) -> tuple[np.ndarray, int]:
    """The (len(texts), dimension) float32 vectors of ``texts``, in order, and how many came from the cache.

    Only texts the cache lacks are embedded, each distinct text once, ``batch_size`` at a time,
    shortest first (batches of like lengths carry little padding);
    every batch goes into the cache as soon as it is made, so a build killed half-way keeps the
    work done. ``progress(done, to_embed)`` is called after each batch. The count returned is of
    positions in ``texts`` whose vector was reused. Besides the result, at most one batch of
    vectors is held at a time. With no texts and no cache the dimension is unknown: (0, 0).
    """
    if batch_size < 1:
        raise BuildError(f"The embedding batch size must be 1 or more, not {batch_size}.")
    first: dict[str, int] = {}  # each distinct text → its first position; later copies are filled from it
    for i, text in enumerate(texts):
        first.setdefault(text, i)
    out: np.ndarray | None = None
    if cache is not None:
        out = np.empty((len(texts), cache.dimension), dtype=np.float32)
    hit = np.zeros(len(texts), dtype=bool)
    if cache is not None and out is not None:
        distinct = list(first.items())
        for start in range(0, len(distinct), _CHUNK):
            chunk = distinct[start : start + _CHUNK]
            keys = [cache.key(text) for text, _ in chunk]
            found = cache.get_many(keys)
            for (_, i), key in zip(chunk, keys):
                if key in found:
                    out[i] = found[key]
                    hit[i] = True

    # Length-sorted batches: a batch is as long as its longest text and the rest is padding, so
    # batches in document order, short and long mixed, cost most of their time in padding
    # (InsuranceQA-zh, 640 answers: 50 s in document order, 30 s sorted). The cache is keyed by
    # text and ``out`` by position, so the order of embedding changes nothing else.
    misses = sorted((text for text, i in first.items() if not hit[i]), key=len)
    for done, batch in _batches(misses, batch_size):
        vectors = np.asarray(embed(batch), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(batch):
            raise BuildError(f"The model returned {vectors.shape} vectors for a batch of {len(batch)} texts.")
        if out is None:
            out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
        elif vectors.shape[1] != out.shape[1]:
            raise BuildError(
                f"The model returned {vectors.shape[1]}-dimensional vectors, {out.shape[1]} were expected."
            )
        rows = [first[text] for text in batch]
        out[rows] = vectors
        if cache is not None:
            cache.put_many({cache.key(text): vector for text, vector in zip(batch, vectors)})
        if progress is not None:
            progress(done, len(misses))

    if out is None:  # no texts at all, and no cache to say the dimension
        return np.zeros((0, 0), dtype=np.float32), 0
    reused = 0
    for i, text in enumerate(texts):
        j = first[text]
        if j != i:
            out[i] = out[j]
        reused += bool(hit[j])
    return out, reused


def _batches(items: list[str], size: int) -> Iterator[tuple[int, list[str]]]:
    for start in range(0, len(items), size):
        batch = items[start : start + size]
        yield start + len(batch), batch
