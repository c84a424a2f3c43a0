"""Answering queries, and turning the hits into the API's answers, in the shape of its response
models (service/schemas.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from flask import g, request, url_for
from pydantic import BaseModel

from chuchu.corpus.errors import NotFound
from chuchu.corpus.splitting import Passage
from chuchu.index.live import LiveIndex
from chuchu.index.question.sentence import Span
from chuchu.index.search import Hit, Result, Searcher
from chuchu.service.errors import OverBudget
from chuchu.service.queries import Query


def answer(live: LiveIndex, query: Query) -> tuple[Searcher, Result, float]:
    """Search the live build; returns the searcher used, its result and the milliseconds taken."""
    began = time.perf_counter()
    searcher = live.searcher()
    result = _run(searcher, query)
    return searcher, result, (time.perf_counter() - began) * 1000


# Questions of a batch embedded together: big enough to fill the model's batch, small enough
# that the time budget is looked at between them.
_EMBED_TOGETHER = 16


def answer_many(live: LiveIndex, queries: Sequence[Query], deadline: float) -> dict[str, Any]:
    """Answer several questions from one build, each as it would be alone, embedded in batches:
    the JSON of schemas.Answers.

    ``deadline`` is a time.monotonic() instant: a batch of questions not begun by then is not
    begun, and OverBudget says how far the request got.
    """
    began = time.perf_counter()
    searcher = live.searcher()  # one build for the whole request
    answers: list[dict[str, Any]] = []
    done = 0
    while done < len(queries):
        if time.monotonic() > deadline:
            raise OverBudget(
                f"The time budget of this request ran out after {done} of {len(queries)} questions; "
                "send fewer questions at once, or raise CHUCHU_REQUEST_BUDGET_SECONDS."
            )
        first = queries[done]
        alike = [first]  # the same k, mode and filter: one Searcher.run_many
        for q in queries[done + 1 : done + _EMBED_TOGETHER]:
            if (q.k, q.mode, q.where) != (first.k, first.mode, first.where):
                break
            alike.append(q)
        clock = time.perf_counter()
        results = _run_many(searcher, alike)
        each_ms = (time.perf_counter() - clock) * 1000 / len(alike)
        answers.extend(answer_json(q, searcher, r, each_ms) for q, r in zip(alike, results))
        done += len(alike)
    return {
        "answers": answers,
        "build": _build(searcher),
        "took_ms": round((time.perf_counter() - began) * 1000, 1),
    }


def _run(searcher: Searcher, query: Query) -> Result:
    """One question against one build."""
    return _run_many(searcher, [query])[0]


def _run_many(searcher: Searcher, queries: Sequence[Query]) -> list[Result]:
    """Questions of the same k, mode and filter against one build, embedded together; what they
    found is noted for the metrics and the access log."""
    for query in queries:
        # Looked up, not set() of every document id per question: that grows with the corpus.
        unknown = sorted(d for d in query.where.docs if d not in searcher.snapshot.documents)
        if unknown:
            known = ", ".join(sorted(searcher.snapshot.documents))
            raise NotFound(f"There is no document {', '.join(unknown)} in this build; doc may be one of: {known}.")
    first = queries[0]
    results = searcher.run_many([q.question for q in queries], first.k, first.mode, first.where)
    g.setdefault("chuchu_results", []).extend(results)
    g.chuchu_manifest = searcher.snapshot.manifest
    return results


# The answers are written as plain dicts, in the shape and field order of the response models
# (service/schemas.py), not built as those models and dumped: validating and dumping a model per
# passage, and url_for with query arguments per link, took 0.33 ms of each GET /api/search's CPU
# after the search (0.1 ms warm), a quarter of the app's work around the search. The models still
# describe the responses in /openapi.json, and tests/unit/test_api_shapes.py checks answers
# against them. Scores go through float() and ranks through int(), as the models converted them:
# a numpy scalar from the search would otherwise fail to serialize (service/api.py uses orjson).


def passage_url(p: Passage, answer: Span | None = None) -> str:
    """Where the document view shows this passage highlighted, and its answering sentence marked."""
    # The same URL as url_for with the offsets as query arguments, which encodes each name and
    # number apart (12 µs a link); the offsets are whole numbers, which need no encoding.
    marks = f"&answer_start={answer.start}&answer_end={answer.end}" if answer else ""
    return f"{_document_path(request.script_root, p.doc_id)}?start={p.start}&end={p.end}{marks}#p{p.number}"


@lru_cache(maxsize=4096)
def _document_path(script_root: str, doc_id: str) -> str:
    # A document's path depends on nothing else (the route is the pages blueprint's, the same in
    # every app); url_for took 4 µs a link warm, 20 µs after the search.
    return url_for("pages.document", doc_id=doc_id)


def passage_json(hit: Hit, explain: bool = False) -> dict[str, Any]:
    """One passage of an answer: schemas.Passage's JSON."""
    p, doc, span = hit.passage, hit.document, hit.answer
    passage = {
        "rank": int(hit.rank),
        "score": round(float(hit.score), 4),
        "text": p.text,
        "doc_id": p.doc_id,
        "title": doc.title,
        "source": doc.source,
        "date": doc.date,
        "year": doc.year,
        "file": p.file,
        "paragraph": p.paragraph,
        "start": p.start,
        "end": p.end,
        "heading": p.heading,
        "kind": p.kind,
        "pieces": [[start, end] for start, end in p.spans],
        "answer_start": span.start if span else None,
        "answer_end": span.end if span else None,
        "answer": doc.text[span.start : span.end] if span else None,
        "url": passage_url(p, span),
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
        passage["explain"] = {
            "dense_score": round(float(hit.dense), 4),
            "dense_rank": int(hit.dense_rank),
            "lexical_score": round(float(hit.lexical), 4),
            "lexical_rank": hit.lexical_rank or None,
            "matched_terms": list(hit.terms),
            "fused_rank": int(hit.rank),
        }
    return passage


def answer_json(query: Query, searcher: Searcher, result: Result, took_ms: float) -> dict[str, Any]:
    """The whole answer to a question: schemas.Answer's JSON, what explain adds left out when not asked for."""
    verdict, where = result.verdict, query.where
    answer = {
        "question": query.question,
        "mode": result.mode,
        "filter": {
            "doc": sorted(where.docs) or None,
            "date_from": where.date_from.isoformat() if where.date_from else None,
            "date_to": where.date_to.isoformat() if where.date_to else None,
        },
        "answerable": bool(verdict.answerable),
        "confidence": round(float(verdict.confidence), 3),
        "reason": verdict.reason or None,
        "passages": [passage_json(h, query.explain) for h in result.hits],
        "build": _build(searcher),
        "took_ms": round(took_ms, 1),
    }
    if query.explain:
        answer["signals"] = {name: None if v is None else round(float(v), 3) for name, v in verdict.signals.items()}
        answer["timings_ms"] = {name: round(float(ms), 2) for name, ms in result.timings_ms.items()}
    return answer


def _build(searcher: Searcher) -> dict[str, Any]:
    manifest = searcher.snapshot.manifest
    return {"id": manifest.build_id, "built_at": manifest.built_at}


def dump(model: BaseModel) -> dict[str, Any]:
    """A response model as JSON data, without the fields it was not given (explain's)."""
    return model.model_dump(mode="json", exclude_unset=True)
