"""What a request may ask, declared once as pydantic models: they check the input, and the OpenAPI
document at /openapi.json is generated from them.

The limits (k, question length, batch size) are settings, so the models are made per set of limits
and the spec shows the limits the service applies. Every field says what it allows, and a value it
does not allow fails with a message built from the same words (service/fields.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
    ValidationError,
    WrapValidator,
)

from chuchu.corpus.errors import BadInput
from chuchu.index.filters import Filter
from chuchu.index.fusion import MODES
from chuchu.service import fields
from chuchu.service.errors import error_response
from chuchu.service.settings import Settings


@dataclass(frozen=True)
class Query:
    """A checked question."""

    question: str
    k: int
    mode: str = "hybrid"
    explain: bool = False
    where: Filter = field(default_factory=Filter)


@dataclass(frozen=True)
class Limits:
    """The settings the request models depend on."""

    default_k: int
    max_k: int
    max_question_chars: int
    max_batch: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.default_k, settings.max_k, settings.max_question_chars, settings.max_batch)


@dataclass(frozen=True)
class RequestModels:
    """The models of one set of limits: the query string of GET /api/search, the body of POST /api/ask."""

    search: type[BaseModel]
    ask: type[RootModel[Any]]
    many: type[BaseModel]  # the batch form of ask's body


_PLAIN_SCHEMAS: dict[type[BaseModel], dict[str, Any]] = {}


@lru_cache(maxsize=8)
def request_models(limits: Limits) -> RequestModels:
    """The request models under these limits."""
    k_allowed = f"a whole number from 1 to {limits.max_k}"
    modes = ", ".join(MODES)
    flag = "true or false (1 or 0 in a query string)"

    class Options(BaseModel):
        """What every question may add to itself."""

        k: Annotated[
            int,
            Field(ge=1, le=limits.max_k, description=f"How many passages to return: {k_allowed}."),
            fields.allowing("k", k_allowed),
            BeforeValidator(fields.whole_number),
        ] = limits.default_k
        mode: Annotated[
            Literal[MODES],  # type: ignore[valid-type]
            Field(description=f"The ranking: one of {modes}; hybrid fuses the other two."),
            fields.allowing("mode", f"one of {modes}"),
        ] = "hybrid"
        explain: Annotated[
            bool,
            Field(description=f"Add each leg's scores and ranks, the signals and the timings: {flag}."),
            fields.allowing("explain", flag),
        ] = False
        date_from: fields.date_field("date_from", end=False) = None  # type: ignore[valid-type]
        date_to: fields.date_field("date_to", end=True) = None  # type: ignore[valid-type]

    class SearchParams(Options):
        """The query string of GET /api/search."""

        model_config = ConfigDict(extra="ignore", title="SearchParams")
        q: fields.question_field(limits.max_question_chars, "question")  # type: ignore[valid-type]

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            # flask-openapi3 asks a query model for its schema on every request, only to read its
            # properties: 1.4 ms of each GET /api/search. Asked without arguments the schema is
            # always the same, so it is made once; the spec asks with arguments and gets its own.
            if args or kwargs:
                return super().model_json_schema(*args, **kwargs)
            if cls not in _PLAIN_SCHEMAS:
                _PLAIN_SCHEMAS[cls] = super().model_json_schema()
            return _PLAIN_SCHEMAS[cls]

        doc: Annotated[
            list[str] | None,
            BeforeValidator(fields.optional),
            Field(description="Search only these documents: an id, ids separated by commas, or the parameter again."),
            fields.allowing("doc", "document ids"),
        ] = None

    doc_in_body = Annotated[
        str | list[str] | None,
        Field(description="Search only these documents: an id, ids separated by commas, or a list of ids."),
        fields.allowing("doc", "a document id, ids separated by commas, or a list of ids"),
    ]

    class AskOne(Options):
        """One question."""

        model_config = ConfigDict(extra="forbid", strict=True, title="AskOne")
        question: fields.question_field(limits.max_question_chars, "question")  # type: ignore[valid-type]
        doc: doc_in_body = None

    class AskMany(Options):
        """Several questions, answered together; the options apply to each."""

        model_config = ConfigDict(extra="forbid", strict=True, title="AskMany")
        questions: Annotated[
            list[fields.question_field(limits.max_question_chars, "question")],  # type: ignore[misc,valid-type]
            Field(
                min_length=1,
                max_length=limits.max_batch,
                description=f"1 to {limits.max_batch} questions, each answered as a single question would be.",
            ),
            WrapValidator(fields.batch_size(limits.max_batch)),
        ]
        doc: doc_in_body = None

    class AskBody(RootModel[Any]):
        """The body of POST /api/ask: {"question": …} or {"questions": [ …]}, with the same options."""

        model_config = ConfigDict(title="AskBody")
        root: Annotated[
            Annotated[AskOne, Tag("one")] | Annotated[AskMany, Tag("many")],
            Discriminator(lambda body: "many" if isinstance(body, dict) and "questions" in body else "one"),
        ]

    return RequestModels(SearchParams, AskBody, AskMany)


def validation_failed(exc: ValidationError) -> Any:
    """flask-openapi3's validation_error_callback: a request that does not fit its model is a 400."""
    return error_response(BadInput.status, BadInput.code, fields.describe(exc))


def parse_query(params: Mapping[str, Any], settings: Settings) -> Query:
    """A Query from a query string (a MultiDict, or a plain mapping); BadInput says what is allowed."""
    values: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        values["q" if name == "question" else name] = value
    getlist = getattr(params, "getlist", None)
    if getlist is not None and "doc" in params:
        values["doc"] = getlist("doc")
    elif isinstance(values.get("doc"), str):
        values["doc"] = [values["doc"]]
    models = request_models(Limits.of(settings))
    try:
        checked = models.search.model_validate(values)
    except ValidationError as exc:
        raise BadInput(fields.describe(exc)) from None
    return to_queries(checked)[0]


def to_queries(checked: BaseModel) -> list[Query]:
    """The Queries a validated request asks: one, or one per question of a batch."""
    body = checked.root if isinstance(checked, RootModel) else checked
    data = dict(body)
    texts = data.get("questions") or [data.get("question") or data.get("q")]
    # A date_from after date_to is a range no document falls in: the answer has no passage and
    # its reason names the range, as for any filter that leaves nothing (the spec cannot say
    # that one parameter must be before another, so a 400 here would break the contract).
    where = Filter(_docs(data.get("doc")), data["date_from"], data["date_to"])
    return [Query(text, data["k"], data["mode"], data["explain"], where) for text in texts]


def _docs(raw: str | list[str] | None) -> frozenset[str]:
    """Document ids, given as a list, ids separated by commas, or both."""
    if raw is None:
        return frozenset()
    items = [raw] if isinstance(raw, str) else raw
    return frozenset(d.strip() for item in items for d in item.split(",") if d.strip())
