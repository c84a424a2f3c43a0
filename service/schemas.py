"""What the API answers, declared once as pydantic models: the answers are built from them, and the
OpenAPI document shows them, so a response cannot drift from its description.

Fields that only `explain` adds are left out of a response that did not ask for them; every other
field is always there, null when it has no value.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel


class _Shape(BaseModel):
    # extra="forbid": a field added to a response and not here fails the tests instead of going
    # undocumented.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Build(_Shape):
    """The build an answer comes from."""

    id: str
    built_at: str = Field(description="When the build was made, ISO 8601 in UTC.")


class Copy(_Shape):
    """Another place the same passage appears (a near-duplicate, returned once)."""

    doc_id: str
    file: str
    paragraph: int
    start: int
    end: int
    url: str


class Explained(_Shape):
    """How a passage was ranked (explain only)."""

    dense_score: float
    dense_rank: int
    lexical_score: float
    lexical_rank: int | None = Field(description="Null when the lexical leg did not match the passage.")
    matched_terms: list[str]
    fused_rank: int


class Passage(_Shape):
    """One passage of an answer, with an exact citation: text[start:end] of the decoded file."""

    rank: int
    score: float
    text: str
    doc_id: str
    title: str
    source: str | None
    date: str | None = Field(description="The document's publication date, ISO 8601, when known.")
    year: int | None = Field(description="The year the document reports on, when known.")
    file: str
    paragraph: int = Field(description="1-based number of the paragraph the passage starts in.")
    start: int
    end: int
    heading: str = Field(description="The headings above the passage, joined by ' › '; empty when none.")
    kind: str = Field(description="text, or caption for a photo caption.")
    pieces: list[tuple[int, int]] = Field(description="The file spans the passage's text is joined from.")
    answer_start: int | None
    answer_end: int | None
    answer: str | None = Field(description="The sentence that best answers the question, when there is one.")
    url: str = Field(description="The document view with this passage highlighted.")
    also_in: list[Copy]
    explain: Explained | None = None


class Applied(_Shape):
    """The filter the answer applied."""

    doc: list[str] | None
    date_from: str | None
    date_to: str | None


class Answer(_Shape):
    """The answer to one question."""

    question: str
    mode: str
    filter: Applied
    answerable: bool = Field(description="Whether the first passage is judged to answer the question.")
    confidence: float = Field(ge=0, le=1, description="How likely the first passage answers, 0 to 1.")
    reason: str | None = Field(description="Why not answerable, in words; null when answerable.")
    passages: list[Passage]
    build: Build
    took_ms: float
    signals: dict[str, float | None] | None = Field(default=None, description="explain only.")
    timings_ms: dict[str, float] | None = Field(default=None, description="explain only: milliseconds per stage.")


class Answers(_Shape):
    """The answers to several questions, in their order, each as one question's answer."""

    answers: list[Answer]
    build: Build
    took_ms: float


class Problem(_Shape):
    """What went wrong: the HTTP status, a code to test for, and a sentence saying what to do."""

    status: int
    code: str
    message: str


class Error(_Shape):
    """The one shape of every error the API answers with."""

    error: Problem


class Alive(_Shape):
    """The process is up; the build it serves, when it has one."""

    status: str
    build: Build | None


class Ready(_Shape):
    """A build is loaded and answering."""

    status: str
    build: Build
    age_seconds: float = Field(description="Seconds since the build was made.")
    documents: int
    passages: int
    model: str
    unloadable_live_build: str | None = Field(
        default=None,
        description="The live build, when it cannot be loaded and this build (an older one) answers "
        "instead; null when the live build is the one answering. `chuchu build` replaces it.",
    )


class Reloaded(_Shape):
    """What POST /api/admin/reload did in the worker that took it."""

    reloaded: bool
    build: Build
    previous: str | None
    worker: int


class AskResult(RootModel[Answer | Answers]):
    """POST /api/ask answers one question as Answer, several as Answers."""


# What each error status means wherever the API can answer with it.
ERROR_MEANINGS = {
    400: "The request is malformed; the message says what is allowed.",
    403: "The admin token is missing or wrong, or the admin endpoints are disabled (no CHUCHU_ADMIN_TOKEN).",
    404: "A document named in `doc` is not in the live build.",
    413: "The body is over CHUCHU_MAX_BODY_BYTES.",
    415: "The body is not JSON (Content-Type: application/json).",
    429: "Over the per-client rate limit (CHUCHU_RATE_LIMIT, off by default); Retry-After says when to try again.",
    500: "An unexpected error; it has been logged.",
    503: "No index is loaded yet (run `chuchu build`), or the request ran out of CHUCHU_REQUEST_BUDGET_SECONDS.",
}


def errors(*statuses: int) -> dict[int, dict[str, Any]]:
    """OpenAPI responses for these error statuses, each in the one error shape."""
    schema = {"$ref": "#/components/schemas/Error"}
    return {
        status: {"description": ERROR_MEANINGS[status], "content": {"application/json": {"schema": schema}}}
        for status in statuses
    }
