"""Documents: reading the files of a corpus directory, with their catalog entries."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from corpus.encoding import decode
from corpus.errors import CorpusError, DocumentUnreadable

log = logging.getLogger(__name__)

CATALOG = "catalog.json"
# Suffixes read as plain text; other files in the directory (code, the catalog) are ignored.
TEXT_SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class Document:
    """One decoded source file and what the catalog says about it."""

    doc_id: str
    file: str  # path relative to the corpus directory, with forward slashes
    title: str
    text: str
    encoding: str
    sha256: str  # of the file's bytes, so a build records which version it read
    source: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class Corpus:
    """The documents read from a directory, and the files that could not be read."""

    root: Path
    documents: tuple[Document, ...]
    failures: tuple[DocumentUnreadable, ...] = ()

    @property
    def hash(self) -> str:
        """One hash over every document's name and content, for the manifest."""
        h = hashlib.sha256()
        for doc in self.documents:
            h.update(f"{doc.file}\0{doc.sha256}\0{doc.title}\n".encode())
        return h.hexdigest()


def doc_id_for(file: str) -> str:
    """The id a document is known by in URLs: its path without the suffix."""
    return file.rsplit(".", 1)[0].replace("/", "--")


def load_catalog(root: Path) -> dict[str, dict[str, str]]:
    """The catalog of a corpus directory: file name → title, source, date."""
    path = root / CATALOG
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(f"The catalog {path} cannot be read ({exc}); fix or remove it.") from exc
    if not isinstance(data, dict):
        raise CorpusError(f"The catalog {path} must be a JSON object keyed by file name.")
    return data


def read_document(root: Path, path: Path, catalog: dict[str, dict[str, str]]) -> Document:
    """Read and decode one file; DocumentUnreadable names the file and the reason."""
    file = path.relative_to(root).as_posix()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentUnreadable(f"{file}: cannot be read ({exc.strerror or exc}).") from exc
    text, encoding = decode(raw, file)
    entry = catalog.get(file, {})
    return Document(
        doc_id=doc_id_for(file),
        file=file,
        title=entry.get("title") or _first_line(text) or file,
        text=text,
        encoding=encoding,
        sha256=hashlib.sha256(raw).hexdigest(),
        source=entry.get("source"),
        date=entry.get("date"),
    )


def read_corpus(root: Path) -> Corpus:
    """Read every text file under root; unreadable files are collected, not fatal."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"The corpus directory {root} does not exist; pass --corpus DIR.")
    catalog = load_catalog(root)
    documents, failures = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES):
        try:
            documents.append(read_document(root, path, catalog))
        except DocumentUnreadable as exc:
            log.warning("skipped %s", exc.message)
            failures.append(exc)
    return Corpus(root=root, documents=tuple(documents), failures=tuple(failures))


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:80]
    return ""
