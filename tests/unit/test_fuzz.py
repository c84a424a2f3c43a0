"""Hostile requests, in-process: hypothesis sends every route random Unicode and control
characters, wrong types, deep and oversized JSON, junk headers and cookies, lying lengths,
traversal paths and markup, and checks what the service must do with each: a 4xx in the one error
shape, never a 5xx; no file outside the corpus and the static folders shown; markup kept as text
in the pages and as data in the JSON; and a normal question still answered afterwards.

Requests are built as gunicorn hands them to the app (the path percent-decoded into a latin-1
str, the query string and header values raw), so bytes a browser would never send get through.
The examples are derandomized: every run sends the same ones. CHUCHU_FUZZ_EXAMPLES sets how many
each test tries (default 40); a soak runs many more:

    CHUCHU_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/unit/test_fuzz.py tests/unit/test_api_contract.py

tests/integration/test_hostile_http.py sends what only a real server sees to `chuchu serve`.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes, urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from werkzeug.test import EnvironBuilder, TestResponse, run_wsgi_app
from werkzeug.wrappers import Request

import chuchu.service
from chuchu.index.build import build_index
from chuchu.index.live import LiveIndex
from chuchu.index.store import Store
from chuchu.service.app import create_app
from chuchu.service.errors import JSON_PATHS
from chuchu.service.security import POLICY
from chuchu.service.settings import Settings
from tests import soak
from tests.fakes import HashingEmbedder

EXAMPLES = soak.FUZZ_EXAMPLES
pytestmark = pytest.mark.soak
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same examples every run: CI is never flaky, a failure always reproduces
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
TOKEN = "fuzz-admin-token"
MAX_BODY = Settings().max_body_bytes

# Markup a question or a document may carry: none of it may ever run or become a link.
ATTACKS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "javascript:alert(1)",
    '<a href="javascript:alert(1)">点此</a>',
    "</title><script>alert(1)</script>",
    "<iframe src=//evil.example>",
    "<!--",
    "]]>",
    "&lt;script&gt;",
    "{{ 7*7 }}",
    "{% if 1 %}",
    "%(n)s",
    "{0}",
    "\x00",
    "\r\nSet-Cookie: pwned=1",
    "../../etc/passwd",
    "\u202e",
    "\ufeff",
    "𝕏😀",
]
# A document carrying markup as its text, the way a scraped page pasted into a .txt does.
INJECTED = (
    '<b>乙县</b>电子信息报告"><img src=x onerror=alert(1)>\n\n'
    "<script>alert(document.cookie)</script>乙县引进了电子信息企业二十家，工业总产值增长百分之十二。\n"
    '详见<a href="javascript:alert(1)">javascript:alert(1)</a>和{{ 7*7 }}，乙县电子信息产业链更加完整。\n'
)
REPORT = "甲镇报告\n\n甲镇今年种植一季稻12330亩，比去年增加了不少，农业生产稳中有进。\n甲镇新建了三座桥梁。\n"
# Words the documents hold, so that hostile questions still find passages (and their markup).
FINDS = ["乙县电子信息企业", "甲镇一季稻", "alert", "script", "javascript", "工业总产值"]

any_text = st.text(st.characters(codec="utf-8"), max_size=30)  # control characters included
hostile_text = st.lists(st.one_of(any_text, st.sampled_from(ATTACKS)), max_size=4).map("".join)
question_text = st.tuples(hostile_text, st.sampled_from(FINDS), hostile_text).map("".join)
latin1_text = st.text(st.characters(max_codepoint=0xFF, exclude_characters="\r\n"), max_size=40)
odd_values = st.sampled_from(
    ["", " ", "0", "-1", "1.5", "1e999", "nan", "true", "9" * 5000, "²", "١٢", "0x10", "[]", "{}", "null"]
    + ["2024-02-30", "0000", "9999-12", "2024-13", "hybrid", "dense", "lexical", "b,a,,", "%00", "a\x00b"]
)
wrong_value = st.one_of(hostile_text, odd_values, st.integers().map(str), st.floats().map(repr))
PARAMS = ["q", "question", "k", "mode", "explain", "doc", "date_from", "date_to"]
query_pairs = st.lists(st.tuples(st.one_of(st.sampled_from(PARAMS), any_text), wrong_value), max_size=6)
FIELDS = ["question", "questions", "k", "mode", "explain", "doc", "date_from", "date_to"]
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), hostile_text, odd_values
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | any_text, inner, max_size=4),
    max_leaves=12,
)


@dataclass
class Hostile:
    """The app under attack, what it may show, and what it must never show."""

    client: Any
    docs: list[str]
    canary: Path  # a file outside the corpus and the static folders
    secrets: list[str]  # text no response may hold
    tally: dict[str, Counter]

    def send(self, category: str, method: str, path: str, query: str | bytes = b"", **kw: Any) -> Any:
        """One request as gunicorn hands it over: the path percent-decoded into a latin-1 str, the
        query string and the header values raw, Content-Type and Content-Length apart."""
        body = kw.pop("body", b"")
        headers = dict(kw.pop("headers", {}))
        environ = EnvironBuilder(method=method, path="/", input_stream=io.BytesIO(body)).get_environ()
        environ["PATH_INFO"] = unquote_to_bytes(path.encode("utf-8")).decode("latin-1")
        environ["QUERY_STRING"] = (query.encode() if isinstance(query, str) else query).decode("latin-1")
        environ["CONTENT_TYPE"] = headers.pop("Content-Type", "")
        environ["CONTENT_LENGTH"] = headers.pop("Content-Length", kw.pop("length", str(len(body)) if body else ""))
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        environ["wsgi.input_terminated"] = kw.pop("terminated", False)
        environ.update(kw.pop("environ", {}))
        assert not kw, kw
        # Straight to the app: the test client also parses the request's URL for its cookies and
        # redirects, and fails by itself on a Host header the app must refuse.
        response = TestResponse(*run_wsgi_app(self.client.application, environ, buffered=True), Request(environ))
        response.close()  # buffered: the body stays, the file a static response holds is closed
        self.tally.setdefault(category, Counter())[response.status_code] += 1
        check_response(response, method, environ["PATH_INFO"])
        return response


def check_response(response: Any, method: str, path: str) -> None:
    """What every response owes: no 5xx, the error shape on the API, the request id, the policy."""
    text = response.get_data(as_text=True)
    assert response.status_code < 500, f"{method} {path!r} -> {response.status_code}: {text[:500]}"
    assert response.headers.get("X-Request-ID")
    # Swagger UI's files carry their own policy (service/openapi.py).
    assert response.headers.get("Content-Security-Policy") == POLICY or path.startswith("/openapi/")
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    if path.startswith(JSON_PATHS) and response.status_code >= 400 and method != "HEAD":
        error = response.get_json()["error"]
        assert error["status"] == response.status_code and error["code"] and error["message"], error
    if response.mimetype == "text/html" and method != "HEAD" and not path.startswith("/openapi/"):
        assert_inert(text)  # Swagger UI's own pages have their inline script, and their own policy


# The elements our templates write; an injection would add others (img, svg, iframe, a script).
TAGS = set(
    "html head meta title link script body a header nav span main p footer form label div input button "
    "details summary select option h1 h2 h3 section ul ol li article blockquote strong mark figure figcaption "
    "br".split()
)
URL_ATTRIBUTES = {"href", "src", "action", "cite", "formaction", "poster", "background"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def assert_inert(html: str) -> None:
    """A page of ours and nothing more: known elements, no handler or style attribute, no inline
    script, and every link a path of this site (or the empty icon)."""
    parser = _Elements()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.found:
        assert tag in TAGS, f"<{tag}> in the page: {attrs}"
        names = {name for name, _ in attrs}
        assert not any(n.startswith("on") or n == "style" for n in names), f"<{tag} {names}>"
        if tag == "script":
            assert dict(attrs).get("src", "").startswith("/static/"), f"inline script: {attrs}"
        for name, value in attrs:
            if name in URL_ATTRIBUTES and value is not None:
                # What a browser would do first: drop tabs and newlines, read a backslash as a slash.
                url = re.sub(r"[\t\n\r]", "", value).strip().replace("\\", "/")
                local = url.startswith(("/", "#", "?")) and not url.startswith("//")
                assert local or url == "data:,", f'<{tag} {name}="{value}">'


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Any:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "corpus").mkdir()
    (root / "corpus" / "report.txt").write_text(REPORT, encoding="utf-8")
    (root / "corpus" / "inject.txt").write_text(INJECTED, encoding="utf-8")
    # A file beside the corpus and the store, outside every folder the service serves.
    canary = root / "canary.txt"
    canary.write_text("CANARY-7f3a9c: this file must never be served\n", encoding="utf-8")
    embedder = HashingEmbedder()
    store = Store(root / "store")
    build_index(root / "corpus", store, embedder)
    settings_ = Settings.load({}, store=store.root, admin_token=TOKEN)
    live = LiveIndex(store, lambda: embedder)
    app = create_app(settings_, live)
    docs = sorted(live.searcher().snapshot.documents)
    # What no response may hold: the canary, this test's own source, the app's, the system's users.
    secrets = ["CANARY-7f3a9c", "def assert_inert", "def create_app", "root:x:0:0", "[build-system]"]
    state = Hostile(app.test_client(), docs, canary, secrets, {})
    yield state
    if state.tally:
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\nfuzz (in-process, {EXAMPLES} examples a test):")
            for category, statuses in state.tally.items():
                shown = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
                print(f"  {category:<22} {sum(statuses.values()):>6} requests  {shown}")
            total = sum((c for c in state.tally.values()), Counter())
            fives = sum(n for s, n in total.items() if s >= 500)
            print(f"  {'all':<22} {sum(total.values()):>6} requests, {fives} 5xx")


@pytest.fixture()
def fuzz(hostile: Hostile) -> Any:
    """The app; after the test, a normal question must still be answered."""
    yield hostile
    response = hostile.client.get("/api/search", query_string={"q": "甲镇今年种植一季稻多少亩"})
    assert response.status_code == 200 and response.get_json()["passages"], "the service did not survive"
    assert hostile.client.get("/search", query_string={"q": "甲镇一季稻"}).status_code == 200


# --- The query string: every parameter of every route that reads one, any value. -----------


@FUZZ
@given(pairs=query_pairs, route=st.sampled_from(["/api/search", "/search", "/", "/healthz"]))
def test_any_query_string_is_answered_or_refused(fuzz, pairs, route):
    response = fuzz.send("query string", "GET", route, query=urlencode(pairs, quote_via=quote))
    allowed = {"/api/search": {200, 400, 404}, "/search": {200, 400, 404}}.get(route, {200})
    assert response.status_code in allowed, (pairs, response.get_data(as_text=True)[:300])


@FUZZ
@given(raw=st.binary(max_size=40), encoded=st.booleans(), route=st.sampled_from(["/api/search", "/search", "/"]))
def test_a_query_string_that_is_not_utf8_is_a_400(fuzz, raw, encoded, route):
    sent = b"q=%E7%94%B2%E9%95%87" + (quote_from_bytes(raw).encode() if encoded else raw)
    response = fuzz.send("query bytes", "GET", route, query=sent)
    try:
        unquote_to_bytes(sent.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        assert "UTF-8" in response.get_data(as_text=True)
    else:
        assert response.status_code in ({200, 400, 404} if route != "/" else {200})


@pytest.mark.parametrize("route", ["/search", "/api/search", "/", "/docs/x", "/static/chuchu.css", "/healthz"])
def test_raw_invalid_utf8_in_the_query_string_is_a_400_on_every_route(fuzz, route):
    # Was a 500 under gunicorn: werkzeug decoded the raw bytes strictly, then so did the error page.
    response = fuzz.send("query bytes", "GET", route, query=b"q=\xff\xfe")
    assert response.status_code == 400 and "0xff" in response.get_data(as_text=True)


# --- JSON bodies: any shape, any types, broken, re-encoded. ----------------------------------


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    body = draw(
        st.one_of(
            st.fixed_dictionaries({"question": question_text}, optional={f: json_value for f in FIELDS[1:]}),
            st.fixed_dictionaries({"questions": st.lists(question_text, max_size=3)}),
            st.dictionaries(st.sampled_from(FIELDS) | any_text, json_value, max_size=5),
            json_value,
        )
    )
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))  # NaN and Infinity, as Python writes them
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "utf-16-be", "utf-32"])))
    cut = draw(st.sampled_from(["whole", "whole", "truncated", "garbage", "bom"]))
    if cut == "truncated":
        data = data[: draw(st.integers(0, len(data)))]
    elif cut == "garbage":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    elif cut == "bom":
        data = b"\xef\xbb\xbf" + data
    return data


@FUZZ
@given(body=json_bodies(), content_type=st.sampled_from(["application/json", "application/json; charset=utf-16"]))
def test_any_json_body_is_answered_or_refused(fuzz, body, content_type):
    response = fuzz.send("json body", "POST", "/api/ask", body=body, headers={"Content-Type": content_type})
    assert response.status_code in {200, 400, 404}, (body[:200], response.get_data(as_text=True)[:300])
    if response.status_code == 200:
        answer = response.get_json()
        questions = json.loads(body.decode(json.detect_encoding(body)))
        asked = [questions["question"]] if "question" in questions else questions["questions"]
        answers = [answer] if "question" in answer else answer["answers"]
        # The question comes back as data, exactly as asked: markup neither escaped nor dropped.
        assert [a["question"] for a in answers] == [q.strip() for q in asked]


@FUZZ
@given(
    body=st.one_of(st.binary(max_size=300), any_text.map(str.encode)),
    content_type=st.one_of(
        st.sampled_from(["application/json", "text/plain", "", "application/x-www-form-urlencoded"]), latin1_text
    ),
)
def test_any_bytes_with_any_content_type_are_refused_plainly(fuzz, body, content_type):
    response = fuzz.send("raw body", "POST", "/api/ask", body=body, headers={"Content-Type": content_type})
    assert response.status_code in {200, 400, 404, 415}


# --- Deep JSON, to every route: the nesting is refused before any parser recurses. -----------

SHAPES = {
    "lists": lambda n: "[" * n + "]" * n,
    "objects": lambda n: '{"a":' * n + "1" + "}" * n,
    "mixed": lambda n: '[{"a":' * n + "1" + "}]" * n,
    "in a question": lambda n: '{"question": "甲镇", "doc": ' + "[" * n + '"a"' + "]" * n + "}",
    "unclosed": lambda n: '{"question": ' + "[" * n,
    # A character whose UTF-16 code unit holds the byte of a quote (U+4122 is 22 41): counted on
    # the bytes, the nesting after it was hidden.
    "behind a quote byte": lambda n: '{"question": "\u4122", "doc": ' + "[" * n + '"a"' + "]" * n + "}",
}


def _routes() -> list[tuple[str, str]]:
    """Every route of the app, with the method that sends a body (POST where taken, else GET)."""
    app = create_app(Settings.load({}, store=Path("/nonexistent")), LiveIndex(Store(Path("/nonexistent")), None))
    routes = []
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "chuchu.css" if m[1] == "filename" else "x", rule.rule)
        routes.append(("POST" if "POST" in rule.methods else "GET", path))
    return sorted(routes)


ROUTES = _routes()
ENCODINGS = ["utf-8", "utf-16-le", "utf-16-be", "utf-32"]
# Per case of a parametrized test: the cases together make up the examples of one test.
FEW = settings(FUZZ, max_examples=max(3, EXAMPLES // 8))


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("shape", sorted(SHAPES))
@FEW
@given(depth=st.integers(17, 70_000))
def test_deep_json_is_refused_before_any_parser_recurses(fuzz, shape, encoding, depth):
    body = SHAPES[shape](depth).encode(encoding)
    response = fuzz.send("deep json", "POST", "/api/ask", body=body, headers={"Content-Type": "application/json"})
    if len(body) > MAX_BODY:
        assert response.status_code == 413
    else:
        assert response.status_code == 400 and "levels deep" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@FEW
@given(depth=st.integers(17, 70_000), shape=st.sampled_from(sorted(SHAPES)), token=st.booleans())
def test_deep_json_sent_to_any_other_route_changes_nothing(fuzz, method, path, depth, shape, token):
    body = SHAPES[shape](depth).encode()
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {TOKEN}"} if token else {})}
    response = fuzz.send("deep json", method, path, body=body, headers=headers)
    if len(body) > MAX_BODY:
        assert response.status_code == 413
    elif path != "/api/ask":  # a body the endpoint does not read changes nothing
        assert response.status_code == fuzz.send("deep json", method, path, headers=headers).status_code


def test_measuring_the_nesting_takes_linear_time(fuzz):
    """An unterminated string of escaped quotes: the old pattern tried it again from every quote,
    and 128 KB took 80 s of one worker (32 KB here, 5 s before; a few milliseconds now)."""
    body = ('{"question": "' + '\\"' * 16_000).encode()
    started = time.perf_counter()
    response = fuzz.send("deep json", "POST", "/api/ask", body=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and time.perf_counter() - started < 1.0


# --- Lengths that lie, bodies that cannot be read. -------------------------------------------


@FUZZ
@given(question=question_text, extra=st.integers(-200, 200), terminated=st.booleans())
def test_a_content_length_that_lies_is_never_a_500(fuzz, question, extra, terminated):
    body = json.dumps({"question": question}).encode()
    announced = max(0, len(body) + extra)
    response = fuzz.send(
        "content-length lies",
        "POST",
        "/api/ask",
        body=body,
        length=str(announced),
        terminated=terminated,
        headers={"Content-Type": "application/json"},
    )
    if announced > len(body):  # the body ended before its announced end: never answered as whole
        assert response.status_code == 400
    else:
        assert response.status_code in {200, 400, 404}


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", " 10", "99999999999999999999999"])
def test_a_content_length_that_is_not_a_number_is_never_a_500(fuzz, length):
    body = json.dumps({"question": "甲镇"}).encode()
    headers = {"Content-Type": "application/json"}
    response = fuzz.send("content-length lies", "POST", "/api/ask", body=body, length=length, headers=headers)
    assert response.status_code in {200, 400, 413}


class _Broken(io.RawIOBase):
    """A body stream that fails the way a server's reader does on a bad chunk or a dropped client."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise self.error


