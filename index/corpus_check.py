"""What the reader did with each document, for a person to check: `chuchu corpus check`.

It runs exactly what a build runs up to the embedding (reading, layout, splitting, duplicate
detection), so what it prints is what the index would hold.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from chuchu.corpus.documents import read_corpus
from chuchu.corpus.layout import read_layout
from chuchu.corpus.splitting import SplitOptions, split_document
from chuchu.index.duplicates import duplicate_groups


@dataclass(frozen=True)
class DocumentReport:
    """One document as read."""

    file: str
    encoding: str
    title: str
    source: str | None
    date: str | None
    year: int | None
    passages: int
    captions: int
    joined: int  # layout breaks joined
    headings: int
    duplicates: int  # passages that repeat another passage (of any document)
    boilerplate: dict[str, int]  # what was left out, by kind
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class CorpusReport:
    """Every document, and the files that could not be read."""

    documents: tuple[DocumentReport, ...]
    unreadable: tuple[str, ...]


def check_corpus(root: Path, options: SplitOptions = SplitOptions()) -> CorpusReport:
    """Read a corpus directory as a build would, and say what was found in each document."""
    corpus = read_corpus(root)
    split = [(doc, split_document(doc, options)) for doc in corpus.documents]
    texts = [p.text for _, passages in split for p in passages]
    groups = iter(duplicate_groups(texts).tolist() if texts else [])
    seen: set[int] = set()
    reports = []
    for doc, passages in split:
        # A passage repeats another when one of its duplicate group came before it.
        duplicates = 0
        for group in (next(groups) for _ in passages):
            duplicates += group in seen
            seen.add(group)
        layout = read_layout(doc.text, options.min_chars)
        reports.append(
            DocumentReport(
                file=doc.file,
                encoding=doc.encoding,
                title=doc.title,
                source=doc.source,
                date=doc.date,
                year=doc.year,
                passages=len(passages),
                captions=sum(1 for p in passages if p.kind == "caption"),
                joined=sum(b.joined for b in layout.of_kind("body")),
                headings=len(layout.of_kind("heading")),
                duplicates=duplicates,
                boilerplate=dict(Counter(b.note or "boilerplate" for b in layout.of_kind("boilerplate"))),
                warnings=doc.warnings,
            )
        )
    return CorpusReport(tuple(reports), tuple(f.message for f in corpus.failures))


def format_report(report: CorpusReport) -> str:
    """The report as text, one block per document."""
    out = []
    for d in report.documents:
        skipped = ", ".join(f"{n} {kind}" for kind, n in sorted(d.boilerplate.items())) or "none"
        out.append(f"{d.file}  ({d.encoding})")
        out.append(f"  title      {d.title}")
        out.append(f"  source     {d.source or '-'} · date {d.date or '-'} · reports on {d.year or '-'}")
        out.append(
            f"  passages   {d.passages} ({d.captions} captions) · {d.headings} headings · "
            f"{d.joined} joined breaks · {d.duplicates} duplicates"
        )
        out.append(f"  skipped    {skipped}")
        for warning in d.warnings:
            out.append(f"  warning    {warning}")
    for failure in report.unreadable:
        out.append(f"UNREADABLE {failure}")
    total = sum(d.passages for d in report.documents)
    out.append(f"{len(report.documents)} documents, {total} passages, {len(report.unreadable)} unreadable")
    return "\n".join(out)
