"""The fields of the request models: how each is checked, what the OpenAPI document says of it,
and the sentence that a value it does not allow fails with (``describe``)."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ValidationError, WithJsonSchema, WrapValidator
from pydantic_core import PydanticCustomError


def fail(message: str) -> PydanticCustomError:
    # The message goes in as context: a template would read braces in the user's input as fields.
    return PydanticCustomError("invalid", "{message}", {"message": message})


def allowing(name: str, allowed: str) -> WrapValidator:
    """Any failure of the field becomes one message: what it must be, and what it was."""

    def check(value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise fail(f"{name} must be {allowed}, not {value!r}.") from None

    return WrapValidator(check)


def whole_number(value: Any) -> Any:
    """5.0 is the integer 5 in JSON Schema, and so here; True is not a number here."""
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53 else value


def optional(value: Any) -> Any:
    """An empty form field is a parameter not given: the search form sends `doc=` for all documents."""
    return None if value == "" else value


_YEAR = r"[1-9][0-9]{3}"
_MONTH = r"(0[1-9]|1[0-2])"
_DATE_ALLOWED = "a date as YYYY, YYYY-MM or YYYY-MM-DD"


def parse_date(raw: Any, name: str, end: bool) -> date | None:
    """A date given as YYYY, YYYY-MM or YYYY-MM-DD; a partial date means its first (or last) day."""
    if raw is None or isinstance(raw, date):
        return raw
    try:
        if not isinstance(raw, str):
            raise ValueError
        if re.fullmatch(_YEAR, raw):
            return date(int(raw), 12, 31) if end else date(int(raw), 1, 1)
        if re.fullmatch(f"{_YEAR}-{_MONTH}", raw):
            year, month = int(raw[:4]), int(raw[5:])
            return date(year, month, calendar.monthrange(year, month)[1] if end else 1)
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            return date.fromisoformat(raw)
        raise ValueError
    except ValueError:
        raise fail(f"{name} must be {_DATE_ALLOWED}, not {raw!r}.") from None


def date_field(name: str, end: bool) -> Any:
    """A date bound of the filter, read by parse_date."""
    purpose = "Latest publication date" if end else "Earliest publication date"
    return Annotated[
        date | None,
        BeforeValidator(lambda raw: parse_date(optional(raw), name, end)),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "pattern": f"^{_YEAR}(-{_MONTH})?$"},
                    {"type": "string", "format": "date"},
                    {"type": "string", "maxLength": 0},  # the search form's empty field
                    {"type": "null"},
                ],
                "description": f"{purpose} (or, undated, year reported on) of the documents searched: "
                f"{_DATE_ALLOWED}; a partial date means its {'last' if end else 'first'} day.",
            }
        ),
    ]


# Shown by the docs page, and sent by the contract test's first phase.
EXAMPLE = "上埠镇今年种了多少亩一季稻"


# The spaces of the JSON Schema's \s (ECMAScript), which the spec's pattern for a question uses.
# Python's own strip() also takes U+001C-U+001F and U+0085 for spaces, so a question of only those
# fitted the spec and was refused as empty (found by schemathesis).
SPACES = "\t\n\v\f\r \xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000\ufeff"


def question_field(most: int, name: str) -> Any:
    """A question: 1 to `most` characters, not only spaces, valid text; stripped."""

    def check(text: str) -> str:
        if len(text) > most:
            raise fail(f"The question is {len(text)} characters long; at most {most} are allowed.")
        if not text.strip(SPACES):
            raise fail("The question is empty; ask something in Chinese or English.")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise fail("The question holds a lone surrogate escape (such as \\ud800), which is not text.") from None
        return text.strip(SPACES)

    return Annotated[
        str,
        WrapValidator(lambda value, handler: handler(value) if isinstance(value, str) else _not_text(name, value)),
        AfterValidator(check),
        WithJsonSchema(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": most,
                "pattern": r"\S",
                "description": f"The question, in Chinese or English: 1 to {most} characters, not only spaces.",
                "example": EXAMPLE,  # "examples", a list in JSON Schema, is a map in a parameter
            }
        ),
    ]


def _not_text(name: str, value: Any) -> Any:
    raise fail(f"The {name} must be a string, not {value!r}.")


def batch_size(most: int) -> Callable[[Any, Callable[[Any], Any]], Any]:
    def check(value: Any, handler: Callable[[Any], Any]) -> Any:
        if not isinstance(value, list) or not 1 <= len(value) <= most:
            got = f"{len(value)} of them" if isinstance(value, list) else repr(value)
            raise fail(f"questions must be a list of 1 to {most} questions, not {got}.")
        return handler(value)

    return check


def describe(error: ValidationError) -> str:
    """The first problem of a failed validation as a sentence that says what is allowed."""
    first = error.errors(include_url=False)[0]
    loc = [part for part in first["loc"] if part not in ("one", "many")]  # the union's tags name no field
    where = "".join(f"[{part}]" for part in loc if isinstance(part, int))
    names = [part for part in loc if isinstance(part, str)]
    name = names[-1] if names else ""
    kind = first["type"]
    if kind == "missing" and name in ("q", "question"):
        return "Ask a question: pass `q` in the query string or `question` in the JSON body."
    if kind == "missing":
        return f"{name} is required; /openapi.json describes this request."
    if kind == "extra_forbidden" and name == "question" and first["loc"][0] == "many":
        return "Send one question as `question` or several as `questions`, not both."
    if kind == "extra_forbidden":
        return f"The body has no field {name!r}; /openapi.json lists the fields of this request."
    if kind in ("model_type", "model_attributes_type", "dict_type") and not name:
        return 'The body must be a JSON object such as {"question": "…", "k": 5}.'
    message = first["msg"] if kind == "invalid" else f"{name or 'the body'}: {first['msg']}."
    return f"{names[0]}{where}: {message}" if where and names else message
