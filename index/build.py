"""The offline build: corpus directory → passages → vectors → a published snapshot.

A build holds the store's build lock from start to finish (index.lock), so two builds never
interleave, and while holding it first removes what killed builds left (``.partial``
directories). Vectors come from the embedding cache where it has them (index.cache), so a
rebuild embeds only new or changed passages. The snapshot is written into ``builds/<id>.partial``,
measured by the quality gate when one is given (index.gate), published by the atomic pointer
swap, and then the oldest builds beyond ``keep`` are removed.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from chuchu.corpus.documents import scan_corpus
from chuchu.corpus.errors import BuildError, ChuchuError, DocumentUnreadable
from chuchu.corpus.splitting import Passage, SplitOptions, split_document
from chuchu.index.cache import EmbeddingCache, embed_with_cache
from chuchu.index.changes import Changes, compare, text_sha
from chuchu.index.embedder import Embedder, release_freed_memory
from chuchu.index.fusion import Fusion
from chuchu.index.gate import Gate, assess, read_questions
from chuchu.index.lock import BuildLock
from chuchu.index.manifest import Manifest
from chuchu.index.ray_embedding import RayOptions, fill_cache
from chuchu.index.sentence_vectors import SentenceSpool, write_vectors
from chuchu.index.snapshot import PASSAGES, SnapshotWriter, check_snapshot
from chuchu.index.store import Store
from chuchu.index.vectors import APPROXIMATE_ABOVE, VectorIndexInfo

log = logging.getLogger(__name__)

# (texts embedded so far, texts to embed, what they are: "passage", then "sentence")
Progress = Callable[[int, int, str], None]
_LIBRARIES = ("faiss-cpu", "numpy", "scipy", "opencc", "sentence-transformers", "torch", "transformers", "chuchu")
# Pruning keeps at least the live build and the one live before it: a service that read the
# pointer just before the swap may still be about to load the previous build (Store.prune).
MIN_KEEP = 2
# Passages embedded (and their vectors held) at a time: 2048 × 384 float32 is 3 MB.
_WINDOW = 2048


@dataclass(frozen=True)
class BuildSummary:
    """What a build did."""

    build_id: str
    path: Path
    documents: int
    passages: int
    failures: tuple[str, ...]
    seconds: float
    changes: Changes = field(default_factory=lambda: compare(None, ()))  # since the build that was live
    embedded: int = 0  # distinct passage texts the model embedded
    reused: int = 0  # passages whose vector came from the embedding cache
    quality: dict[str, Any] | None = None  # the quality gate's figures, when gated
    pruned: tuple[str, ...] = ()  # old builds removed after publishing
    swept: tuple[str, ...] = ()  # unfinished builds of killed runs, removed before starting
    vectors: VectorIndexInfo = VectorIndexInfo()  # exact or approximate, with its measured recall
    replaced_damaged: str | None = None  # why the build that was live could not be loaded, if it could not


def embedding_text(passage: Passage) -> str:
    """The text the model embeds for a passage: the one place that decides it.

    The embedding cache is keyed by it and the build's change counts compare it, so changing
    what it returns re-embeds (and counts as changed) exactly the passages whose text changes.
    """
    return passage.text


def build_index(
    corpus_dir: Path,
    store: Store,
    embedder: Embedder,
    options: SplitOptions = SplitOptions(),
    batch_size: int = 32,
    progress: Progress | None = None,
    fusion: Fusion = Fusion(),
    *,
    cache: EmbeddingCache | None = None,
    lock: BuildLock | None = None,
    wait: bool = False,
    wait_timeout: float | None = None,
    keep: int | None = None,
    gate: Gate | None = None,
    strict: bool = False,
    approximate_above: int = APPROXIMATE_ABOVE,
    ray: RayOptions | None = None,
) -> BuildSummary:
    """Build an index of corpus_dir and publish it as the store's live build.

    A file that cannot be read is skipped and counted in the summary, or, with ``strict``, stops
    the build before anything is written.

    ``cache`` supplies and keeps vectors between builds. The build takes the store's lock, or
    uses ``lock`` when the caller already holds it (to fail fast before loading a model);
    ``wait`` waits for a build already running on the store (for at most ``wait_timeout``
    seconds) instead of failing at once. ``keep`` prunes the published builds to that many (at
    least MIN_KEEP; None keeps all); ``gate`` refuses, with BuildError, a build that answers its
    questions worse than the live one. Above ``approximate_above`` passages the vector index is
    approximate (index.vectors). ``ray`` embeds on a Ray cluster (index.ray_embedding), through
    the cache, which it then needs.

    The documents stream through: one is read, split and written at a time, and vectors are made
    a window at a time, so memory grows with the corpus only as the indexes themselves do.
    """
    if cache is not None and (cache.fingerprint, cache.dimension) != (embedder.fingerprint, embedder.dimension):
        raise BuildError(
            f"The embedding cache {cache.file} holds vectors of model {cache.fingerprint} ({cache.dimension} "
            f"dimensions), not of {embedder.name!r} ({embedder.fingerprint}, {embedder.dimension} dimensions)."
        )
    if ray is not None and cache is None:
        raise BuildError("A build on Ray needs the embedding cache: the cluster's vectors come back through it.")
    args = (
        corpus_dir,
        store,
        embedder,
        options,
        batch_size,
        progress,
        fusion,
        cache,
        keep,
        gate,
        strict,
        approximate_above,
        ray,
    )
    if lock is None:
        with BuildLock(store.root).acquire(wait=wait, timeout=wait_timeout):
            return _build(*args)
    if not lock.held or lock.root.resolve() != store.root.resolve():
        raise BuildError(f"A build of {store.root} needs the build lock of that store held; it is not.")
    return _build(*args)


def _build(
    corpus_dir: Path,
    store: Store,
    embedder: Embedder,
    options: SplitOptions,
    batch_size: int,
    progress: Progress | None,
    fusion: Fusion,
    cache: EmbeddingCache | None,
    keep: int | None,
    gate: Gate | None,
    strict: bool,
    approximate_above: int,
    ray: RayOptions | None,
) -> BuildSummary:
    began = time.perf_counter()  # after the lock: time spent waiting for another build is not this build's
    swept = tuple(store.sweep_partials())
    if swept:
        log.warning("removed %d unfinished build(s) left by a killed build: %s", len(swept), ", ".join(swept))
    questions = read_questions(gate) if gate is not None else None
    previous = store.live_id()
    damaged = _live_damage(store)
    old = None if damaged else _live_passages(store)  # a damaged build's passages are nothing to count against

    try:
        build_id, work = store.start()
    except OSError as exc:
        raise _write_failed(exc, store, previous) from exc
    try:
        with SnapshotWriter(work, embedder.dimension) as out, SentenceSpool(work) as sentences:
            read = _read(corpus_dir, strict, options, out, sentences)
            embedded, reused = _embed(out, embedder, cache, batch_size, progress, ray)
            # The sentences of each passage, so that the answering sentence of a question sharing
            # no term with a hit is picked without the model at question time (index.sentence_vectors).
            fill = (lambda b: fill_cache(b, cache, embedder, ray)) if ray is not None and cache is not None else None
            sentence_record = write_vectors(
                sentences, embedder, cache, batch_size, fill, progress and (lambda d, t: progress(d, t, "sentence"))
            )
            manifest = Manifest(
                build_id=build_id,
                built_at=datetime.now(UTC).isoformat(timespec="seconds"),
                model=embedder.name,
                model_fingerprint=embedder.fingerprint,
                dimension=embedder.dimension,
                documents=out.documents,
                passages=out.passages,
                corpus_hash=out.corpus_hash,
                versions=_versions(),
                settings={
                    "max_chars": options.max_chars,
                    "min_chars": options.min_chars,
                    "fusion": fusion.record(),
                    "sentences": sentence_record,
                },
            )
            manifest = out.finish(manifest, approximate_above)
        quality = None
        if gate is not None and questions is not None:
            quality = assess(gate, questions, work, embedder, store)  # BuildError when refused
            replace(manifest, quality=quality).write(work)
        path = store.publish(build_id)
    except BaseException as exc:
        # Whatever stops the build (an error, Ctrl-C), its directory goes; a SIGKILL leaves it
        # for the next build's sweep. The pointer was never touched.
        store.abandon(build_id)
        if isinstance(exc, ChuchuError) or not isinstance(exc, Exception):
            raise
        if _no_room(exc):
            raise _write_failed(exc, store, previous) from exc
        raise BuildError(f"The build failed ({exc!r}); the live index is unchanged.") from exc
    pruned = _prune(store, keep, previous)
    summary = BuildSummary(
        build_id=build_id,
        path=path,
        documents=manifest.documents,
        passages=manifest.passages,
        failures=read.failures,
        seconds=time.perf_counter() - began,
        changes=compare(old, read.keys, previous),
        embedded=embedded,
        reused=reused,
        quality=quality,
        pruned=pruned,
        swept=swept,
        vectors=VectorIndexInfo.from_record(manifest.settings["vectors"]),
        replaced_damaged=damaged,
    )
    log.info(
        "published build %s: %d documents, %d passages (%d embedded, %d from the cache)",
        build_id,
        summary.documents,
        summary.passages,
        embedded,
        reused,
    )
    return summary


@dataclass(frozen=True)
class _Read:
    failures: tuple[str, ...]  # why each unreadable file was skipped
    keys: list[tuple[str, str]]  # (file, sha of the embedded text) per passage, for the change counts


def _read(
    corpus_dir: Path, strict: bool, options: SplitOptions, out: SnapshotWriter, sentences: SentenceSpool
) -> _Read:
    """Read, split and write the documents one at a time."""
    failures: list[str] = []
    keys: list[tuple[str, str]] = []
    for item in scan_corpus(corpus_dir, strict=strict):
        if isinstance(item, DocumentUnreadable):
            failures.append(item.message)
            continue
        passages = split_document(item, options)
        out.add(item, passages)
        sentences.add(item, passages)
        keys.extend((p.file, text_sha(embedding_text(p))) for p in passages)
    if not out.documents:
        raise BuildError(f"No readable documents (.txt .md .html .docx .pdf) in {corpus_dir}; nothing to index.")
    if not out.passages:
        raise BuildError(f"The documents in {corpus_dir} yield no passages; nothing to index.")
    return _Read(tuple(failures), keys)


def _embed(
    out: SnapshotWriter,
    embedder: Embedder,
    cache: EmbeddingCache | None,
    batch_size: int,
    progress: Progress | None,
    ray: RayOptions | None,
) -> tuple[int, int]:
    """Vectors for the written passages, into the writer's spool: (texts the model embedded, passages reused).

    The passages are read back from disk a window at a time, so only one window of texts and
    vectors is held. On Ray, the cluster first fills the cache with every text it lacks; the
    windows then find all their vectors there, as a local build finds the ones it embedded.
    """

    def texts() -> Iterator[str]:
        return (embedding_text(p) for p in out.written_passages())

    batches: list[list[str]] = []
    if ray is not None and cache is not None:
        # The batches a local build would embed, window by window, so the model sees the same ones.
        batches = [w[i : i + batch_size] for w in _missing(texts(), cache) for i in range(0, len(w), batch_size)]
        fill_cache(batches, cache, embedder, ray, progress and (lambda d, t: progress(d, t, "passage")))
        to_embed = 0  # the cluster filled the cache with every missing text
    else:
        to_embed = sum(len(w) for w in _missing(texts(), cache))  # for the progress bar
    # Texts embedded by this build (on Ray, or below), by hash: a passage whose text is not
    # among them had its vector in the cache before the build, and counts as reused.
    fresh = {text_sha(t) for batch in batches for t in batch}
    on_ray = len(fresh)

    def embed(batch: list[str]) -> np.ndarray:
        vectors = embedder.embed_passages(batch, batch_size=batch_size)
        release_freed_memory()
        fresh.update(text_sha(t) for t in batch)
        if progress is not None:
            progress(len(fresh) - on_ray, to_embed, "passage")
        return vectors

    reused = 0
    for window in _windows(texts(), _WINDOW):
        vectors, _ = embed_with_cache(window, embed, cache, batch_size)
        out.spool.add(vectors)
        reused += sum(text_sha(t) not in fresh for t in window)
    return len(fresh), reused


def _missing(texts: Iterator[str], cache: EmbeddingCache | None) -> Iterator[list[str]]:
    """Per window, the texts the model will have to embed: each distinct one the cache lacks, in order.

    Without a cache, each window embeds its own distinct texts. Only cache keys are held (about
    100 bytes a passage), not texts or vectors.
    """
    seen: set[str] = set()
    for window in _windows(texts, _WINDOW):
        if cache is None:
            yield list(dict.fromkeys(window))
            continue
        keys = {cache.key(t): t for t in window}
        fresh = [k for k in keys if k not in seen]
        seen.update(fresh)
        present = cache.has_many(fresh)
        # Shortest first, as embed_with_cache does: batches of like lengths carry little padding.
        yield sorted((keys[k] for k in fresh if k not in present), key=len)


def _windows(items: Iterator[str], size: int) -> Iterator[list[str]]:
    window: list[str] = []
    for item in items:
        window.append(item)
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


def _live_damage(store: Store) -> str | None:
    """Why the live build cannot be loaded (a file damaged since it was written, named), or None.

    Every build replaces the live one, damaged or not; this is so that the build says it did,
    and does not count its changes against files that can no longer be trusted. It costs reading
    the live build's files once, to check their checksums.
    """
    if store.live_id() is None:
        return None
    try:
        check_snapshot(store.live_path())
    except ChuchuError as exc:
        log.warning("the live build %s is damaged, and this build replaces it: %s", store.live_id(), exc.message)
        return exc.message
    return None


# Why a write can fail for want of room: the disk is full, a quota is reached, or the file size
# limit (ulimit -f) of the process.
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _no_room(exc: BaseException) -> str | None:
    """The system's words when a write failed for want of room, else None.

    faiss reports a failed write as a RuntimeError whose text ends with the system's words.
    """
    if isinstance(exc, OSError):
        return (exc.strerror or os.strerror(exc.errno or 0)) if exc.errno in _NO_ROOM else None
    if isinstance(exc, RuntimeError):
        return next((os.strerror(code) for code in _NO_ROOM if os.strerror(code) in str(exc)), None)
    return None


def _write_failed(exc: BaseException, store: Store, previous: str | None) -> BuildError:
    """The message of a build that could not write its files: what happened, what stays live, what to do."""
    reason = _no_room(exc) or (exc.strerror if isinstance(exc, OSError) and exc.strerror else repr(exc))
    stays = f"build {previous} stays live" if previous else "no build is live yet"
    if _no_room(exc):
        return BuildError(
            f"The build could not write its files into {store.builds} ({reason}): the disk is out of space, "
            f"or a quota or file size limit was reached. Nothing was published and the unfinished build was "
            f"removed; {stays}. Free some space and run `chuchu build` again."
        )
    return BuildError(f"The build could not write into {store.builds} ({reason}); nothing was published, {stays}.")


def _live_passages(store: Store) -> list[tuple[str, str]] | None:
    """(file, sha of the embedded text) of each passage of the live build; None when there is none.

    Read from passages.jsonl alone, so a live build that cannot be loaded as a whole still
    gives the counts; one whose passages cannot be read counts as no build (everything added).
    """
    try:
        path = store.live_path() / PASSAGES
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return [(row["file"], text_sha(embedding_text(Passage(**row)))) for row in rows]
    except (ChuchuError, OSError, ValueError, TypeError, KeyError) as exc:
        if store.live_id() is not None:
            log.warning("cannot read the live build's passages to count the changes (%s)", exc)
        return None


def _prune(store: Store, keep: int | None, previous: str | None) -> tuple[str, ...]:
    if keep is None:
        return ()
    if keep < MIN_KEEP:
        log.info("keeping %d builds, not %d: a running service may still load the previous build", MIN_KEEP, keep)
    # The build live until now is kept even when a rollback made it older than the newest ones.
    try:
        return tuple(store.prune(max(keep, MIN_KEEP), protect={previous} if previous else set()))
    except OSError as exc:  # the build is published; an old one left behind is removed next time
        log.warning("could not remove old builds from %s (%s)", store.builds, exc)
        return ()


def _versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
