"""Answering a query and turning the hits into the API's JSON shape."""

from __future__ import annotations

import time
from typing import Any

from flask import url_for

from chuchu.corpus.errors import BadInput
from chuchu.corpus.splitting import Passage
from chuchu.index.live import LiveIndex
from chuchu.index.question.sentence import Span
from chuchu.index.search import Hit, Result, Searcher
from chuchu.service.queries import Query


def answer(live: LiveIndex, query: Query) -> tuple[Searcher, Result, float]:
    """Search the live build; returns the searcher used, its result and the milliseconds taken."""
    began = time.perf_counter()
    searcher = live.searcher()
    unknown = sorted(query.where.docs - set(searcher.snapshot.documents))
    if unknown:
        known = ", ".join(sorted(searcher.snapshot.documents))
        raise BadInput(f"There is no document {', '.join(unknown)} in this build; doc may be one of: {known}.")
    result = searcher.run(query.question, query.k, query.mode, query.where)
    return searcher, result, (time.perf_counter() - began) * 1000


def passage_url(p: Passage, answer: Span | None = None) -> str:
    """Where the document view shows this passage highlighted, and its answering sentence marked."""
    marks: dict[str, Any] = {"answer_start": answer.start, "answer_end": answer.end} if answer else {}
    return url_for("pages.document", doc_id=p.doc_id, start=p.start, end=p.end, _anchor=f"p{p.number}", **marks)


def hit_json(hit: Hit, explain: bool = False) -> dict[str, Any]:
    """One passage of an answer."""
    p = hit.passage
    body = {
        "rank": hit.rank,
        "score": round(hit.score, 4),
        "text": p.text,
        "doc_id": p.doc_id,
        "title": hit.document.title,
        "source": hit.document.source,
        "date": hit.document.date,
        "year": hit.document.year,
        "file": p.file,
        "paragraph": p.paragraph,
        "start": p.start,
        "end": p.end,
        "heading": p.heading,
        "kind": p.kind,
        "pieces": [list(span) for span in p.spans],
        "answer_start": hit.answer.start if hit.answer else None,
        "answer_end": hit.answer.end if hit.answer else None,
        "answer": hit.document.text[hit.answer.start : hit.answer.end] if hit.answer else None,
        "url": passage_url(p, hit.answer),
        "also_in": [
            {
                "doc_id": c.doc_id,
                "file": c.file,
                "paragraph": c.paragraph,
                "start": c.start,
                "end": c.end,
                "url": passage_url(c),
            }
            for c in hit.also_in
        ],
    }
    if explain:
        body["explain"] = {
            "dense_score": round(hit.dense, 4),
            "dense_rank": hit.dense_rank,
            "lexical_score": round(hit.lexical, 4),
            "lexical_rank": hit.lexical_rank or None,
            "matched_terms": list(hit.terms),
            "fused_rank": hit.rank,
        }
    return body


def answer_json(query: Query, searcher: Searcher, result: Result, took_ms: float) -> dict[str, Any]:
    """The whole answer to a question."""
    manifest = searcher.snapshot.manifest
    body: dict[str, Any] = {
        "question": query.question,
        "mode": result.mode,
        "filter": {
            "doc": sorted(query.where.docs) or None,
            "date_from": query.where.date_from.isoformat() if query.where.date_from else None,
            "date_to": query.where.date_to.isoformat() if query.where.date_to else None,
        },
        "answerable": result.verdict.answerable,
        "confidence": round(result.verdict.confidence, 3),
        "reason": result.verdict.reason or None,
        "passages": [hit_json(h, query.explain) for h in result.hits],
        "build": {"id": manifest.build_id, "built_at": manifest.built_at},
        "took_ms": round(took_ms, 1),
    }
    if query.explain:
        body["signals"] = {name: None if v is None else round(v, 3) for name, v in result.verdict.signals.items()}
        body["timings_ms"] = {name: round(ms, 2) for name, ms in result.timings_ms.items()}
    return body
