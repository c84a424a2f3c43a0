"""The real model on the real corpus: API, pages and CLI over a build in a temporary store."""

import json

import pytest

from chuchu.service.cli import main

pytestmark = pytest.mark.integration

QUESTION = "上埠镇今年种了多少亩一季稻"


def test_the_rice_question_finds_the_12330_mu_passage_first(client, built_store):
    body = client.get("/api/search", query_string={"q": QUESTION}).get_json()
    first = body["passages"][0]
    assert "12330亩" in first["text"]
    doc = built_store.live_path() / "documents.jsonl"
    texts = {row["file"]: row["text"] for row in map(json.loads, doc.read_text(encoding="utf-8").splitlines())}
    assert texts[first["file"]][first["start"] : first["end"]] == first["text"]
    # and the file on disk, not only the stored copy, has the same characters there
    from tests.conftest import CORPUS

    source = (CORPUS / first["file"]).read_text(encoding="utf-8")
    assert source[first["start"] : first["end"]] == first["text"]
    assert body["build"]["id"] == built_store.live_id()


def test_english_questions_reach_chinese_passages(client):
    body = client.post(
        "/api/ask",
        json={"question": "Which two township health centers in Yujiang have completed construction?", "k": 5},
    ).get_json()
    assert any("刘垦卫生院" in p["text"] for p in body["passages"])


def test_the_document_view_highlights_the_cited_passage(client):
    first = client.get("/api/search", query_string={"q": QUESTION, "k": 1}).get_json()["passages"][0]
    html = client.get(first["url"].split("#")[0]).get_data(as_text=True)
    anchor = first["url"].split("#")[1]
    assert f'class="passage cited" id="{anchor}"' in html
    assert "12330亩" in html


def test_cli_ask_prints_citations(built_store, capsys):
    assert main(["ask", QUESTION, "-k", "2", "--store", str(built_store.root)]) == 0
    out = capsys.readouterr().out
    assert "12330亩" in out and ".txt ¶" in out
    assert "   » " in out and "No good answer" not in out


def test_cli_ask_json_is_the_api_shape(built_store, capsys):
    assert main(["ask", QUESTION, "-k", "3", "--json", "--store", str(built_store.root)]) == 0
    body = json.loads(capsys.readouterr().out)
    assert len(body["passages"]) == 3 and "12330亩" in body["passages"][0]["text"]


def test_cli_eval_prints_the_table(built_store, capsys):
    from tests.conftest import DEV_QUESTIONS

    argv = ["eval", "--questions", str(DEV_QUESTIONS), "--json", "--compare", "--store", str(built_store.root)]
    assert main(argv) == 0
    tables = json.loads(capsys.readouterr().out)
    assert set(tables) == {"hybrid", "dense", "lexical", "abstention", "abstention_by_kind"}
    assert tables["abstention"]["unanswerable"] == 3 and tables["abstention"]["recall"] == 1.0
    kinds = tables["abstention_by_kind"]
    assert kinds["number"]["unanswerable"] == [2, 2] and kinds["money"]["unanswerable"] == [1, 1]
    assert {"overall", "fact", "number", "english", "unanswerable"} <= set(tables["hybrid"])
    assert tables["hybrid"]["overall"]["recall@5"] >= tables["dense"]["overall"]["recall@5"]
    assert tables["hybrid"]["unanswerable"]["abstention_accuracy"] == 1.0
    assert main(["eval", "--questions", str(DEV_QUESTIONS), "--store", str(built_store.root)]) == 0
    out = capsys.readouterr().out
    assert "hybrid R@1" in out and "abst" in out and "overall" in out


def test_cli_eval_calibrate_fits_the_weights_and_reports_them_held_out(built_store, capsys):
    from tests.conftest import DEV_ABSTAIN, DEV_QUESTIONS

    argv = [
        "eval",
        "--questions",
        str(DEV_QUESTIONS),
        str(DEV_ABSTAIN),
        "--calibrate",
        "--store",
        str(built_store.root),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "shipped weights, on these questions: abstained on " in out and "refitted, leave-one-out" in out
    assert "ROC AUC" in out and "refitted on all 54 questions: WEIGHTS = {'supplied'" in out


def test_cli_ask_says_when_the_documents_do_not_answer(built_store, capsys):
    assert main(["ask", "“余江大嫂”志愿服务队一共有多少名队员?", "--store", str(built_store.root)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("No good answer in the documents.") and "名" in out


def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys):
    assert main(["ask", "问题", "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chuchu: No index") and "chuchu build" in err
    assert main(["ask", "  ", "--store", str(tmp_path)]) == 2


def test_the_repeated_paragraph_of_the_pingxiang_report_is_returned_once(client):
    body = client.get("/api/search", query_string={"q": "萍乡政务服务只跑一次事项占比", "k": 10}).get_json()
    copies = [p for p in body["passages"] if "94.48%" in p["text"]]
    assert len(copies) == 1, "the two near-identical paragraphs come back as one hit"
    [other] = copies[0]["also_in"]
    assert other["file"] == copies[0]["file"] and other["start"] != copies[0]["start"]
