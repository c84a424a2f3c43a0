"""The OpenAPI document and its docs page."""

ERROR = {"$ref": "#/components/schemas/Error"}


def test_the_document_is_openapi_3_1_with_every_error_in_the_one_shape(fake_client):
    spec = fake_client.get("/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0" and spec["info"]["title"] == "chuchu"
    assert "404" in spec["info"]["description"] and "405" in spec["info"]["description"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "200" in responses and "500" in responses, (method, path)
            for status, response in responses.items():
                assert response["description"], (method, path, status)
                assert "X-Request-ID" in response["headers"]
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == ERROR, (method, path, status)
            assert any(p["name"] == "X-Request-ID" and p["in"] == "header" for p in operation["parameters"])
    ask = spec["paths"]["/api/ask"]["post"]
    assert set(ask["responses"]) == {"200", "400", "404", "413", "415", "429", "500", "503"}
    assert ask["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AskBody"}
    assert spec["components"]["schemas"]["AskBody"]["oneOf"] == [
        {"$ref": "#/components/schemas/AskOne"},
        {"$ref": "#/components/schemas/AskMany"},
    ]
    search = {p["name"]: p for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert search["q"]["required"] and search["q"]["schema"]["maxLength"] == 1000
    assert search["mode"]["schema"]["enum"] == ["hybrid", "dense", "lexical"]
    assert "1 to 50" in search["k"]["description"]
    assert spec["paths"]["/api/admin/reload"]["post"]["security"] == [{"admin": []}]
    assert spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"] == {
        "text/plain": {"schema": {"type": "string"}}
    }


def test_the_documented_answer_is_the_answer_given(fake_client):
    """The response models build the answers, and forbid fields they do not declare."""
    from chuchu.service import schemas

    answer = fake_client.get("/api/search", query_string={"q": "甲镇", "explain": "1"}).get_json()
    schemas.Answer.model_validate(answer)
    batch = fake_client.post("/api/ask", json={"questions": ["甲镇", "乙县"]}).get_json()
    schemas.AskResult.model_validate(batch)


def test_the_docs_page_is_served_from_the_package(fake_client):
    assert fake_client.get("/openapi").headers["Location"].endswith("/openapi/swagger")
    page = fake_client.get("/openapi/swagger")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "/openapi.json" in html and "https://" not in html.split("<body>")[0]
    # Swagger UI needs its inline script; the policy still allows nothing from elsewhere.
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-inline'" in policy and "http" not in policy
    for asset in ("js/swagger-ui-bundle.js", "css/swagger-ui.css"):
        with fake_client.get(f"/openapi/swagger/{asset}") as response:  # a file: closed when done
            assert response.status_code == 200


def test_the_query_model_makes_its_plain_schema_once_and_the_spec_still_gets_its_own():
    from pydantic import BaseModel

    from chuchu.service.queries import Limits, request_models
    from chuchu.service.settings import Settings

    search = request_models(Limits.of(Settings())).search
    plain = search.model_json_schema()
    assert plain is search.model_json_schema(), "asked again, the same schema, not made anew"
    assert plain == BaseModel.model_json_schema.__func__(search)  # what pydantic itself makes
    with_refs = search.model_json_schema(ref_template="#/components/schemas/{model}")
    assert with_refs is not plain and set(with_refs["properties"]) == set(plain["properties"])


def test_a_question_is_blank_exactly_when_the_specs_pattern_says_so():
    import re

    import pytest
    from pydantic import ValidationError

    from chuchu.service.queries import Limits, request_models
    from chuchu.service.settings import Settings

    search = request_models(Limits.of(Settings())).search
    assert search.model_json_schema()["properties"]["q"]["pattern"] == r"\S"
    # U+0085 and U+001C are spaces to Python's strip() but not to the spec's \s (ECMAScript):
    # the spec lets them through, so the service takes them as a question too.
    for text in ("\x85", "\x1c"):
        assert search.model_validate({"q": text}).q == text
    for blank in (" ", "\u3000\t", "\ufeff\n", "\u2028"):
        assert not re.search(r"[^\t\n\v\f\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]", blank)
        with pytest.raises(ValidationError, match="The question is empty"):
            search.model_validate({"q": blank})
