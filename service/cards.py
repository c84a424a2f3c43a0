"""A result as the page shows it: the passage marked, whether it answers, its links and its citation.

Only the first passage is judged (the verdict), so only the first can be marked as answering:
judged one by one with the same model, later passages that merely give a figure in the asked
unit (470余亩 of land taken, for 多少亩一季稻) came out as answers too, and a passage that does
not answer must not look as if it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _

from chuchu.corpus.documents import Document
from chuchu.corpus.splitting import Passage
from chuchu.index.question.reading import Asking
from chuchu.index.question.sentence import Span
from chuchu.index.search import Hit, Result, Searcher
from chuchu.service.marking import Marked, asked_spans, mark, nearest_asked, term_spans, words


@dataclass(frozen=True)
class Copy:
    """Another place the same passage appears."""

    title: str
    file: str
    paragraph: int
    url: str


@dataclass(frozen=True)
class Card:
    """One result."""

    hit: Hit
    answers: bool  # judged to answer the question: only then is its answering sentence marked
    text: Marked
    terms: tuple[str, ...]  # the question's words found in the passage, as written there
    url: str  # the document view at this passage
    headings: tuple[str, ...]
    date: str  # the document's date (or the year it reports on) in the reader's language
    citation: str
    copies: tuple[Copy, ...]


@dataclass(frozen=True)
class DirectAnswer:
    """The answering sentence of the first passage, with the figure or name asked for emphasised."""

    sentence: Marked
    card: Card


def cards(result: Result, searcher: Searcher, back: str) -> list[Card]:
    """The cards of a result; ``back`` is the results page the document view links back to."""
    documents = searcher.snapshot.documents
    cited: dict[str, list[int]] = {}
    for hit in result.hits:
        cited.setdefault(hit.passage.doc_id, []).append(hit.passage.number)
    out = []
    for i, hit in enumerate(result.hits):
        answers = i == 0 and result.verdict.answerable
        p = hit.passage
        answer = hit.answer if answers else None
        where = p.locate(answer.start, answer.end) if answer else None
        terms = term_spans(p.text, hit.terms)
        url = document_url(p, answer, back, cited[p.doc_id])
        out.append(
            Card(
                hit,
                answers and where is not None,
                mark(p.text, where, terms),
                words(p.text, terms),
                url,
                tuple(h.strip() for h in p.heading.split("›") if h.strip()),
                shown_date(hit.document),
                citation(hit.document, p, answer),
                tuple(
                    Copy(documents[c.doc_id].title, c.file, c.paragraph, document_url(c, None, back, [c.number]))
                    for c in hit.also_in
                ),
            )
        )
    return out


def direct_answer(card: Card, asking: Asking) -> DirectAnswer | None:
    """The first card's answering sentence as the direct answer, when it answers."""
    hit = card.hit
    if not card.answers or hit.answer is None:
        return None
    sentence = hit.document.text[hit.answer.start : hit.answer.end]
    terms = term_spans(sentence, hit.terms)
    asked = nearest_asked(asking, sentence, asked_spans(asking, sentence))
    return DirectAnswer(mark(sentence, None, terms, asked), card)


def document_url(p: Passage, answer: Span | None, back: str, cited: list[int]) -> str:
    """The document view at a passage, its answering sentence marked when it answers, and the
    results' other passages of the same document reachable from it."""
    args: dict[str, Any] = {"start": p.start, "end": p.end}
    if answer is not None:
        args.update(answer_start=answer.start, answer_end=answer.end)
    if len(cited) > 1:
        args["cited"] = ",".join(map(str, cited))
    if back:
        args["back"] = back
    return url_for("pages.document", doc_id=p.doc_id, _anchor=f"p{p.number}", **args)


def shown_date(document: Document) -> str:
    """The document's date in the reader's language, or the year it reports on, or ""."""
    if document.date:
        try:
            return format_date(date.fromisoformat(document.date[:10]), "long")
        except ValueError:
            return document.date
    return _("%(year)d report", year=document.year) if document.year else ""


def citation(document: Document, p: Passage, answer: Span | None = None) -> str:
    """A ready citation: title, source, date, file, characters start–end, and a link to the passage."""
    head = [_("“%(title)s”", title=document.title)]
    if document.source:
        head.append(document.source)
    when = shown_date(document)
    if when:
        head.append(when)
    where = _("%(file)s, characters %(start)d–%(end)d", file=p.file, start=p.start, end=p.end)
    marks = {"answer_start": answer.start, "answer_end": answer.end} if answer else {}
    link = _public_url("pages.document", doc_id=p.doc_id, start=p.start, end=p.end, _anchor=f"p{p.number}", **marks)
    return _("%(what)s. %(where)s. %(link)s", what=_(", ").join(head), where=where, link=link)


def _public_url(endpoint: str, **values: Any) -> str:
    """A link of this service, absolute: on CHUCHU_PUBLIC_URL when it is set, else on the request's
    own address (its Host header), which whoever sends the request chooses."""
    base = current_app.extensions["chuchu.settings"].public_url
    if not base:
        # url_for, not request.host_url: that decodes the host name, and "xn--zz" fails to.
        return url_for(endpoint, _external=True, **values)
    # url_for's path starts with the script root the service is mounted at; the public address
    # names its own.
    return base.rstrip("/") + url_for(endpoint, **values).removeprefix(request.script_root)
