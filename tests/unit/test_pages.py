"""The web pages over a small index made with the fake embedder: states, safety, the document view, marking."""

import re
from dataclasses import replace

import pytest

from chuchu.corpus.errors import BadInput
from chuchu.index.live import LiveIndex
from chuchu.index.question.reading import read_question
from chuchu.index.store import Store
from chuchu.service.app import create_app
from chuchu.service.marking import asked_spans, mark, nearest_asked, term_spans
from chuchu.service.security import POLICY
from chuchu.service.settings import Settings

REPORT = (
    "芦溪县工作报告\n\n"
    "一、农业生产\n"
    "芦溪县今年种植一季稻12330亩，比去年增加了不少，农业生产稳中有进。\n"
    "田间收割的农民 张三 摄\n\n"
    "二、交通建设\n"
    "芦溪县新建了三座桥梁，方便了群众出行，道路交通条件明显改善。\n"
    "来源：芦溪县政府\n"
)
INJECTED = '<script>alert("doc")</script><img src=x onerror=alert(1)>乙县引进了电子信息企业二十家，产值增长。\n'


@pytest.fixture()
def client(tmp_path, fake_embedder):
    from chuchu.index.build import build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.txt").write_text(REPORT, encoding="utf-8")
    (corpus / "inject.txt").write_text(INJECTED, encoding="utf-8")
    store = Store(tmp_path / "store")
    build_index(corpus, store, fake_embedder)
    return create_app(Settings.load(store=store.root), LiveIndex(store, lambda: fake_embedder)).test_client()


def _pages(client):
    hit = client.get("/api/search", query_string={"q": "芦溪县种植一季稻多少亩", "k": 1}).get_json()["passages"][0]
    return {
        "home": client.get("/"),
        "results": client.get("/search", query_string={"q": "芦溪县种植一季稻多少亩"}),
        "document": client.get(hit["url"].split("#")[0]),
        "not found": client.get("/docs/nope"),
        "bad input": client.get("/search", query_string={"q": "一季稻", "date_from": "yesterday"}),
    }


def test_every_page_has_a_strict_policy_and_no_inline_script_or_style(client):
    for name, response in _pages(client).items():
        html = response.get_data(as_text=True)
        assert response.headers["Content-Security-Policy"] == POLICY, name
        assert "script-src 'self'" in POLICY and "unsafe-inline" not in POLICY
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), f"inline script on the {name} page"
        assert not re.search(r"<[^>]*\s(?:style|on[a-z]+)=", html), f"inline style or handler on the {name} page"


def test_the_question_and_the_document_text_are_escaped(client):
    question = '"><script>alert(1)</script>一季稻'
    html = client.get("/search", query_string={"q": question}).get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    results = client.get("/search", query_string={"q": "电子信息企业"}).get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;doc&#34;)" in results and "<img src=x" not in results
    doc = client.get("/docs/inject").get_data(as_text=True)
    assert "<script>alert" not in doc and "&lt;img src=x onerror=alert(1)&gt;" in doc


def test_a_direct_answer_comes_first_with_its_citation_and_the_figure_asked_for(client):
    html = client.get("/search", query_string={"q": "芦溪县今年种植一季稻多少亩"}).get_data(as_text=True)
    answer = html[html.index('<section class="answer"') : html.index("</section>")]
    assert '<strong class="asked">12330亩</strong>' in answer
    assert "《芦溪县工作报告》" in answer and "芦溪县政府" in answer
    assert "/docs/report?start=" in answer and "answer_start=" in answer
    assert html.index('<section class="answer"') < html.index('<ol class="hits">')
    # The copy-citation text: title, source, file, characters, link.
    citation = re.search(r'data-citation="([^"]+)"', answer)[1]
    assert citation.startswith("《芦溪县工作报告》，芦溪县政府") and "report.txt，字符 " in citation
    assert "http://localhost/docs/report?start=" in citation
    # Whoever sends the request names the host the link is on, unless the public address is set.
    forged = client.get("/search", query_string={"q": "芦溪县今年种植一季稻多少亩"}, headers={"Host": "evil.example"})
    assert "http://evil.example/docs/report?start=" in forged.get_data(as_text=True)


def test_citations_link_to_the_public_address_when_it_is_set(client, monkeypatch):
    settings = client.application.extensions["chuchu.settings"]
    public = replace(settings, public_url="https://example.org/chuchu/")
    monkeypatch.setitem(client.application.extensions, "chuchu.settings", public)
    for headers, root in (({"Host": "evil.example"}, ""), ({}, "/mounted")):
        html = client.get(
            "/search",
            query_string={"q": "芦溪县今年种植一季稻多少亩"},
            headers=headers,
            environ_base={"SCRIPT_NAME": root},
        ).get_data(as_text=True)
        citation = re.search(r'data-citation="([^"]+)"', html)[1]
        assert "https://example.org/chuchu/docs/report?start=" in citation and "evil.example" not in citation


