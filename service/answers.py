"""Answering a query and turning the hits into the API's JSON shape."""

from __future__ import annotations

import time
from typing import Any

from flask import url_for

from index.live import LiveIndex
from index.search import Hit, Searcher
from service.queries import Query


def answer(live: LiveIndex, query: Query) -> tuple[Searcher, list[Hit], float]:
    """Search the live build; returns the searcher used, its hits and the milliseconds taken."""
    began = time.perf_counter()
    searcher = live.searcher()
    hits = searcher.search(query.question, query.k)
    return searcher, hits, (time.perf_counter() - began) * 1000


def passage_url(hit: Hit) -> str:
    """Where the document view shows this passage, highlighted."""
    p = hit.passage
    return url_for("pages.document", doc_id=p.doc_id, start=p.start, end=p.end, _anchor=f"p{p.number}")


def hit_json(hit: Hit) -> dict[str, Any]:
    """One passage of an answer."""
    p = hit.passage
    return {
        "rank": hit.rank,
        "score": round(hit.score, 4),
        "text": p.text,
        "doc_id": p.doc_id,
        "title": hit.document.title,
        "file": p.file,
        "paragraph": p.paragraph,
        "start": p.start,
        "end": p.end,
        "url": passage_url(hit),
    }


def answer_json(query: Query, searcher: Searcher, hits: list[Hit], took_ms: float) -> dict[str, Any]:
    """The whole answer to a question."""
    manifest = searcher.snapshot.manifest
    return {
        "question": query.question,
        "passages": [hit_json(h) for h in hits],
        "build": {"id": manifest.build_id, "built_at": manifest.built_at},
        "took_ms": round(took_ms, 1),
    }
