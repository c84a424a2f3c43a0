"""The pages' language: Chinese by default, English to a browser that prefers it, and a switch that sticks.

Messages are written in English in the code and the templates (gettext msgids) and translated by
Babel catalogs, ``translations/<locale>/LC_MESSAGES/messages.po`` beside this module. The compiled
``.mo`` files are committed with them, so a wheel or a checkout serves Chinese with no build step;
``tests/unit/test_i18n.py`` fails when a message has no translation or a ``.mo`` is stale. After
changing a message::

    pybabel extract -F service/babel.cfg -o service/translations/messages.pot service
    pybabel update -i service/translations/messages.pot -d service/translations
    # translate the new entries of zh/LC_MESSAGES/messages.po, then
    pybabel compile -d service/translations

A request's language is, in order: the switch's cookie, the browser's ``Accept-Language``, Chinese.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, redirect, request, url_for
from flask_babel import Babel, get_locale

from chuchu.corpus.errors import NotFound

TRANSLATIONS = Path(__file__).parent / "translations"
# The interface's languages, each named in itself for the switch.
LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT = "zh"
# BCP 47 tags for <html lang>: screen readers pick their voice from it, fonts their glyph forms.
HTML_LANG = {"zh": "zh-Hans", "en": "en"}
COOKIE = "chuchu_lang"
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_YEAR = 365 * 24 * 3600

bp = Blueprint("i18n", __name__)


def init_i18n(app: Flask) -> None:
    """Translate the pages: Babel with our catalogs and locale choice, and the language switch."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.context_processor(_language)
    app.add_template_filter(text_lang, "text_lang")
    app.after_request(_vary)


def select_locale() -> str:
    """The language of this request: the switch's choice, else the browser's preference, else Chinese."""
    chosen = request.cookies.get(COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT) or DEFAULT


def current() -> str:
    """The language code of this request ("zh" or "en")."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT


def text_lang(text: str) -> str:
    """The language of a document's text, for its lang attribute: a screen reader in the English
    interface must still read a Chinese passage with a Chinese voice."""
    han, latin = len(_HAN.findall(text)), len(_LATIN.findall(text))
    return HTML_LANG["zh"] if han * 3 >= latin else HTML_LANG["en"]  # a Han character is about a word


@bp.get("/lang/<code>")
def switch(code: str) -> Any:
    """Remember the reader's language and go back to the page they were on."""
    if code not in LANGUAGES:
        raise NotFound(f"There is no interface language {code!r}; choose one of: {', '.join(LANGUAGES)}.")
    response = redirect(_local(request.args.get("next", "")), code=303)
    response.set_cookie(COOKIE, code, max_age=_YEAR, samesite="Lax", httponly=True)
    return response


def _local(target: str) -> str:
    # Only a path of this site: "//host" or "/\host" would send the reader elsewhere, and so would
    # "/<tab>/host", since browsers (and werkzeug's redirect) drop tabs and newlines from a URL; a
    # newline cannot go in the Location header at all (it was a 500).
    if target.startswith("/") and not target.startswith(("//", "/\\")) and not _CONTROL.search(target):
        return target
    return url_for("pages.home")


def _language() -> dict[str, Any]:
    code = current()
    here = request.full_path.rstrip("?") if request else "/"
    return {
        "lang": code,
        "html_lang": HTML_LANG[code],
        "languages": [(c, name, url_for("i18n.switch", code=c, next=here)) for c, name in LANGUAGES.items()],
    }


def _vary(response: Response) -> Response:
    # The same URL answers in either language: caches must key on what chooses it.
    if response.mimetype == "text/html":
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
    return response
