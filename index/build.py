"""The offline build: corpus directory → passages → vectors → a published snapshot."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from corpus.documents import read_corpus
from corpus.errors import BuildError, ChuchuError
from corpus.splitting import Passage, SplitOptions, split_document
from index.duplicates import duplicate_groups
from index.embedder import Embedder
from index.fusion import Fusion
from index.lexical import LexicalIndex
from index.manifest import Manifest
from index.snapshot import write_snapshot
from index.store import Store

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (passages embedded so far, total)
_LIBRARIES = ("faiss-cpu", "numpy", "scipy", "opencc", "sentence-transformers", "torch", "transformers", "chuchu")


@dataclass(frozen=True)
class BuildSummary:
    """What a build did."""

    build_id: str
    path: Path
    documents: int
    passages: int
    failures: tuple[str, ...]
    seconds: float


def build_index(
    corpus_dir: Path,
    store: Store,
    embedder: Embedder,
    options: SplitOptions = SplitOptions(),
    batch_size: int = 32,
    progress: Progress | None = None,
    fusion: Fusion = Fusion(),
) -> BuildSummary:
    """Build an index of corpus_dir and publish it as the store's live build."""
    began = time.perf_counter()
    corpus = read_corpus(corpus_dir)
    if not corpus.documents:
        raise BuildError(f"No readable .txt or .md documents in {corpus_dir}; nothing to index.")
    passages: list[Passage] = [p for doc in corpus.documents for p in split_document(doc, options)]
    if not passages:
        raise BuildError(f"The documents in {corpus_dir} yield no passages; nothing to index.")

    build_id, work = store.start()
    try:
        vectors = _embed(embedder, passages, batch_size, progress)
        titles = {d.doc_id: d.title for d in corpus.documents}
        lexical = LexicalIndex.build([p.text for p in passages])
        context = LexicalIndex.build([f"{titles[p.doc_id]} {p.heading}" for p in passages])
        manifest = Manifest(
            build_id=build_id,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            model=embedder.name,
            model_fingerprint=embedder.fingerprint,
            dimension=embedder.dimension,
            documents=len(corpus.documents),
            passages=len(passages),
            corpus_hash=corpus.hash,
            versions=_versions(),
            settings={"max_chars": options.max_chars, "min_chars": options.min_chars, "fusion": fusion.record()},
        )
        groups = duplicate_groups([p.text for p in passages])
        write_snapshot(work, manifest, vectors, passages, list(corpus.documents), lexical, context, groups)
        path = store.publish(build_id)
    except ChuchuError:
        store.abandon(build_id)
        raise
    except Exception as exc:
        store.abandon(build_id)
        raise BuildError(f"The build failed ({exc!r}); the live index is unchanged.") from exc
    summary = BuildSummary(
        build_id=build_id,
        path=path,
        documents=len(corpus.documents),
        passages=len(passages),
        failures=tuple(f.message for f in corpus.failures),
        seconds=time.perf_counter() - began,
    )
    log.info("published build %s: %d documents, %d passages", build_id, summary.documents, summary.passages)
    return summary


def _embed(embedder: Embedder, passages: list[Passage], batch_size: int, progress: Progress | None) -> np.ndarray:
    chunks, total = [], len(passages)
    for start in range(0, total, batch_size):
        batch = passages[start : start + batch_size]
        chunks.append(embedder.embed_passages([p.text for p in batch], batch_size=batch_size))
        if progress is not None:
            progress(min(start + batch_size, total), total)
    return np.vstack(chunks).astype(np.float32)


def _versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
