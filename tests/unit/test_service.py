"""The service over a small index made with the fake embedder: shapes, statuses, pages."""

import re

import pytest

from chuchu.index.live import LiveIndex
from chuchu.index.store import Store
from chuchu.service.app import create_app
from chuchu.service.settings import Settings

PASSAGE_KEYS = {
    "rank",
    "score",
    "text",
    "doc_id",
    "title",
    "source",
    "date",
    "year",
    "file",
    "paragraph",
    "start",
    "end",
    "heading",
    "kind",
    "pieces",
    "answer",
    "answer_start",
    "answer_end",
    "url",
    "also_in",
}


def _assert_error(response, status, *words):
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "message"}
    assert body["error"]["status"] == status
    for word in words:
        assert word in body["error"]["message"]


def test_search_answers_with_cited_passages(fake_client):
    response = fake_client.get("/api/search", query_string={"q": "甲镇种了多少亩一季稻", "k": 2})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {
        "question",
        "mode",
        "filter",
        "answerable",
        "confidence",
        "reason",
        "passages",
        "build",
        "took_ms",
    }
    assert body["mode"] == "hybrid"
    assert body["question"] == "甲镇种了多少亩一季稻"
    assert body["answerable"] is True and 0.5 <= body["confidence"] <= 1 and body["reason"] is None
    assert len(body["passages"]) == 2 and set(body["passages"][0]) == PASSAGE_KEYS
    first = body["passages"][0]
    assert first["rank"] == 1 and "12330亩" in first["text"]
    # The answering sentence, in file coordinates inside the passage, and marked in the link.
    assert first["start"] <= first["answer_start"] < first["answer_end"] <= first["end"]
    assert "12330亩" in first["answer"] and "桥梁" not in first["answer"]
    assert first["url"] == (
        f"/docs/{first['doc_id']}?start={first['start']}&end={first['end']}"
        f"&answer_start={first['answer_start']}&answer_end={first['answer_end']}#p1"
    )
    assert set(body["build"]) == {"id", "built_at"}


def test_a_question_the_documents_do_not_answer_says_so_and_why(fake_client):
    body = fake_client.get("/api/search", query_string={"q": "甲镇一季稻的产值是多少亿元?"}).get_json()
    assert body["answerable"] is False and body["confidence"] < 0.5
    assert "亿元" in body["reason"]
    assert body["passages"], "the nearest passages still come back, marked by answerable=false"
    question = {"q": "甲镇一季稻的产值是多少亿元?"}
    # The page says so first, in Chinese by default and in English to a browser that prefers it.
    page = fake_client.get("/search", query_string=question).get_data(as_text=True)
    assert "文档中没有找到答案" in page and "并未回答这个问题" in page and "亿元" in page
    english = fake_client.get("/search", query_string=question, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "The documents do not answer this" in english.get_data(as_text=True)


def test_ask_takes_a_json_body_and_answers_the_same(fake_client):
    get = fake_client.get("/api/search", query_string={"q": "乙县 电子信息", "k": 3}).get_json()
    post = fake_client.post("/api/ask", json={"question": "乙县 电子信息", "k": 3}).get_json()
    assert [p["text"] for p in get["passages"]] == [p["text"] for p in post["passages"]]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({}, ["question"]),
        ({"q": ""}, ["empty"]),
        ({"q": "   \u3000 "}, ["empty"]),
        ({"q": "问" * 1001}, ["1001", "1000"]),
        ({"q": "问题", "k": "0"}, ["1 to 50"]),
        ({"q": "问题", "k": "51"}, ["1 to 50"]),
        ({"q": "问题", "k": "five"}, ["1 to 50"]),
        ({"q": "问题", "mode": "fuzzy"}, ["hybrid, dense, lexical"]),
        ({"q": "问题", "explain": "maybe"}, ["true or false"]),
    ],
)
def test_bad_search_input_is_a_400_saying_what_is_allowed(fake_client, params, words):
    _assert_error(fake_client.get("/api/search", query_string=params), 400, *words)


@pytest.mark.parametrize(
    "body",
    [
        {"data": "not json", "content_type": "application/json"},
        {"json": ["a", "list"]},
        {"json": {"question": 42}},
        {"json": {"question": "问题", "k": True}},
        {"json": {"question": "问题", "k": 2.5}},
    ],
)
def test_a_body_that_is_not_a_question_object_is_a_400(fake_client, body):
    _assert_error(fake_client.post("/api/ask", **body), 400)


def test_a_body_that_is_not_json_is_a_415(fake_client):
    form = fake_client.post("/api/ask", data="question=x", content_type="application/x-www-form-urlencoded")
    _assert_error(form, 415, "application/json")


def test_unknown_document_and_route_are_404s(fake_client):
    assert fake_client.get("/docs/nope").status_code == 404
    _assert_error(fake_client.get("/api/nothing"), 404)
    _assert_error(fake_client.get("/api/ask"), 405)


def test_no_index_yet_is_a_503_saying_to_build(tmp_path, fake_embedder):
    app = create_app(Settings.load(store=tmp_path), LiveIndex(Store(tmp_path), lambda: fake_embedder))
    client = app.test_client()
    _assert_error(client.get("/api/search?q=问题"), 503, "chuchu build")
    _assert_error(client.get("/readyz"), 503, "chuchu build")
    assert client.get("/healthz").get_json() == {"status": "ok", "build": None}  # alive all the same
    page = client.get("/search?q=问题")
    assert page.status_code == 503 and "chuchu build" in page.get_data(as_text=True)


