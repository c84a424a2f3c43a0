"""Sentence vectors: each sentence of a passage of several sentences, embedded once, at build time.

The answering sentence of a hit (index.question.sentence) is the one sharing the most
idf-weighted terms with the question. A question sharing no term with the passage (an English
question about Chinese text) is answered by the sentence closest to it in meaning, which needs
every sentence's vector. Embedding the hits' sentences at question time cost ~250 ms a question
(20–25 sentences through the model); so the build embeds them once, through the embedding
cache like the passages (the same model, the same ``passage:`` prompt, so exactly the vectors the
question-time embedding made), and stores them with the build:

    sentences.npy          float16, (sentences, dimension): the sentences of each passage that
                           has two or more, in passage order (a passage of one sentence needs no
                           choice, so it has none)
    sentence_offsets.npy   int64, (passages + 1,): passage i's rows are offsets[i]:offsets[i+1]

float16 halves the file (768 bytes a sentence at 384 dimensions) and changes no choice: the
sentences' similarities to a question differ by ~1e-4 from float32, measured against the float32
choices of the English questions' hits, all the same. The vectors are memory-mapped when a build
is loaded, so a server reads only the rows of the passages it answers from, and its workers share
them in the page cache; at a million passages (~3 sentences each) the file is about 2.3 GB on
disk and the offsets 8 MB in memory.

Builds made before sentence vectors existed have none; their English questions are answered as
before, by embedding the hits' sentences at question time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from chuchu.corpus.documents import Document
from chuchu.corpus.errors import BuildError, IndexCorrupt
from chuchu.corpus.splitting import Passage
from chuchu.index.cache import EmbeddingCache, embed_with_cache
from chuchu.index.embedder import Embedder, release_freed_memory
from chuchu.index.question.sentence import passage_sentences

log = logging.getLogger(__name__)

VECTORS = "sentences.npy"
OFFSETS = "sentence_offsets.npy"
SPOOL = "sentences.spool.jsonl"  # the sentence texts while building; removed before publishing
DTYPE = "float16"
_WINDOW = 2048  # sentences embedded (and their vectors held) at a time


def sentence_texts(text: str, passage: Passage) -> list[str]:
    """The texts of a passage's sentences when it has two or more (as the answer picks them), else none."""
    spans = passage_sentences(text, passage)
    return [text[s.start : s.end] for s in spans] if len(spans) > 1 else []


