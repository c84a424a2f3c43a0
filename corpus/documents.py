"""Documents: reading the files of a corpus directory, with their catalog entries."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chuchu.corpus.errors import CorpusError, DocumentUnreadable
from chuchu.corpus.formats import SUFFIXES, extract
from chuchu.corpus.layout import read_layout
from chuchu.corpus.metadata import describe

log = logging.getLogger(__name__)

CATALOG = "catalog.json"
# Largest file read. Reading holds the file several times over (bytes, decoded text, its lines):
# a 50 MB file of one line peaks near 450 MB, so a file of gigabytes, most likely not prose, would
# take the build down with it. 256 MB is far more text than any real document holds.
MAX_FILE_BYTES = 256 * 2**20


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
    real = path.resolve()
    if not real.is_relative_to(Path(root).resolve()):
        raise CorpusError(
            f"The catalog {path} is a symbolic link to {real}, outside the corpus directory, and is not "
            "followed; copy the file into the corpus instead."
        )
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
    raw = _read_inside(Path(root), path, file)
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
    for path in _listed(root):
        try:
            yield read_document(root, path, catalog)
        except DocumentUnreadable as exc:
            if strict:
                raise CorpusError(f"{exc.message} (--strict stops at the first unreadable file.)") from exc
            log.warning("skipped %s", exc.message)
            yield exc


def _listed(root: Path) -> list[Path]:
    """The files a build reads, in order: documents by their suffix, and the links read_document must refuse.

    rglob does not descend into linked directories, so a link to a directory inside the corpus
    is skipped (its files are read under their own paths); one to a directory outside is
    listed, to be refused by name rather than ignored in silence. So is a document's link that
    leads nowhere. A file removed after the listing is reported by read_document.
    """
    listed = []
    for path in root.rglob("*"):
        document = path.suffix.lower() in SUFFIXES
        if path.is_symlink():
            if path.is_dir():
                if not path.resolve().is_relative_to(root.resolve()):
                    listed.append(path)
            elif document:
                listed.append(path)
        elif document and path.is_file():
            listed.append(path)
    return sorted(listed)


def _read_inside(root: Path, path: Path, file: str) -> bytes:
    """The bytes of a corpus file, refusing whatever leads outside the corpus directory.

    A symbolic link is followed only to a file inside the corpus: one to ``/etc/passwd`` or to a
    private folder would otherwise be read, indexed and served to anyone asking. The file is
    opened by its resolved path with O_NOFOLLOW, so a link put in its place after the check is
    not followed either, and with O_NONBLOCK, so a pipe put there is refused rather than read
    forever. Its size is checked before it is read.
    """
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError as exc:
        if path.is_symlink():
            raise DocumentUnreadable(
                f"{file}: is a symbolic link to {os.readlink(path)}, which does not exist; fix or remove the link."
            ) from exc
        raise DocumentUnreadable(f"{file}: no longer exists (it was removed while the corpus was read).") from exc
    except (OSError, RuntimeError) as exc:  # RuntimeError: a link leading back to itself (Python 3.11)
        raise DocumentUnreadable(f"{file}: is a symbolic link that loops ({exc}); fix or remove the link.") from exc
    if not real.is_relative_to(root.resolve()):
        raise DocumentUnreadable(
            f"{file}: is a symbolic link to {real}, outside the corpus directory; it is not followed. "
            "Copy what it points to into the corpus to index it."
        )
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise DocumentUnreadable(f"{file}: no longer exists (it was removed while the corpus was read).") from exc
    except OSError as exc:  # ELOOP: replaced by a link since it was resolved
        raise DocumentUnreadable(f"{file}: cannot be read ({exc.strerror or exc}).") from exc
    with os.fdopen(fd, "rb") as f:
        status = os.fstat(f.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise DocumentUnreadable(
                f"{file}: is not a regular file (a directory, a pipe or a device); it is not read."
            )
        if status.st_size > MAX_FILE_BYTES:
            raise DocumentUnreadable(
                f"{file}: is {status.st_size / 2**20:,.0f} MB, more than the {MAX_FILE_BYTES / 2**20:.0f} MB a "
                "document may have; split it into smaller files."
            )
        try:
            return f.read()
        except OSError as exc:
            raise DocumentUnreadable(f"{file}: cannot be read ({exc.strerror or exc}).") from exc