def test_healthz_names_the_build(fake_client, fake_store):
    body = fake_client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["build"]["id"] == fake_store.live_id()


def test_pages_render_results_and_the_cited_passage(fake_client):
    assert "<form" in fake_client.get("/").get_data(as_text=True)
    html = fake_client.get("/search?q=一季稻12330亩").get_data(as_text=True)
    assert "12330亩" in html and "/docs/a?start=" in html
    hit = fake_client.get("/api/search?q=一季稻12330亩&k=1").get_json()["passages"][0]
    doc = fake_client.get(hit["url"].split("#")[0]).get_data(as_text=True)
    assert 'class="passage cited" id="p1"' in doc
    # The answering sentence is marked, in the results (with the question's terms marked inside it)
    # and in the document view.
    at = html.index('<mark class="answer">')
    assert re.sub(r"<[^>]+>", "", html[at : html.index("</blockquote>", at)]).startswith(hit["answer"])
    assert f'<mark class="answer">{hit["answer"]}</mark>' in doc
    assert "文档中没有找到答案" not in html


def test_an_empty_page_search_asks_for_a_question(fake_client):
    response = fake_client.get("/search?q=")
    assert response.status_code == 400 and "请先输入问题" in response.get_data(as_text=True)
    english = fake_client.get("/search?q=", headers={"Accept-Language": "en"})
    assert english.status_code == 400 and "Type a question" in english.get_data(as_text=True)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_each_mode_answers_and_says_which_it_used(fake_client, mode):
    body = fake_client.get("/api/search", query_string={"q": "一季稻12330亩", "mode": mode}).get_json()
    assert body["mode"] == mode and "12330亩" in body["passages"][0]["text"]


def test_explain_gives_both_legs_matched_terms_and_timings(fake_client):
    body = fake_client.post("/api/ask", json={"question": "一季稻12330亩", "k": 2, "explain": True}).get_json()
    first = body["passages"][0]["explain"]
    assert set(first) == {"dense_score", "dense_rank", "lexical_score", "lexical_rank", "matched_terms", "fused_rank"}
    assert "12330亩" in first["matched_terms"] and "一季" in first["matched_terms"]
    assert first["fused_rank"] == 1 and first["lexical_score"] > 0
    assert set(body["timings_ms"]) == {"encode_ms", "dense_ms", "lexical_ms", "fusion_ms", "answer_ms"}
    assert set(body["signals"]) == {"supplied", "focus", "numbers", "coverage", "agreement"}
    plain = fake_client.get("/api/search", query_string={"q": "一季稻12330亩"}).get_json()
    assert "explain" not in plain["passages"][0] and "timings_ms" not in plain


def test_the_doc_filter_keeps_to_the_documents_named(fake_client):
    body = fake_client.get("/api/search", query_string={"q": "一季稻 电子信息", "k": 5, "doc": "b"}).get_json()
    assert body["passages"] and {p["doc_id"] for p in body["passages"]} == {"b"}
    assert body["filter"] == {"doc": ["b"], "date_from": None, "date_to": None}
    both = fake_client.post("/api/ask", json={"question": "一季稻 电子信息", "k": 5, "doc": ["a", "b"]}).get_json()
    assert {p["doc_id"] for p in both["passages"]} == {"a", "b"}


def test_a_date_range_no_document_falls_in_answers_no_passage_and_says_why(fake_client):
    body = fake_client.get(
        "/api/search", query_string={"q": "一季稻", "date_from": "1990", "date_to": "1990-06"}
    ).get_json()
    assert body["passages"] == [] and body["answerable"] is False
    assert "filter" in body["reason"] and body["filter"] == {
        "doc": None,
        "date_from": "1990-01-01",
        "date_to": "1990-06-30",
    }


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"q": "问题", "date_from": "yesterday"}, ["date_from", "YYYY-MM-DD"]),
        ({"q": "问题", "date_to": "2023-02-30"}, ["date_to"]),
    ],
)
def test_bad_filters_are_400s_saying_what_is_allowed(fake_client, params, words):
    _assert_error(fake_client.get("/api/search", query_string=params), 400, *words)


def test_an_unknown_document_in_the_filter_is_a_404_naming_the_known_ones(fake_client):
    _assert_error(fake_client.get("/api/search", query_string={"q": "问题", "doc": "nope"}), 404, "nope", "a, b")


def test_a_date_range_that_ends_before_it_starts_answers_no_passage_and_says_why(fake_client):
    # Not a 400: the OpenAPI document cannot say that one parameter must come before another.
    body = fake_client.get("/api/search", query_string={"q": "一季稻", "date_from": "2024", "date_to": "2023"})
    assert body.status_code == 200
    answer = body.get_json()
    assert answer["passages"] == [] and answer["answerable"] is False
    assert "2024-01-01 to 2023-12-31" in answer["reason"]


def test_the_page_offers_the_filters_and_keeps_them(fake_client):
    html = fake_client.get("/search", query_string={"q": "一季稻", "doc": "a", "date_from": "2020"}).get_data(
        as_text=True
    )
    assert '<option value="a" selected>' in html and 'name="date_from" value="2020-01-01"' in html
    assert '<details class="filters" open>' in html
