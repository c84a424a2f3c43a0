"""A snapshot: one build's vectors, passages and documents, written to and read from disk.

Files of a build directory (plain formats, no pickle)::

    manifest.json      how the build was made (index.manifest)
    vectors.faiss      FAISS inner-product index of the normalised passage vectors, exact or
                       HNSW (index.vectors; the manifest's settings say which)
    passages.jsonl     one passage a line, in vector order
    documents.jsonl    one document a line, with the decoded text the offsets refer to
    lexical.npz/.json  BM25 over the passage text (index.lexical)
    context.npz/.json  BM25 over each passage's title and heading
    duplicates.json    per passage, the first passage of its near-duplicate group
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from chuchu.corpus.documents import Document, hash_entry
from chuchu.corpus.errors import IndexCorrupt
from chuchu.corpus.splitting import Passage
from chuchu.index.duplicates import DuplicateFinder
from chuchu.index.lexical import LexicalBuilder, LexicalIndex
from chuchu.index.manifest import MANIFEST, Manifest
from chuchu.index.vectors import VectorIndexInfo, VectorSpool, read_index, write_index

VECTORS = "vectors.faiss"
PASSAGES = "passages.jsonl"
DOCUMENTS = "documents.jsonl"
DUPLICATES = "duplicates.json"
SPOOL = "vectors.spool"  # raw float32 while building; removed before the build is published
# The files read_snapshot reads besides the manifest, which a manifest that records checksums
# must record even when they are gone (the build's other files, such as the optional sentence
# vectors, must be recorded when present).
DATA_FILES = (
    VECTORS,
    PASSAGES,
    DOCUMENTS,
    DUPLICATES,
    *(f"{name}.{suffix}" for name in ("lexical", "context") for suffix in ("npz", "json")),
)


@dataclass(frozen=True)
class Snapshot:
    """A loaded build: everything needed to answer questions, read-only."""

    path: Path
    manifest: Manifest
    vectors: Any  # faiss.Index
    passages: tuple[Passage, ...]
    documents: dict[str, Document]
    lexical: LexicalIndex
    context: LexicalIndex
    groups: np.ndarray  # groups[i] == i unless passage i repeats an earlier one
    vector_info: VectorIndexInfo = VectorIndexInfo()

    @property
    def build_id(self) -> str:
        """The id of the build."""
        return self.manifest.build_id


class SnapshotWriter:
    """Writes a build's files as its documents stream in, one document and one batch of vectors at a time.

    Documents and passages go to their JSON lines files as they come; the lexical indexes and the
    duplicate finder keep only compact term arrays; vectors go to a spool file. ``finish`` writes
    the indexes and the manifest. What stays in memory grows with the corpus only as the indexes
    themselves do, never with the documents' text.
    """

    def __init__(self, directory: Path, dimension: int) -> None:
        self.directory = Path(directory)
        self.documents = 0
        self.passages = 0
        self.spool = VectorSpool(self.directory / SPOOL, dimension)
        self._lexical = LexicalBuilder()
        self._context = LexicalBuilder()
        self._duplicates = DuplicateFinder()
        self._hash = hashlib.sha256()
        # Held open across add()s; close() (or finish) ends them.
        self._passage_file = open(self.directory / PASSAGES, "w", encoding="utf-8")
        self._document_file = open(self.directory / DOCUMENTS, "w", encoding="utf-8")

    def add(self, document: Document, passages: list[Passage]) -> None:
        """Take one document and its passages, in corpus order."""
        self._document_file.write(json.dumps(asdict(document), ensure_ascii=False) + "\n")
        self._hash.update(hash_entry(document))
        for passage in passages:
            self._passage_file.write(json.dumps(asdict(passage), ensure_ascii=False) + "\n")
            self._lexical.add(passage.text)
            self._context.add(f"{document.title} {passage.heading}")
            self._duplicates.add(passage.text)
        self.documents += 1
        self.passages += len(passages)

    @property
    def corpus_hash(self) -> str:
        """The hash over the documents taken so far (corpus.documents.Corpus.hash)."""
        return self._hash.hexdigest()

    def written_passages(self) -> Iterator[Passage]:
        """The passages taken so far, read back from their file one at a time."""
        self._passage_file.flush()
        with open(self.directory / PASSAGES, encoding="utf-8") as f:
            for line in f:
                yield Passage(**json.loads(line))

    def finish(self, manifest: Manifest, approximate_above: int) -> Manifest:
        """Write the indexes and the manifest (with the vector index's kind and figures); returns the manifest."""
        self.close()
        if self.spool.count != self.passages:
            raise IndexCorrupt(f"The build made {self.spool.count} vectors for {self.passages} passages.")
        groups = self._duplicates.groups()
        (self.directory / DUPLICATES).write_text(json.dumps({"groups": groups.tolist()}), encoding="utf-8")
        self._lexical.build().save(self.directory, "lexical")
        self._context.build().save(self.directory, "context")
        info = write_index(self.spool, self.directory / VECTORS, approximate_above)
        self.spool.path.unlink()
        files = {f.name: file_sha256(f) for f in sorted(self.directory.iterdir()) if f.name != MANIFEST}
        manifest = replace(manifest, settings={**manifest.settings, "vectors": info.record()}, files=files)
        manifest.write(self.directory)
        return manifest

    def close(self) -> None:
        """Close the files being written (finish does; a failed build calls it to let go of them)."""
        for f in (self._passage_file, self._document_file):
            f.close()
        self.spool.close()

    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_snapshot(directory: Path) -> Snapshot:
    """Read a build directory, checking it against its manifest."""
    manifest = Manifest.read(directory)
    _check_files(directory, manifest)
    try:
        vector_info = VectorIndexInfo.from_record(manifest.settings.get("vectors"))
    except TypeError as exc:
        raise IndexCorrupt(f"The manifest in {directory} describes an unknown vector index ({exc}).") from exc
    try:
        vectors = read_index(directory / VECTORS, vector_info)
    except RuntimeError as exc:
        raise IndexCorrupt(f"{directory / VECTORS} cannot be read ({exc}); run `chuchu build` again.") from exc
    try:
        passages = tuple(Passage(**row) for row in _read_jsonl(directory / PASSAGES))
        documents = {d.doc_id: d for d in (Document(**row) for row in _read_jsonl(directory / DOCUMENTS))}
    except TypeError as exc:
        raise IndexCorrupt(f"The records in {directory} do not match this chuchu ({exc}); run `chuchu build`.") from exc
    manifest.check_count(directory, "passages", len(passages))
    manifest.check_count(directory, "vectors", vectors.ntotal)
    manifest.check_count(directory, "documents", len(documents))
    if vectors.d != manifest.dimension:
        raise IndexCorrupt(
            f"{directory / VECTORS} holds {vectors.d}-dimensional vectors, the manifest says "
            f"{manifest.dimension}; run `chuchu build` again."
        )
    lexical = LexicalIndex.load(directory, len(passages), "lexical")
    context = LexicalIndex.load(directory, len(passages), "context")
    groups = _read_groups(directory / DUPLICATES, len(passages))
    manifest.check_seal(directory)  # last: the checks above name what is wrong more precisely
    return Snapshot(directory, manifest, vectors, passages, documents, lexical, context, groups, vector_info)


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_snapshot(directory: Path) -> Manifest:
    """The manifest of a build directory, once its files are found unchanged since the build wrote them.

    What read_snapshot checks before loading anything, without loading: a build checks the live
    build with it, to say when it replaces a damaged one. IndexCorrupt names the file.
    """
    manifest = Manifest.read(directory)
    _check_files(directory, manifest)
    manifest.check_seal(directory)
    return manifest


def _check_files(directory: Path, manifest: Manifest) -> None:
    """Every file the manifest lists is there and unchanged since the build wrote it."""
    if manifest.files is not None:
        # A build records every file it writes: one present but unrecorded was added since, or
        # its checksum taken out of the manifest (to wave a damaged file through). Hidden files
        # are the system's (.nfs…, .DS_Store), never a build's.
        present = {p.name for p in directory.iterdir() if p.is_file() and p.name != MANIFEST and p.name[0] != "."}
        unrecorded = sorted((present | set(DATA_FILES)) - set(manifest.files))
        if unrecorded:
            raise IndexCorrupt(
                f"{directory / MANIFEST} records no sha256 for {', '.join(unrecorded)}, though a build records "
                "one for every file it writes (was the manifest edited, or a file added?); run `chuchu build` again."
            )
    for name, recorded in (manifest.files or {}).items():
        if Path(name).name != name or name in (".", ".."):  # only files of the build itself are read
            raise IndexCorrupt(
                f"{directory / MANIFEST} lists {name!r}, which is not a file of the build; run `chuchu build` again."
            )
        path = directory / name
        try:
            found = file_sha256(path)
        except OSError as exc:
            raise IndexCorrupt(f"{path} cannot be read ({exc.strerror or exc}); run `chuchu build` again.") from exc
        if found != recorded:
            raise IndexCorrupt(
                f"{path} has changed since the build wrote it (its sha256 is not the one {MANIFEST} records); "
                "run `chuchu build` again."
            )


def _read_groups(path: Path, passages: int) -> np.ndarray:
    try:
        groups = np.array(json.loads(path.read_text(encoding="utf-8"))["groups"], dtype=np.int64)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"{path} cannot be read ({exc}); run `chuchu build` again.") from exc
    if groups.shape != (passages,) or (passages and (groups.min() < 0 or groups.max() >= passages)):
        raise IndexCorrupt(f"{path} does not match the build's {passages} passages; run `chuchu build` again.")
    return groups


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{path} cannot be read ({exc}); run `chuchu build` again.") from exc