@pytest.mark.parametrize(
    ("error", "words"),
    [
        # werkzeug's reader makes these its own 400 (ClientDisconnected)
        (OSError("connection reset"), "could not understand"),
        (ValueError("bad chunk size"), "could not understand"),
        # gunicorn's InvalidChunkSize is neither: it was a 500
        (Exception("Invalid chunk size"), "could not be read"),
    ],
    ids=["os error", "value error", "server's own"],
)
def test_a_body_the_server_cannot_read_is_a_400(fuzz, error, words):
    response = fuzz.send(
        "unreadable body",
        "POST",
        "/api/ask",
        terminated=True,  # chunked, as gunicorn says of it
        headers={"Content-Type": "application/json"},
        environ={"wsgi.input": io.BufferedReader(_Broken(error))},
    )
    assert response.status_code == 400 and words in response.get_json()["error"]["message"]


# --- Headers and cookies: junk in every one a request may carry. ------------------------------

HEADERS = [
    "Accept-Language", "Cookie", "X-Request-ID", "Accept", "Origin", "Referer", "User-Agent", "X-Forwarded-For",
    "Accept-Encoding", "If-None-Match", "If-Modified-Since", "Authorization", "Content-Type", "Range", "If-Range",
    "Host", "Expect", "Transfer-Encoding", "X-Junk",
]  # fmt: skip
# Headers the app reads only to choose a language, an id, a cache answer, or not at all: junk in
# them must change nothing.
BENIGN = {"Accept-Language", "Cookie", "X-Request-ID", "Accept", "Origin", "Referer", "User-Agent"}
BENIGN |= {"X-Forwarded-For", "Accept-Encoding", "X-Junk"}
header_values = st.one_of(
    latin1_text,
    st.sampled_from(
        ["zh;q=abc, en;q=1e999", "*;q=2", ",,,;;;", "en-US;q=0.", "xx-YY-ZZ-123456789", "chuchu_lang=en"]
        + ["chuchu_lang=\xff\xfe", "chuchu_lang=../../etc", 'chuchu_lang="en', "=;=;a", "a" * 8000]
        + ["Bearer ", f"Bearer {TOKEN}x", "Basic Zm9vOmJhcg==", "bytes=0-0,-1", "bytes=99999-", "bytes=zz"]
        + ["application/json; charset=utf-16", "multipart/form-data; boundary=", "text/html", "chunked"]
        + ["x" * 300, "xn--zz", "[::1", "a:b:c", "\x00", "100-continue", "Thu, 01 Jan 1970 00:00:00 GMT"]
    ),
)
REQUESTS = [
    ("GET", "/", b""),
    ("GET", "/search?q=%E7%94%B2%E9%95%87%E4%B8%80%E5%AD%A3%E7%A8%BB", b""),
    ("GET", "/api/search?q=%E7%94%B2%E9%95%87", b""),
    ("POST", "/api/ask", json.dumps({"question": "甲镇一季稻"}).encode()),
    ("GET", "/docs/{doc}", b""),
    ("GET", "/static/chuchu.css", b""),
    ("GET", "/healthz", b""),
    ("GET", "/metrics", b""),
    ("GET", "/lang/en?next=/search", b""),
    ("POST", "/api/admin/reload", b""),
]


