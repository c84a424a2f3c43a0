"""Documents: reading the files of a corpus directory, with their catalog entries."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chuchu.corpus.errors import CorpusError, DocumentUnreadable
from chuchu.corpus.formats import SUFFIXES, extract
from chuchu.corpus.layout import read_layout
from chuchu.corpus.metadata import describe

log = logging.getLogger(__name__)

CATALOG = "catalog.json"


@dataclass(frozen=True)
class Document:
    """One source file as read: its text (decoded, or extracted from .html/.docx/.pdf) and metadata.

    Offsets of passages refer to ``text``: for .txt and .md the decoded file itself, for the
    converted formats the extracted text, which the document view shows.
    """

    doc_id: str
    file: str  # path relative to the corpus directory, with forward slashes
    title: str
    text: str
    encoding: str  # how it was read: utf-8, gb18030, html/utf-8, docx, pdf, …
    sha256: str  # of the file's bytes, so a build records which version it read
    source: str | None = None
    date: str | None = None  # ISO date of publication, when known
    year: int | None = None  # the year the document reports on, when known
    warnings: tuple[str, ...] = ()  # what the reader noticed (a PDF page without text, …)

    def __post_init__(self) -> None:
        object.__setattr__(self, "warnings", tuple(self.warnings))  # lists when read back from JSON


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
            h.update(hash_entry(doc))
        return h.hexdigest()


def hash_entry(doc: Document) -> bytes:
    """What the corpus hash takes of one document, in file order (a streaming build hashes as it reads)."""
    return f"{doc.file}\0{doc.sha256}\0{doc.title}\n".encode()


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
    extracted = extract(raw, file)
    meta = describe(file, catalog.get(file, {}), extracted, read_layout(extracted.text))
    return Document(
        doc_id=doc_id_for(file),
        file=file,
        title=meta.title,
        text=extracted.text,
        encoding=extracted.encoding,
        sha256=hashlib.sha256(raw).hexdigest(),
        source=meta.source,
        date=meta.date,
        year=meta.year,
        warnings=extracted.warnings,
    )


def read_corpus(root: Path, strict: bool = False) -> Corpus:
    """Read every document under root; unreadable files are collected (or fatal when strict)."""
    documents: list[Document] = []
    failures: list[DocumentUnreadable] = []
    for item in scan_corpus(root, strict):
        if isinstance(item, DocumentUnreadable):
            failures.append(item)
        else:
            documents.append(item)
    return Corpus(root=Path(root), documents=tuple(documents), failures=tuple(failures))


def scan_corpus(root: Path, strict: bool = False) -> Iterator[Document | DocumentUnreadable]:
    """Each document under root in file order, read one at a time, or why a file cannot be read.

    A build streams this, so it holds one document at a time rather than the whole corpus.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"The corpus directory {root} does not exist; pass --corpus DIR.")
    catalog = load_catalog(root)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES):
        try:
            yield read_document(root, path, catalog)
        except DocumentUnreadable as exc:
            if strict:
                raise CorpusError(f"{exc.message} (--strict stops at the first unreadable file.)") from exc
            log.warning("skipped %s", exc.message)
            yield exc
