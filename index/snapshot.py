"""A snapshot: one build's vectors, passages and documents, written to and read from disk.

Files of a build directory (plain formats, no pickle)::

    manifest.json      how the build was made (index.manifest)
    vectors.faiss      FAISS inner-product index of the normalised passage vectors
    passages.jsonl     one passage a line, in vector order
    documents.jsonl    one document a line, with the decoded text the offsets refer to
    lexical.npz/.json  BM25 over the passage text (index.lexical)
    context.npz/.json  BM25 over each passage's title and heading
    duplicates.json    per passage, the first passage of its near-duplicate group
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from corpus.documents import Document
from corpus.errors import IndexCorrupt
from corpus.splitting import Passage
from index.lexical import LexicalIndex
from index.manifest import Manifest

VECTORS = "vectors.faiss"
PASSAGES = "passages.jsonl"
DOCUMENTS = "documents.jsonl"
DUPLICATES = "duplicates.json"


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

    @property
    def build_id(self) -> str:
        """The id of the build."""
        return self.manifest.build_id


def write_snapshot(
    directory: Path,
    manifest: Manifest,
    vectors: np.ndarray,
    passages: list[Passage],
    documents: list[Document],
    lexical: LexicalIndex,
    context: LexicalIndex,
    groups: np.ndarray,
) -> None:
    """Write a build's files into its working directory."""
    (directory / DUPLICATES).write_text(json.dumps({"groups": groups.tolist()}), encoding="utf-8")
    lexical.save(directory, "lexical")
    context.save(directory, "context")
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    faiss.write_index(index, str(directory / VECTORS))
    _write_jsonl(directory / PASSAGES, (asdict(p) for p in passages))
    _write_jsonl(directory / DOCUMENTS, (asdict(d) for d in documents))
    manifest.write(directory)


def read_snapshot(directory: Path) -> Snapshot:
    """Read a build directory, checking it against its manifest."""
    manifest = Manifest.read(directory)
    try:
        vectors = faiss.read_index(str(directory / VECTORS))
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
    return Snapshot(directory, manifest, vectors, passages, documents, lexical, context, groups)


def _read_groups(path: Path, passages: int) -> np.ndarray:
    try:
        groups = np.array(json.loads(path.read_text(encoding="utf-8"))["groups"], dtype=np.int64)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"{path} cannot be read ({exc}); run `chuchu build` again.") from exc
    if groups.shape != (passages,) or (passages and (groups.min() < 0 or groups.max() >= passages)):
        raise IndexCorrupt(f"{path} does not match the build's {passages} passages; run `chuchu build` again.")
    return groups


def _write_jsonl(path: Path, rows: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{path} cannot be read ({exc}); run `chuchu build` again.") from exc
