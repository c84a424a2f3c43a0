"""The one error model of chuchu.

Every error the project raises on purpose is a ``ChuchuError``; each class carries the HTTP
status the service answers with, so the service maps errors to responses in one place::

    ChuchuError (500)
    ├── BadInput (400)              the request is malformed: says what is allowed
    ├── Forbidden (403)             an admin request without the right token, or while disabled
    ├── NotFound (404)              an unknown document or page
    ├── IndexUnavailable (503)      no usable index: says to run `chuchu build`
    │   ├── IndexMissing            nothing has been built yet
    │   └── IndexCorrupt            files missing or unreadable, or a manifest mismatch
    ├── CorpusError (500)           the corpus cannot be read as a whole
    │   └── DocumentUnreadable      one file cannot be read or decoded
    ├── ModelError (500)            the embedding model cannot be prepared or loaded
    └── BuildError (500)            an index build failed; the live build is untouched

Messages are whole sentences that say what happened and what to do next.
This module sits in ``corpus`` because imports run ``service → index → corpus``: the bottom
layer is the only place every layer can import from.
"""

from __future__ import annotations


class ChuchuError(Exception):
    """Base of every error chuchu raises on purpose."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(ChuchuError):
    """The request is malformed."""

    status = 400
    code = "bad_input"


class Forbidden(ChuchuError):
    """The request is not allowed: a missing or wrong admin token, or a disabled endpoint."""

    status = 403
    code = "forbidden"


class NotFound(ChuchuError):
    """The thing asked for does not exist."""

    status = 404
    code = "not_found"


class IndexUnavailable(ChuchuError):
    """There is no usable index."""

    status = 503
    code = "index_unavailable"


class IndexMissing(IndexUnavailable):
    """No index has been built yet."""

    code = "index_missing"


class IndexCorrupt(IndexUnavailable):
    """The index on disk is incomplete, unreadable or does not match the running setup."""

    code = "index_corrupt"


class CorpusError(ChuchuError):
    """The corpus cannot be read."""

    code = "corpus_error"


class DocumentUnreadable(CorpusError):
    """One document cannot be read or decoded."""

    code = "document_unreadable"


class ModelError(ChuchuError):
    """The embedding model cannot be prepared or loaded."""

    code = "model_error"


class BuildError(ChuchuError):
    """An index build failed."""

    code = "build_error"
