"""The answers are written as plain dicts (service/answers.py): they must be exactly what the
response models of /openapi.json describe, field for field and in the models' order."""

import json
from types import SimpleNamespace

import pytest
from flask import url_for

from chuchu.service import schemas
from chuchu.service.answers import dump, passage_url


def _as_the_model_says(model, body):
    """The body, validated by the model (extra fields forbidden) and dumped again."""
    return dump(model.model_validate(body))


@pytest.mark.parametrize(
    "query",
    [
        {"q": "甲镇种了多少亩一季稻", "k": 2},
        {"q": "甲镇一季稻的产值是多少亿元?", "explain": "1"},
        {"q": "引进了多少家企业", "doc": "b", "date_from": "2020-01-01", "mode": "lexical"},
    ],
)
def test_an_answer_is_what_its_model_describes(fake_client, query):
    response = fake_client.get("/api/search", query_string=query)
    assert response.status_code == 200
    body = response.get_json()
    # orjson writes it (service/api.py): the very text jsonify would.
    assert response.data == json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    assert response.mimetype == "application/json"
    again = _as_the_model_says(schemas.Answer, body)
    assert again == body and list(again) == list(body)
    for passage, passage_again in zip(body["passages"], again["passages"]):
        assert list(passage) == list(passage_again)
        if "explain" in passage:
            assert list(passage["explain"]) == list(passage_again["explain"])


def test_a_batch_is_what_its_model_describes(fake_client):
    response = fake_client.post("/api/ask", json={"questions": ["甲镇", "乙县"], "explain": True})
    body = response.get_json()
    assert response.data == json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    again = _as_the_model_says(schemas.Answers, body)
    assert again == body and list(again) == list(body) and len(body["answers"]) == 2


@pytest.mark.parametrize("doc_id", ["001_5633edfce16ee183", "报告 2024/甲镇?#&=", "a%20b"])
def test_a_passage_link_is_what_url_for_makes(fake_client, doc_id):
    p = SimpleNamespace(doc_id=doc_id, start=10, end=20, number=3)
    with fake_client.application.test_request_context("/api/search", base_url="http://host/prefix"):
        made = url_for("pages.document", doc_id=doc_id, start=10, end=20, _anchor="p3")
        assert passage_url(p) == made
        marked = url_for(
            "pages.document", doc_id=doc_id, start=10, end=20, answer_start=12, answer_end=15, _anchor="p3"
        )
        assert passage_url(p, SimpleNamespace(start=12, end=15)) == marked
