"""The pages' languages: every message translated, the catalogs compiled and shipped, the choice of language."""

import gettext
import io
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import unquote

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tests.conftest import ROOT

SERVICE = ROOT / "service"
TRANSLATIONS = SERVICE / "translations"
LOCALES = ["zh"]  # English is the msgids themselves


def _extracted() -> set[str]:
    """Every msgid the code and the templates use, as `pybabel extract -F service/babel.cfg` finds them."""
    method_map, options_map = parse_mapping_cfg(io.StringIO((SERVICE / "babel.cfg").read_text()))
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        SERVICE, method_map, options_map, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_has_a_translation(locale):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f, locale=locale)
    translated = {}
    for m in catalog:
        if m.id:
            key = m.id[0] if isinstance(m.id, tuple) else m.id
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            translated[key] = all(strings) and not m.fuzzy
    used = _extracted()
    assert {"Search", "The documents do not answer this", "a person's name"} <= used, "templates and code both read"
    missing = sorted(msgid for msgid in used if not translated.get(msgid))
    assert not missing, f"untranslated in {locale} (see service/i18n.py for the commands): {missing}"


@pytest.mark.parametrize("locale", LOCALES)
def test_the_compiled_catalog_is_the_po_file(locale):
    folder = TRANSLATIONS / locale / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as f:
        catalog = read_po(f, locale=locale)
    with open(folder / "messages.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, tuple):
            assert compiled.ngettext(m.id[0], m.id[1], 1) == m.string[0], (
                "run `pybabel compile -d service/translations`"
            )
        else:
            assert compiled.gettext(m.id) == m.string, "run `pybabel compile -d service/translations`"


def test_the_package_ships_the_catalogs():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["chuchu.service"]
    for path in TRANSLATIONS.rglob("*.[mp]o"):
        relative = path.relative_to(SERVICE).as_posix()
        assert any(fnmatch(relative, p) for p in patterns), f"{relative} is not in the package data"


@pytest.mark.parametrize(
    ("accept", "lang", "words"),
    [
        (None, "zh-Hans", "搜索"),
        ("zh-CN,zh;q=0.9", "zh-Hans", "搜索"),
        ("zh-TW", "zh-Hans", "搜索"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en", "Search"),
        ("fr-FR,en;q=0.5", "en", "Search"),
        ("ja", "zh-Hans", "搜索"),
    ],
)
def test_the_language_follows_the_browser_and_defaults_to_chinese(fake_client, accept, lang, words):
    headers = {"Accept-Language": accept} if accept else {}
    response = fake_client.get("/", headers=headers)
    html = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html and f">{words}</button>" in html
    assert "Accept-Language" in response.headers["Vary"]


def test_the_switch_sticks_and_only_goes_back_to_this_site(fake_client):
    response = fake_client.get("/lang/en", query_string={"next": "/search?q=一季稻"})
    assert response.status_code == 303 and unquote(response.headers["Location"]) == "/search?q=一季稻"
    assert "chuchu_lang=en" in response.headers["Set-Cookie"]
    # The cookie outranks the browser's Chinese.
    html = fake_client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert '<html lang="en">' in html
    fake_client.get("/lang/zh", query_string={"next": "/"})
    assert '<html lang="zh-Hans">' in fake_client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for away in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        assert fake_client.get("/lang/en", query_string={"next": away}).headers["Location"] == "/"
    assert fake_client.get("/lang/fr").status_code == 404


def test_the_switch_links_back_to_the_page_it_is_on(fake_client):
    html = fake_client.get("/search", query_string={"q": "一季稻"}).get_data(as_text=True)
    assert 'href="/lang/en?next=/search?q%3D' in html and 'aria-current="true" lang="zh">中文' in html


def test_the_font_stack_covers_cjk_on_each_system():
    css = (SERVICE / "static" / "chuchu.css").read_text()
    for font in ("PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC"):
        assert f'"{font}"' in css
    assert Path(SERVICE / "babel.cfg").exists()
