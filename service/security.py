"""The headers that keep a page's content inert: a strict Content-Security-Policy and its companions.

Every script and style comes from our own static files; nothing inline, nothing from elsewhere.
Document text is escaped by the templates already; the policy is the second wall, so that a
passage carrying markup could not run a script even if an escape were ever missed.
"""

from __future__ import annotations

from flask import Response

POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",  # the page fetches results without a reload
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


def secure(response: Response) -> Response:
    """Add the security headers to a response (kept when a view set its own)."""
    response.headers.setdefault("Content-Security-Policy", POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
