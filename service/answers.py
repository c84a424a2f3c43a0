"""Answering queries, and turning the hits into the API's response models (service/schemas.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from flask import g, url_for
from pydantic import BaseModel

from chuchu.corpus.errors import NotFound
from chuchu.corpus.splitting import Passage
from chuchu.index.live import LiveIndex
from chuchu.index.question.sentence import Span
from chuchu.index.search import Hit, Result, Searcher
from chuchu.service import schemas
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


def answer_many(live: LiveIndex, queries: Sequence[Query], deadline: float) -> schemas.Answers:
    """Answer several questions from one build, each as it would be alone, embedded in batches.

    ``deadline`` is a time.monotonic() instant: a batch of questions not begun by then is not
    begun, and OverBudget says how far the request got.
    """
    began = time.perf_counter()
    searcher = live.searcher()  # one build for the whole request
    answers: list[schemas.Answer] = []
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
        answers.extend(answer_model(q, searcher, r, each_ms) for q, r in zip(alike, results))
        done += len(alike)
    manifest = searcher.snapshot.manifest
    return schemas.Answers(
        answers=answers,
        build=schemas.Build(id=manifest.build_id, built_at=manifest.built_at),
        took_ms=round((time.perf_counter() - began) * 1000, 1),
    )


def _run(searcher: Searcher, query: Query) -> Result:
    """One question against one build."""
    return _run_many(searcher, [query])[0]


def _run_many(searcher: Searcher, queries: Sequence[Query]) -> list[Result]:
    """Questions of the same k, mode and filter against one build, embedded together; what they
    found is noted for the metrics and the access log."""
    for query in queries:
        unknown = sorted(query.where.docs - set(searcher.snapshot.documents))
        if unknown:
            known = ", ".join(sorted(searcher.snapshot.documents))
            raise NotFound(f"There is no document {', '.join(unknown)} in this build; doc may be one of: {known}.")
    first = queries[0]
    results = searcher.run_many([q.question for q in queries], first.k, first.mode, first.where)
    g.setdefault("chuchu_results", []).extend(results)
    g.chuchu_manifest = searcher.snapshot.manifest
    return results


def passage_url(p: Passage, answer: Span | None = None) -> str:
    """Where the document view shows this passage highlighted, and its answering sentence marked."""
    marks: dict[str, Any] = {"answer_start": answer.start, "answer_end": answer.end} if answer else {}
    return url_for("pages.document", doc_id=p.doc_id, start=p.start, end=p.end, _anchor=f"p{p.number}", **marks)


def passage_model(hit: Hit, explain: bool = False) -> schemas.Passage:
    """One passage of an answer."""
    p, doc, span = hit.passage, hit.document, hit.answer
    extra: dict[str, Any] = {}
    if explain:
        extra["explain"] = schemas.Explained(
            dense_score=round(hit.dense, 4),
            dense_rank=hit.dense_rank,
            lexical_score=round(hit.lexical, 4),
            lexical_rank=hit.lexical_rank or None,
            matched_terms=list(hit.terms),
            fused_rank=hit.rank,
        )
    return schemas.Passage(
        rank=hit.rank,
        score=round(hit.score, 4),
        text=p.text,
        doc_id=p.doc_id,
        title=doc.title,
        source=doc.source,
        date=doc.date,
        year=doc.year,
        file=p.file,
        paragraph=p.paragraph,
        start=p.start,
        end=p.end,
        heading=p.heading,
        kind=p.kind,
        pieces=list(p.spans),
        answer_start=span.start if span else None,
        answer_end=span.end if span else None,
        answer=doc.text[span.start : span.end] if span else None,
        url=passage_url(p, span),
        also_in=[
            schemas.Copy(
                doc_id=c.doc_id, file=c.file, paragraph=c.paragraph, start=c.start, end=c.end, url=passage_url(c)
            )
            for c in hit.also_in
        ],
        **extra,
    )


def answer_model(query: Query, searcher: Searcher, result: Result, took_ms: float) -> schemas.Answer:
    """The whole answer to a question."""
    manifest = searcher.snapshot.manifest
    verdict, where = result.verdict, query.where
    extra: dict[str, Any] = {}
    if query.explain:
        extra["signals"] = {name: None if v is None else round(v, 3) for name, v in verdict.signals.items()}
        extra["timings_ms"] = {name: round(ms, 2) for name, ms in result.timings_ms.items()}
    return schemas.Answer(
        question=query.question,
        mode=result.mode,
        filter=schemas.Applied(
            doc=sorted(where.docs) or None,
            date_from=where.date_from.isoformat() if where.date_from else None,
            date_to=where.date_to.isoformat() if where.date_to else None,
        ),
        answerable=verdict.answerable,
        confidence=round(verdict.confidence, 3),
        reason=verdict.reason or None,
        passages=[passage_model(h, query.explain) for h in result.hits],
        build=schemas.Build(id=manifest.build_id, built_at=manifest.built_at),
        took_ms=round(took_ms, 1),
        **extra,
    )


def answer_json(query: Query, searcher: Searcher, result: Result, took_ms: float) -> dict[str, Any]:
    """The answer as the API's JSON; what explain adds is left out when not asked for."""
    return dump(answer_model(query, searcher, result, took_ms))


def dump(model: BaseModel) -> dict[str, Any]:
    """A response model as JSON data, without the fields it was not given (explain's)."""
    return model.model_dump(mode="json", exclude_unset=True)
