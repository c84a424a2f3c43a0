"""The limits of one request: body size and nesting, question length, k, batch size, time budget,
rate per client, and CORS (off unless origins are set)."""

import json

import pytest

from chuchu.service.limits import json_depth
from tests.unit.test_api_errors import assert_error


def nested(depth: int) -> str:
    """A question object whose doc list sits `depth` levels deep."""
    return '{"question": "甲镇", "doc": ' + "[" * (depth - 1) + '"a"' + "]" * (depth - 1) + "}"


@pytest.mark.parametrize("depth", [100, 5_000, 60_000])
def test_a_deeply_nested_body_is_a_400_never_a_500(fake_client, depth):
    response = fake_client.post("/api/ask", data="[" * depth + "]" * depth, content_type="application/json")
    assert_error(response, 400, "bad_input", f"{depth} levels deep", "at most 16")


def test_a_body_nested_deeper_still_is_over_the_size_limit_first(fake_client):
    response = fake_client.post("/api/ask", data="{" * 100_000 + "}" * 100_000, content_type="application/json")
    assert_error(response, 413, "body_too_large")


def test_nesting_is_counted_outside_strings_and_up_to_the_limit(app_with):
    client = app_with(max_json_depth=3)
    assert json_depth(b'{"a": "[[[[{{{{", "b": [1, {"c": [2]}]}') == 4
    assert json_depth(b'"\\"[[[["') == 0
    assert_error(client.post("/api/ask", data=nested(4), content_type="application/json"), 400, None, "4 levels")
    # Three levels pass the nesting check; the list of lists then fails the doc check, not this one.
    response = client.post("/api/ask", data=nested(3), content_type="application/json")
    assert_error(response, 400, "bad_input", "doc must be")


def test_the_body_limit_is_a_setting(app_with):
    client = app_with(max_body_bytes=200)
    body = json.dumps({"question": "甲" * 60}, ensure_ascii=False).encode()  # about 200 bytes
    assert len(body) < 200 and client.post("/api/ask", data=body, content_type="application/json").status_code == 200
    longer = json.dumps({"question": "甲" * 70}, ensure_ascii=False).encode()
    assert_error(client.post("/api/ask", data=longer, content_type="application/json"), 413, None, str(len(longer)))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("", ["empty"]),
        ("{", ["not valid JSON"]),
        ('"a string"', ["JSON object"]),
        ('{"question": "\\ud800"}', ["surrogate"]),
        ('{"question": "甲镇", "qestion": "typo"}', ["qestion", "/openapi.json"]),
        ('{"questions": "甲镇"}', ["questions must be a list of 1 to 16"]),
        ('{"question": "甲镇", "explain": "yes"}', ["explain must be true or false"]),
        ('{"question": "甲镇", "k": "5"}', ["k must be a whole number"]),
    ],
)
def test_a_body_that_does_not_fit_says_what_is_wrong(fake_client, data, words):
    assert_error(fake_client.post("/api/ask", data=data, content_type="application/json"), 400, "bad_input", *words)


def test_the_question_length_and_k_range_follow_the_settings(app_with):
    client = app_with(max_question_chars=10, max_k=3)
    assert client.get("/api/search", query_string={"q": "甲" * 10, "k": 3}).status_code == 200
    assert_error(client.get("/api/search", query_string={"q": "甲" * 11}), 400, None, "11 characters", "at most 10")
    assert_error(client.get("/api/search", query_string={"q": "甲镇", "k": 4}), 400, None, "from 1 to 3")
    spec = client.get("/openapi.json").get_json()
    q = next(p for p in spec["paths"]["/api/search"]["get"]["parameters"] if p["name"] == "q")
    k = next(p for p in spec["paths"]["/api/search"]["get"]["parameters"] if p["name"] == "k")
    assert q["schema"]["maxLength"] == 10 and k["schema"]["maximum"] == 3  # the document shows the limits


def test_a_json_number_with_no_fraction_is_a_whole_number(fake_client):
    assert len(fake_client.post("/api/ask", json={"question": "甲镇", "k": 2.0}).get_json()["passages"]) == 2


def test_the_time_budget_stops_a_batch_between_questions(app_with):
    assert (
        app_with(request_budget_seconds=30.0).post("/api/ask", json={"questions": ["甲镇", "乙县"]}).status_code == 200
    )
    response = app_with(request_budget_seconds=0.0).post("/api/ask", json={"questions": ["甲镇", "乙县"]})
    assert_error(response, 503, "over_budget")


def test_no_rate_limit_by_default(fake_client):
    assert all(fake_client.get("/api/search", query_string={"q": "甲镇"}).status_code == 200 for _ in range(30))


def test_the_rate_limit_counts_each_question_of_a_batch_and_spares_the_probes(app_with):
    client = app_with(rate_limit="3/minute")
    response = client.post("/api/ask", json={"questions": ["甲镇", "乙县"]})
    assert response.status_code == 200 and response.headers["X-RateLimit-Remaining"] == "1"
    assert client.get("/api/search", query_string={"q": "甲镇"}).status_code == 200
    assert_error(client.get("/api/search", query_string={"q": "甲镇"}), 429)
    assert client.get("/search", query_string={"q": "甲镇"}).status_code == 429  # the page asks questions too
    assert all(client.get(path).status_code == 200 for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"))


def test_cors_is_off_by_default(fake_client):
    response = fake_client.get(
        "/api/search", query_string={"q": "甲镇"}, headers={"Origin": "https://elsewhere.example"}
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_allows_the_origins_set_and_no_other(app_with):
    client = app_with(cors_origins="https://a.example, https://b.example")
    allowed = client.get("/api/search", query_string={"q": "甲镇"}, headers={"Origin": "https://b.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://b.example"
    assert "X-Request-ID" in allowed.headers["Access-Control-Expose-Headers"]
    preflight = client.options(
        "/api/ask", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://a.example"
    other = client.get("/api/search", query_string={"q": "甲镇"}, headers={"Origin": "https://c.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