@pytest.mark.parametrize(
    "url", ["example.org", "ftp://example.org", "https://", "https://example.org/?a=1", "https://e.org/#x"]
)
def test_a_public_address_that_is_not_one_is_refused(url):
    with pytest.raises(BadInput, match="CHUCHU_PUBLIC_URL"):
        Settings.load({"CHUCHU_PUBLIC_URL": url})


def test_only_a_passage_that_answers_has_its_sentence_marked(client):
    html = client.get("/search", query_string={"q": "芦溪县今年种植一季稻多少亩", "k": 3}).get_data(as_text=True)
    hits = html.split('<li class="hit')[1:]
    assert hits[0].startswith(' answers"') and '<mark class="answer">' in hits[0]
    assert all('<mark class="answer">' not in h for h in hits[1:])
    assert re.search(r'<mark class="term">[^<]*一季稻[^<]*</mark>', hits[0])


def test_a_filter_that_excludes_everything_says_so_and_offers_all_documents(client):
    html = client.get("/search", query_string={"q": "一季稻", "date_from": "1990", "date_to": "1990"}).get_data(
        as_text=True
    )
    assert "文档中没有找到答案" in html and "没有符合的文档" in html and "1990-01-01" in html
    assert 'href="/search?q=%E4%B8%80%E5%AD%A3%E7%A8%BB">改为搜索全部文档' in html
    assert '<ol class="hits">' not in html


def test_a_bad_filter_is_a_page_in_the_readers_language_with_the_details(client):
    response = client.get("/search", query_string={"q": "一季稻", "date_from": "yesterday"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "请求有误" in html and "date_from" in html
    assert 'value="一季稻"' in html, "the question stays in the box"


def test_no_index_yet_on_the_home_page_says_to_build(tmp_path, fake_embedder):
    app = create_app(Settings.load(store=tmp_path), LiveIndex(Store(tmp_path), lambda: fake_embedder))
    response = app.test_client().get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and "还没有索引" in html and "chuchu build" in html and "<form" in html


def test_the_home_page_offers_questions_the_build_answers(client):
    html = client.get("/").get_data(as_text=True)
    examples = re.findall(r'<li><a href="(/search\?q=[^"]+)" lang="zh-Hans">([^<]+)</a></li>', html)
    assert examples and all("多少" in q for _, q in examples)
    first = client.get(examples[0][0].replace("&amp;", "&")).get_data(as_text=True)
    assert '<section class="answer"' in first


def test_the_document_view_shows_headings_paragraphs_captions_and_the_cited_passage(client):
    hit = client.get("/api/search", query_string={"q": "芦溪县种植一季稻多少亩", "k": 1}).get_json()["passages"][0]
    html = client.get(hit["url"].split("#")[0] + "&back=/search?q%3Dx").get_data(as_text=True)
    assert '<h2 class="heading">一、农业生产</h2>' in html and '<h2 class="heading">二、交通建设</h2>' in html
    assert '<figure class="caption"><figcaption>' in html and "田间收割的农民 张三 摄" in html
    assert '<p class="credit">' in html
    assert f'class="passage cited" id="p{hit["url"].split("#p")[1]}"' in html
    assert f'<mark class="answer">{hit["answer"]}</mark>' in html
    assert 'class="back" href="/search?q=x"' in html
    # Only results pages are linked back to: anything else is dropped.
    other = client.get(hit["url"].split("#")[0] + "&back=javascript:alert(1)")
    assert 'class="back"' not in other.get_data(as_text=True)


def test_terms_are_found_in_traditional_and_full_width_text():
    # Overlapping bigrams are one word; words side by side stay two.
    assert term_spans("今年種植一季稻１２３３０畝", ["种植", "一季", "季稻", "12330亩"]) == [(2, 4), (4, 7), (7, 13)]
    text = "全市森林覆盖率达到68.2%，比上年提高0.5个百分点。"
    assert [text[a:b] for a, b in asked_spans(read_question("萍乡市的森林覆盖率是多少"), text)] == [
        "68.2%",
        "0.5个百分点",
    ]
    text = "芦溪县今年种植一季稻12330亩，招商引资2.5亿元。"
    asking = read_question("芦溪县今年种植一季稻多少亩")
    assert [text[a:b] for a, b in asked_spans(asking, text)] == ["12330亩"]
    marked = mark(text, (0, 16), term_spans(text, asking.content), asked_spans(asking, text))
    assert "".join(r.text for r in marked.answer) == text[:16] and marked.text == text
    assert [r.text for r in marked.answer if r.asked] == ["12330亩"]


def test_of_several_figures_the_one_in_the_clause_asked_about_is_emphasised():
    text = "今年,上埠镇完成一季稻种植12330亩、晚稻3802.87亩,同时以油茶种植为抓手。"
    asking = read_question("上埠镇今年种了多少亩一季稻")
    spans = asked_spans(asking, text)
    assert [text[a:b] for a, b in spans] == ["12330亩", "3802.87亩"]
    assert [text[a:b] for a, b in nearest_asked(asking, text, spans)] == ["12330亩"]