@FUZZ
@given(
    target=st.sampled_from(REQUESTS),
    headers=st.dictionaries(st.sampled_from(HEADERS), header_values, min_size=1, max_size=4),
)
def test_junk_headers_and_cookies_are_never_a_500(fuzz, target, headers):
    method, url, body = target
    path, _, query = url.format(doc=fuzz.docs[0]).partition("?")
    json_body = {"Content-Type": "application/json"} if body else {}
    sent = {**json_body, **headers}
    if "Cookie" in sent and "=" not in sent["Cookie"]:
        sent["Cookie"] = "chuchu_lang=" + sent["Cookie"]  # the language cookie, the one the app reads
    response = fuzz.send("headers", method, path, query, body=body, headers=sent)
    if set(headers) <= BENIGN:
        plain = fuzz.send("headers", method, path, query, body=body, headers=json_body)
        assert response.status_code == plain.status_code, headers
    sent_id = headers.get("X-Request-ID", "")
    if re.fullmatch(r"[A-Za-z0-9._:@/+=-]{1,128}", sent_id):
        assert response.headers["X-Request-ID"] == sent_id
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    if response.mimetype == "text/html" and response.status_code < 300:
        assert re.search(r'<html lang="(zh-Hans|en)">', response.get_data(as_text=True))


