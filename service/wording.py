"""What the pages tell a reader, in the reader's language: why there is no answer, what went wrong.

The index explains a verdict as a code (``Why``) beside an English sentence; the pages translate
from the code, never from the English, so each language says it in its own words.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from chuchu.corpus.documents import Document
from chuchu.index.filters import Filter
from chuchu.index.question.verdict import Why

# The kinds of answer of index.question.reading.KINDS, as a reader would name them.
KINDS = {
    "person": _l("a person's name"),
    "organisation": _l("the name of an organisation"),
    "place": _l("a place"),
    "date": _l("a date or a year"),
    "money": _l("an amount of money"),
    "number": _l("a figure"),
    "percent": _l("a percentage or a rate"),
    "rank": _l("a rank"),
    "reason": _l("a reason"),
    "yesno": _l("a yes or a no"),
}


def asked(kind: str, units: tuple[str, ...]) -> str:
    """The kind of answer asked for, in words ("a figure in 亩")."""
    if units and kind in ("number", "money"):
        return _("a figure in %(units)s", units=_("/").join(units))
    return str(KINDS.get(kind, _("something")))


def why_not(why: Why | None, where: Filter, documents: Mapping[str, Document]) -> str:
    """Why the documents do not answer, in a sentence."""
    code = why.code if why else "little_shared"
    if code == "nothing_found":
        return _("No passage of the documents matches the question.")
    if code == "filtered":
        return _("No document is left once the filter is applied (%(filter)s).", filter=describe(where, documents))
    if code == "kind_missing" and why is not None:
        return _(
            "The question asks for %(asked)s, and none of the passages found gives one.",
            asked=asked(why.kind, why.units),
        )
    if code == "focus_missing" and why is not None and why.missing:
        return _(
            "The question asks about “%(missing)s”, which the passages found do not mention.",
            missing=_("”, “").join(why.missing),
        )
    if code == "numbers_missing":
        return _("The passages found are not about the figures or the years the question names.")
    return _("The passages found have too little in common with the question.")


def describe(where: Filter, documents: Mapping[str, Document]) -> str:
    """A filter in words: the documents by title, the dates as given."""
    parts = []
    if where.docs:
        titles = [_("“%(title)s”", title=documents[d].title if d in documents else d) for d in sorted(where.docs)]
        parts.append(_("only %(titles)s", titles=_(", ").join(titles)))
    if where.date_from and where.date_to:
        parts.append(_("dated %(first)s to %(last)s", first=where.date_from, last=where.date_to))
    elif where.date_from:
        parts.append(_("dated from %(first)s on", first=where.date_from))
    elif where.date_to:
        parts.append(_("dated up to %(last)s", last=where.date_to))
    return _("; ").join(parts)


def error(status: int, code: str = "", message: str = "") -> tuple[str, str]:
    """A page error's heading and what to do, by HTTP status, chuchu error code and message."""
    if code.startswith("index_") or (status == 503 and "chuchu build" in message):
        if code == "index_corrupt":
            return _("The index cannot be read"), _(
                "The published index is damaged or was built by another model. Run `chuchu build` to build a new one."
            )
        return _("No index yet"), _(
            "No documents have been indexed yet. Run `chuchu build`; this page answers as soon as the build is "
            "published."
        )
    if status == 404:
        return _("Not found"), _(
            "There is no such page or document. It may belong to an older build of the index; search again."
        )
    if status in (403, 405):
        return _("Not allowed"), _("This address does not answer that kind of request.")
    if status == 429:
        return _("Too many questions at once"), _("Wait a moment, then search again.")
    if status == 503:
        return _("The service is busy"), _("It could not answer in time. Try again in a moment.")
    if 400 <= status < 500:
        return _("The request cannot be answered as it is"), _("Check the question and the filters, then search again.")
    return _("Something went wrong on our side"), _(
        "The error has been logged. Try again in a moment; if it persists, tell whoever runs this service."
    )
