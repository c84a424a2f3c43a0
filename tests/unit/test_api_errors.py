"""One error body API-wide: every status the API answers with has the shape {"error": {status, code, message}}."""

import io
import logging

from chuchu.index.live import LiveIndex
from chuchu.index.store import Store
from chuchu.service.app import create_app
from chuchu.service.settings import Settings


def assert_error(response, status, code=None, *words):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "message"}
    assert body["error"]["status"] == status
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert body["error"]["message"].endswith((".", ")")), "a whole sentence"
    if code is not None:
        assert body["error"]["code"] == code
    for word in words:
        assert word in body["error"]["message"]
    assert response.headers.get("X-Request-ID")
    return body["error"]


def test_400_a_question_that_breaks_a_rule(fake_client):
    assert_error(fake_client.get("/api/search", query_string={"q": "问题", "k": 99}), 400, "bad_input", "1 to 50")


def test_403_the_admin_endpoint_without_its_token(fake_client):
    assert_error(fake_client.post("/api/admin/reload"), 403, "forbidden", "CHUCHU_ADMIN_TOKEN")


def test_404_a_path_that_does_not_exist(fake_client):
    assert_error(fake_client.get("/api/nothing"), 404, "not_found", "/openapi.json")


def test_405_a_method_the_endpoint_does_not_take_names_the_ones_it_does(fake_client):
    response = fake_client.delete("/api/search")
    error = assert_error(response, 405, "method_not_allowed", "DELETE", "GET")
    assert "GET" in response.headers["Allow"] and "/api/search" in error["message"]


def test_413_a_body_over_the_limit_is_refused_before_it_is_read(app_with):
    client = app_with(max_body_bytes=1024)
    body = '{"question": "' + "问" * 2000 + '"}'
    assert_error(client.post("/api/ask", data=body, content_type="application/json"), 413, "body_too_large", "1024")


def test_413_also_for_a_chunked_body_whose_length_is_not_announced(app_with):
    client = app_with(max_body_bytes=1024)
    response = client.post(
        "/api/ask",
        input_stream=io.BytesIO(b'{"question": "' + b"a" * 5000 + b'"}'),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_base={"wsgi.input_terminated": True},  # as gunicorn says of a chunked body
    )
    assert_error(response, 413)


def test_415_a_body_that_is_not_json(fake_client):
    response = fake_client.post("/api/ask", data="甲镇", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type", "application/json", "text/plain")


def test_429_over_the_rate_limit_says_when_to_come_back(app_with):
    client = app_with(rate_limit="2/minute")
    for _ in range(2):
        assert client.get("/api/search", query_string={"q": "甲镇"}).status_code == 200
    response = client.get("/api/search", query_string={"q": "甲镇"})
    assert_error(response, 429, "too_many_requests", "2 per 1 minute")
    assert int(response.headers["Retry-After"]) > 0


class _Broken:
    """A live index with a bug in it."""

    build_id = None

    def searcher(self):
        raise RuntimeError("a bug")


def test_500_an_unexpected_error_is_logged_and_said_plainly(tmp_path, caplog):
    client = create_app(Settings.load({}, store=tmp_path), _Broken()).test_client()
    with caplog.at_level(logging.ERROR, logger="chuchu.service.errors"):
        error = assert_error(client.get("/api/search", query_string={"q": "甲镇"}), 500, "internal_error")
    assert "a bug" not in error["message"] and "logged" in error["message"]
    assert any("RuntimeError: a bug" in (r.exc_text or "") for r in caplog.records)


def test_503_no_index_yet_says_to_build(tmp_path, fake_embedder):
    client = create_app(Settings.load({}, store=tmp_path), LiveIndex(Store(tmp_path), lambda: fake_embedder))
    assert_error(
        client.test_client().get("/api/search", query_string={"q": "甲镇"}), 503, "index_missing", "chuchu build"
    )


def test_503_a_batch_that_runs_out_of_its_time_budget(app_with):
    client = app_with(request_budget_seconds=0.0)
    response = client.post("/api/ask", json={"questions": ["甲镇", "乙县"]})
    assert_error(response, 503, "over_budget", "0 of 2 questions", "CHUCHU_REQUEST_BUDGET_SECONDS")


def test_the_web_pages_keep_their_error_page(fake_client):
    response = fake_client.get("/no/such/page")
    assert response.status_code == 404 and response.mimetype == "text/html"