# --- Methods: any verb on any route. ----------------------------------------------------------


@FUZZ
@given(
    data=st.data(),
    method=st.one_of(
        st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND"]),
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ-_", min_size=1, max_size=12),
    ),
)
def test_any_method_on_any_route_is_never_a_500(fuzz, data, method):
    _, path = data.draw(st.sampled_from(ROUTES))
    response = fuzz.send("methods", method, path)
    if response.status_code == 405:
        assert response.headers["Allow"]


def test_invented_methods_do_not_grow_the_metrics(fuzz):
    for method in ("AAA", "AAB", "QWERTY"):
        assert fuzz.send("methods", method, "/api/search").status_code == 405
    labels = set(re.findall(r'method="([^"]*)"', fuzz.client.get("/metrics").get_data(as_text=True)))
    assert labels <= {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"}, labels


# --- Paths: traversal out of /docs/, /static/ and Swagger UI's files. -----------------------

SEGMENTS = [
    "..", ".", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "%252e%252e", "..%2f", "%2e%2e%2f", "%252e%252e%252f",
    "..%5c", "..\\", "%5c", "%2f", "", "%00", "...", "....//", "..;", "%c0%ae%c0%ae", "%e0%80%ae",
    "%uff0e%uff0e", "．．", "..%00", "~", "%ff",
]  # fmt: skip
PREFIXES = ["/static/", "/docs/", "/openapi/swagger/", "/", "/lang/", "/api/", "/static"]


@st.composite
def traversal_paths(draw: st.DrawFn, canary: Path) -> str:
    targets = [
        "etc/passwd", "/etc/passwd", "app.py", "service/app.py", "pyproject.toml", "tests/unit/test_fuzz.py",
        "canary.txt", str(canary), quote(str(canary), safe=""), "C:\\Windows\\win.ini", "file:///etc/passwd",
        "chuchu.css", "inject.txt", "CURRENT", "store/CURRENT",
    ]  # fmt: skip
    prefix = draw(st.sampled_from(PREFIXES))
    segments = draw(st.lists(st.sampled_from(SEGMENTS), max_size=8))
    separator = draw(st.sampled_from(["/", "%2f", "\\", "%5c", "%252f"]))
    return prefix + separator.join([*segments, draw(st.sampled_from(targets))])


def _served_files() -> dict[bytes, Path]:
    """Every file the service may send as it is: its static folder and Swagger UI's."""
    from flask_openapi3_swagger import __file__ as swagger

    folders = [Path(chuchu.service.__file__).parent / "static", Path(swagger).parent / "templates" / "swagger"]
    return {p.read_bytes(): p for folder in folders for p in folder.rglob("*") if p.is_file()}


@FUZZ
@given(data=st.data())
def test_no_path_reaches_a_file_outside_the_served_folders(fuzz, data):
    path = data.draw(traversal_paths(fuzz.canary))
    response = fuzz.send("traversal", "GET", path)
    body = response.get_data()
    text = body.decode("utf-8", "replace")
    assert not any(secret in text for secret in fuzz.secrets), (path, text[:300])
    if response.status_code == 200:
        decoded = unquote_to_bytes(path.encode()).decode("latin-1")
        # Only a file of the served folders as it is, or a page of ours (a real document, a
        # search box), answers 200.
        assert body in _served_files() or response.mimetype == "text/html", (path, decoded)
    else:
        assert response.status_code in {303, 400, 404, 405}, (path, response.status_code)


@pytest.mark.parametrize(
    "path",
    [
        "/static/../service/app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e/app.py",
        "/static/%2e%2e%2fapp.py",
        "/static/%252e%252e%252fapp.py",
        "/static/..\\app.py",
        "/static/..%5capp.py",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/chuchu.css%00.py",
        "/static/C:\\Windows\\win.ini",
        "/docs/../../etc/passwd",
        "/docs/..%2f..%2fetc%2fpasswd",
        "/docs/%252e%252e%252fcanary.txt",
        "/docs/..\\..\\canary.txt",
        "/docs//etc/passwd",
        "/docs/%00",
        "/docs/inject.txt",
        "/openapi/swagger/../../../app.py",
        "/openapi/swagger/%2e%2e%2f%2e%2e%2fapp.py",
    ],
)
def test_the_classic_traversals_are_404(fuzz, path):
    response = fuzz.send("traversal", "GET", path)
    assert response.status_code == 404, (path, response.status_code, response.headers.get("Location"))


def test_an_absolute_path_to_the_canary_is_404_however_it_is_written(fuzz):
    for written in (str(fuzz.canary), quote(str(fuzz.canary), safe=""), quote(quote(str(fuzz.canary), safe=""))):
        for prefix in ("/static/", "/docs/", "/openapi/swagger/"):
            assert fuzz.send("traversal", "GET", prefix + written).status_code == 404, prefix + written


# --- Markup: in the question and in the documents, inert in every page and kept in the JSON. --


@FUZZ
@given(question=question_text)
def test_markup_in_a_question_stays_text_in_every_page_and_the_json(fuzz, question):
    asked = question.strip()
    page = fuzz.send("markup", "GET", "/search", query=urlencode({"q": question}))
    if page.status_code == 200:
        html = page.get_data(as_text=True)
        # Shown, escaped, in the title, the box and the heading (check_response: nothing live).
        assert str(escape(asked)) in html
        for url in re.findall(r'class="open" href="([^"]+)"', html)[:2]:  # the answer box and the first hit
            path, _, query = url.replace("&amp;", "&").partition("#")[0].partition("?")
            assert fuzz.send("markup", "GET", path, query).status_code == 200
    else:
        assert page.status_code == 400  # blank, or over the length limit
    api = fuzz.send("markup", "GET", "/api/search", query=urlencode({"q": question}))
    if api.status_code == 200:
        assert api.mimetype == "application/json" and api.get_json()["question"] == asked
        for passage in api.get_json()["passages"]:
            assert passage["url"].startswith("/docs/") and passage["doc_id"] in fuzz.docs


def test_markup_in_a_document_is_data_in_the_json_and_text_in_the_pages(fuzz):
    asked = "乙县引进了多少家电子信息企业"
    answer = fuzz.send("markup", "GET", "/api/search", query=urlencode({"q": asked, "k": 5}))
    texts = "".join(p["text"] for p in answer.get_json()["passages"])
    # The JSON carries the document's characters as they are (the citation's offsets count them).
    assert "<script>alert(document.cookie)</script>" in answer.get_json()["passages"][0]["answer"]
    assert 'href="javascript:alert(1)"' in texts and "{{ 7*7 }}" in texts
    html = fuzz.send("markup", "GET", "/search", query=urlencode({"q": asked})).get_data(as_text=True)
    # The answer box quotes the sentence with its markup, as text; a template in it stays a template.
    box = re.search(r'<blockquote class="answer-text".*?</blockquote>', html, re.DOTALL)
    assert box and "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in box[0]
    assert "<script>alert" not in html and "{{ 7*7 }}" in html and "javascript:alert(1)" in html
    hit = next(p for p in answer.get_json()["passages"] if "script" in p["text"])
    path, _, query = hit["url"].partition("#")[0].partition("?")
    view = fuzz.send("markup", "GET", path, query)
    assert view.status_code == 200 and "&lt;script&gt;" in view.get_data(as_text=True)


# Numbers as a query string may write them: str.isdigit() takes some that int() refuses.
odd_numbers = st.one_of(
    st.integers().map(str), st.sampled_from(["²", "9" * 5000, "١٢", " 3 ", "-0", "+5", "1_000", "0x1f", "", "1e3"])
)
view_value = st.one_of(wrong_value, odd_numbers, st.lists(odd_numbers, max_size=4).map(",".join))


@FUZZ
@given(doc_id=st.one_of(hostile_text, any_text))
def test_any_document_id_is_a_document_or_a_404(fuzz, doc_id):
    # The 404 page names the id it did not find: escaped like everything else (check_response).
    response = fuzz.send("document view", "GET", "/docs/" + quote(doc_id, safe=""))
    assert response.status_code == (200 if doc_id in fuzz.docs else 404), doc_id


@FUZZ
@given(
    params=st.fixed_dictionaries(
        {}, optional={k: view_value for k in ["start", "end", "answer_start", "answer_end", "cited", "back", "q"]}
    ),
    which=st.integers(0, 1),
)
@example(params={"cited": "²"}, which=0)  # found: str.isdigit() took it, int() did not (a 500)
@example(params={"cited": "1," + "9" * 5000}, which=1)  # found: over int()'s 4,300 digits (a 500)
def test_the_document_view_takes_any_parameters(fuzz, params, which):
    response = fuzz.send("document view", "GET", f"/docs/{fuzz.docs[which]}", query=urlencode(params))
    assert response.status_code in {200, 400}, (params, response.get_data(as_text=True)[:300])
    if response.status_code == 200:
        back = re.findall(r'class="back" href="([^"]*)"', response.get_data(as_text=True))
        assert all(b.startswith("/search?") for b in back)


# Where a "next" may try to send the reader: a slash, something a browser drops or turns into a
# slash, a host.
elsewhere = st.lists(
    st.sampled_from(["/", "\\", "//", "\t", "\n", "\r", " ", "\x00", "%09", "%2f", "evil.example", "@", ":", "https:"]),
    max_size=6,
).map("".join)


@FUZZ
@given(
    code=st.one_of(st.sampled_from(["en", "zh"]), any_text),
    target=st.one_of(elsewhere, elsewhere.map(lambda s: s + "/search?q=x"), hostile_text, latin1_text),
)
@example(code="en", target="/\t/evil.example")  # found: redirected to //evil.example
@example(code="zh", target="/\r\n/evil.example")  # found: a newline in Location (a 500)
def test_the_language_switch_only_sends_the_reader_to_a_page_of_this_site(fuzz, code, target):
    response = fuzz.send("language switch", "GET", "/lang/" + quote(code, safe=""), query=urlencode({"next": target}))
    if code in ("en", "zh") and response.status_code == 303:
        location = response.headers["Location"]
        # What a browser does with it: tabs and newlines dropped, a backslash read as a slash.
        followed = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
        assert followed.startswith("/") and not followed.startswith("//"), (target, location)
    else:
        assert response.status_code in {400, 404}, (code, response.status_code)
