"""POST /api/ask with {"questions": [...]}: each answer as the single question's, all from one build."""

from chuchu.index.live import LiveIndex
from chuchu.service.app import create_app
from chuchu.service.settings import Settings
from tests.unit.test_api_errors import assert_error

QUESTIONS = ["甲镇种了多少亩一季稻", "乙县引进了多少家电子信息企业", "甲镇一季稻的产值是多少亿元?"]


def _comparable(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "took_ms"}


def test_each_answer_of_a_batch_is_the_single_questions_answer(fake_client):
    response = fake_client.post("/api/ask", json={"questions": QUESTIONS, "k": 2, "explain": True})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"answers", "build", "took_ms"}
    assert [a["question"] for a in body["answers"]] == QUESTIONS
    for question, batched in zip(QUESTIONS, body["answers"]):
        alone = fake_client.post("/api/ask", json={"question": question, "k": 2, "explain": True}).get_json()
        batched.pop("timings_ms"), alone.pop("timings_ms")
        assert _comparable(batched) == _comparable(alone)
    assert {a["build"]["id"] for a in body["answers"]} == {body["build"]["id"]}
    assert [a["answerable"] for a in body["answers"]] == [True, True, False]


def test_the_options_apply_to_every_question(fake_client):
    body = fake_client.post("/api/ask", json={"questions": QUESTIONS[:2], "k": 1, "doc": "b"}).get_json()
    assert all(len(a["passages"]) == 1 and a["passages"][0]["doc_id"] == "b" for a in body["answers"])
    assert all(a["filter"]["doc"] == ["b"] for a in body["answers"])


def test_a_batch_holds_1_to_max_batch_questions(fake_store, fake_embedder):
    settings = Settings.load({}, store=fake_store.root, max_batch=2)
    client = create_app(settings, LiveIndex(fake_store, lambda: fake_embedder)).test_client()
    assert client.post("/api/ask", json={"questions": QUESTIONS[:2]}).status_code == 200
    assert_error(client.post("/api/ask", json={"questions": QUESTIONS}), 400, "bad_input", "1 to 2", "3 of them")
    assert_error(client.post("/api/ask", json={"questions": []}), 400, "bad_input", "0 of them")


def test_a_bad_question_in_a_batch_is_named_by_its_place(fake_client):
    response = fake_client.post("/api/ask", json={"questions": ["甲镇", "  "]})
    assert_error(response, 400, "bad_input", "questions[1]", "empty")


def test_one_question_or_several_not_both(fake_client):
    response = fake_client.post("/api/ask", json={"question": "甲镇", "questions": ["乙县"]})
    assert_error(response, 400, "bad_input", "not both")