class SentenceSpool:
    """The sentence texts of each passage, one JSON line a passage, written as the build reads the corpus."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / SPOOL
        self.passages = 0
        self.sentences = 0
        self._file = open(self.path, "w", encoding="utf-8")

    def add(self, document: Document, passages: list[Passage]) -> None:
        """Take one document's passages, in the order the snapshot writer takes them."""
        for passage in passages:
            texts = sentence_texts(document.text, passage)
            self._file.write(json.dumps(texts, ensure_ascii=False) + "\n")
            self.sentences += len(texts)
        self.passages += len(passages)

    def per_passage(self) -> Iterator[list[str]]:
        """The sentence texts of each passage, read back from the spool one at a time."""
        if not self._file.closed:
            self._file.flush()
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)

    def close(self) -> None:
        """Finish writing (write_vectors does; a failed build calls it to let go of the file)."""
        self._file.close()

    def __enter__(self) -> SentenceSpool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def write_vectors(
    spool: SentenceSpool,
    embedder: Embedder,
    cache: EmbeddingCache | None,
    batch_size: int,
    fill: Callable[[list[list[str]]], Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Embed the spooled sentences (those the cache lacks) into the build's files; returns the manifest's record.

    ``fill``, when given, is handed the batches of texts the cache lacks first (a build on Ray
    embeds them on the cluster into the cache); the windows then find their vectors there.
    Only one window of texts and vectors is held at a time. ``progress(done, to_embed)`` counts
    the sentences the model embeds (after a pass over the cache to know how many).
    """
    offsets = np.zeros(spool.passages + 1, dtype=np.int64)
    for i, texts in enumerate(spool.per_passage()):
        offsets[i + 1] = offsets[i] + len(texts)
    spool.close()
    count = int(offsets[-1])
    if count != spool.sentences:
        raise BuildError(f"The build spooled {spool.sentences} sentences and read back {count}.")
    if count:
        log.info("embedding the %d sentences of passages of several sentences (those not in the cache)", count)
    if fill is not None and cache is not None and count:
        missing = [t for window in _missing(spool, cache) for t in sorted(window, key=len)]
        fill([missing[i : i + batch_size] for i in range(0, len(missing), batch_size)])
    to_embed = sum(len(w) for w in _missing(spool, cache)) if progress is not None and count else 0
    done = 0

    def embed(batch: list[str]) -> np.ndarray:
        nonlocal done
        vectors = embedder.embed_passages(batch, batch_size=batch_size)
        release_freed_memory()
        done += len(batch)
        if progress is not None:
            progress(done, max(to_embed, done))
        return vectors

    path = spool.directory / VECTORS
    if count:
        out = np.lib.format.open_memmap(path, mode="w+", dtype=DTYPE, shape=(count, embedder.dimension))
        row = 0
        for window in _windows(spool.per_passage(), _WINDOW):
            vectors, _ = embed_with_cache(window, embed, cache, batch_size)
            out[row : row + len(window)] = vectors
            row += len(window)
        out.flush()
        del out
    else:
        np.save(path, np.zeros((0, embedder.dimension), dtype=DTYPE))
    np.save(spool.directory / OFFSETS, offsets)
    spool.path.unlink()
    return {"count": count, "dtype": DTYPE}


def _missing(spool: SentenceSpool, cache: EmbeddingCache | None) -> Iterator[list[str]]:
    """Per window, the distinct sentence texts the cache lacks (without a cache, each window's distinct texts).

    A text repeated in two windows counts in both: nothing is held across windows (at a million
    passages the keys of every sentence would be hundreds of MB), and the second window finds it
    in the cache.
    """
    for window in _windows(spool.per_passage(), _WINDOW):
        distinct = dict.fromkeys(window)
        if cache is None:
            yield list(distinct)
            continue
        keys = {cache.key(t): t for t in distinct}
        present = cache.has_many(list(keys))
        yield [t for k, t in keys.items() if k not in present]


def _windows(per_passage: Iterator[list[str]], size: int) -> Iterator[list[str]]:
    window: list[str] = []
    for texts in per_passage:
        window.extend(texts)
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window


@dataclass(frozen=True)
class SentenceVectors:
    """A loaded build's sentence vectors: memory-mapped rows, and where each passage's begin."""

    vectors: np.ndarray  # (sentences, dimension) float16, memory-mapped
    offsets: np.ndarray  # (passages + 1,) int64

    def of(self, passage: int) -> np.ndarray:
        """The vectors of passage ``passage``'s sentences, float32; empty for a passage of one sentence."""
        start, end = int(self.offsets[passage]), int(self.offsets[passage + 1])
        return np.asarray(self.vectors[start:end], dtype=np.float32)


def load(directory: Path, record: dict[str, Any] | None, passages: int, dimension: int) -> SentenceVectors | None:
    """The sentence vectors of a build whose manifest records them (``record``); None for a build without."""
    if not record:
        return None
    directory = Path(directory)
    try:
        vectors = np.load(directory / VECTORS, mmap_mode="r") if record.get("count") else None
        offsets = np.load(directory / OFFSETS)
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"The sentence vectors in {directory} cannot be read ({exc}); run `chuchu build`.") from exc
    if vectors is None:
        vectors = np.zeros((0, dimension), dtype=DTYPE)
    if (
        offsets.shape != (passages + 1,)
        or vectors.shape != (int(record["count"]), dimension)
        or int(offsets[-1]) != len(vectors)
        or (passages and bool(np.any(np.diff(offsets) < 0)))
    ):
        raise IndexCorrupt(
            f"The sentence vectors in {directory} do not match the build's {passages} passages of "
            f"{dimension} dimensions; run `chuchu build` again."
        )
    return SentenceVectors(vectors, offsets)
