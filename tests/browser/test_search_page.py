"""The search page in a real Chromium: ask, read the direct answer, follow the citation to the highlighted sentence."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]

QUESTION = "上埠镇今年种了多少亩一季稻"
UNANSWERABLE = "上栗县2022年花炮出口额具体是多少亿元?"


def _ask(page, question: str) -> None:
    page.fill("#q", question)
    page.press("#q", "Enter")
    expect(page).to_have_url(re.compile(r"/search\?q="))


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_ask_read_the_direct_answer_and_land_on_the_cited_sentence(new_context, base_url, javascript):
    page = new_context(java_script_enabled=javascript, locale="zh-CN").new_page()
    response = page.goto("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    if javascript:
        page.evaluate("window.__stayed = true")
    _ask(page, QUESTION)

    answer = page.locator("section.answer")
    expect(answer).to_be_visible()
    expect(answer.locator("h2")).to_have_text("答案")
    # The figure asked for is emphasised in the answering sentence, and the citation names the document.
    expect(answer.locator("strong.asked").first).to_have_text("12330亩")
    expect(answer.locator(".doc-link")).to_contain_text("上埠镇")
    expect(answer.locator(".source")).to_contain_text("萍乡日报")
    # The answer comes before the passages, and the first passage is the one that answers.
    assert answer.bounding_box()["y"] < page.locator("li.hit").first.bounding_box()["y"]
    first = page.locator("li.hit").first
    expect(first.locator("mark.answer")).to_contain_text("12330亩")
    expect(first.locator(".badge")).to_have_text("回答了问题")
    expect(first.locator("mark.term").first).to_be_visible()
    expect(first.locator(".path")).not_to_be_empty()
    if javascript:
        assert page.evaluate("window.__stayed") is True, "the results came without a reload"

    answer.locator("a.open").click()
    expect(page).to_have_url(re.compile(r"/docs/.*answer_start=.*#p\d+$"))
    cited = page.locator(".passage.cited")
    expect(cited).to_have_count(1)
    assert page.url.split("#")[1] == cited.get_attribute("id")
    expect(cited).to_contain_text("12330亩")
    mark = cited.locator("mark.answer")
    expect(mark).to_be_visible()
    expect(mark).to_contain_text("12330亩")
    # Highlighted, not only classed, and scrolled into view with room for what comes before it.
    assert cited.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    box = mark.bounding_box()
    assert box is not None and 0 < box["y"] < page.viewport_size["height"], "scrolled to the sentence"
    # Headings are headings, and the way back leads to the same results.
    assert page.locator("article.document h2.heading").count() >= 3
    page.locator("a.back").click()
    expect(page).to_have_url(re.compile(r"/search\?q="))
    expect(page.locator("#q")).to_have_value(QUESTION)


def test_a_question_the_documents_do_not_answer_says_so_before_the_nearest_passages(new_context, base_url):
    page = new_context(locale="zh-CN").new_page()
    page.goto("/")
    _ask(page, UNANSWERABLE)
    notice = page.locator("section.no-answer")
    expect(notice).to_be_visible()
    expect(notice.locator("h2")).to_have_text("文档中没有找到答案")
    expect(notice).to_contain_text("亿元")  # the reason, in words: the figure asked for is not given
    expect(page.locator("section.answer")).to_have_count(0)
    hits = page.locator("li.hit")
    assert hits.count() > 0
    assert notice.bounding_box()["y"] < hits.first.bounding_box()["y"]
    expect(page.locator("li.hit .flag")).to_have_count(hits.count())
    expect(page.locator("li.hit mark.answer")).to_have_count(0)  # nothing looks like an answer
    expect(page.locator("#passages-h")).to_have_text("最接近的段落")


def test_the_question_is_in_the_url_and_back_and_forward_work(new_context, base_url):
    page = new_context(locale="zh-CN").new_page()
    page.goto("/")
    page.evaluate("window.__stayed = true")
    _ask(page, QUESTION)
    expect(page.locator("section.answer")).to_be_visible()
    _ask(page, UNANSWERABLE)
    expect(page.locator("section.no-answer")).to_be_visible()
    page.go_back()
    expect(page.locator("section.answer")).to_be_visible()
    expect(page.locator("#q")).to_have_value(QUESTION)
    page.go_back()
    expect(page).to_have_url(base_url + "/")
    expect(page.locator(".examples")).to_be_visible()
    page.go_forward()
    expect(page.locator("section.answer")).to_be_visible()
    assert page.evaluate("window.__stayed") is True, "all of it without a reload"
    # The URL alone gives the same results: it can be shared.
    other = new_context(locale="zh-CN").new_page()
    other.goto(page.url)
    expect(other.locator("section.answer strong.asked").first).to_have_text("12330亩")


def test_the_home_page_offers_example_questions_that_get_answers(new_context, base_url):
    page = new_context(locale="zh-CN").new_page()
    page.goto("/")
    examples = page.locator(".examples a")
    assert examples.count() >= 2
    expect(page.locator("#q")).to_be_focused()
    question = examples.first.inner_text()
    examples.first.click()
    expect(page.locator("#q")).to_have_value(question)
    expect(page.locator("section.answer")).to_be_visible()


def test_slash_focuses_the_search_box(new_context, base_url):
    page = new_context(locale="zh-CN").new_page()
    page.goto("/search?q=" + QUESTION)
    page.locator("section.answer h2").click()
    expect(page.locator("#q")).not_to_be_focused()
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    expect(page.locator(".tip")).to_be_hidden()  # the tip is on the home page
    page.goto("/")
    expect(page.locator(".tip")).to_be_visible()


def test_copy_citation_gives_a_ready_citation(new_context, base_url):
    context = new_context(locale="zh-CN")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    page.goto("/search?q=" + QUESTION)
    button = page.locator("section.answer button.copy")
    expect(button).to_be_visible()
    button.click()
    expect(button).to_have_text("已复制引用")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("《瓷韵千年") and "萍乡日报" in copied
    assert re.search(r"000_e0cba58f03a6750f\.txt，字符 \d+–\d+。http://127\.0\.0\.1:\d+/docs/000_", copied)
    # Without JavaScript, the same citation is there to select.
    plain = new_context(locale="zh-CN", java_script_enabled=False).new_page()
    plain.goto("/search?q=" + QUESTION)
    expect(plain.locator("button.copy").first).to_be_hidden()
    plain.locator("details.citation summary").first.click()
    expect(plain.locator("details.citation p").first).to_have_text(copied)


def test_keys_step_between_the_cited_passages_of_a_document(new_context, base_url):
    page = new_context(locale="zh-CN").new_page()
    page.goto("/search?q=" + QUESTION)
    page.locator("section.answer a.open").click()
    expect(page.locator(".passage.cited")).to_be_in_viewport()
    stops = page.locator("article.document").get_attribute("data-stops").split(",")
    assert len(stops) > 1, "the results cite several passages of this document"
    here = page.url.split("#p")[1]
    after = stops[(stops.index(here) + 1) % len(stops)]
    page.keyboard.press("n")
    expect(page.locator(f"#p{after}")).to_be_focused()
    assert page.url.endswith(f"#p{after}")
    expect(page.locator(".docnav .stops")).to_have_text(f"引用 {stops.index(after) + 1}/{len(stops)}")
    page.keyboard.press("p")
    expect(page.locator(f"#p{here}")).to_be_focused()
    # Without JavaScript, the same stops are links.
    plain = new_context(locale="zh-CN", java_script_enabled=False).new_page()
    plain.goto(page.url)
    plain.locator(".docnav a.next").click()
    assert plain.url.endswith(f"#p{after}")


def test_searching_then_a_service_error_each_say_what_is_happening(new_context, base_url):
    page = new_context(locale="zh-CN").new_page()
    page.goto("/")
    held = []
    page.route("**/search?*", lambda route: held.append(route))
    page.fill("#q", QUESTION)
    page.press("#q", "Enter")
    expect(page.locator("#status")).to_have_text("正在搜索文档…")
    expect(page.locator("main")).to_have_attribute("aria-busy", "true")
    held[0].abort()
    expect(page.locator("#status")).to_contain_text("无法连接到服务")
    expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")
    page.unroute("**/search?*")
    page.press("#q", "Enter")
    expect(page.locator("section.answer")).to_be_visible()
    expect(page.locator("#status")).to_have_text("结果已更新。")


def test_an_empty_question_a_filter_that_excludes_everything_and_no_index_each_explain(
    new_context, base_url, empty_url
):
    page = new_context(locale="zh-CN").new_page()
    page.goto("/search?q=")
    expect(page.locator("#results .error")).to_have_text(re.compile("请先输入问题"))
    page.goto("/search?q=一季稻&date_from=1990-01-01&date_to=1990-12-31")
    expect(page.locator("section.no-answer")).to_contain_text("没有符合的文档")
    page.get_by_role("link", name="改为搜索全部文档").click()
    expect(page.locator("li.hit").first).to_be_visible()
    page.goto(empty_url + "/")
    expect(page.locator(".no-index")).to_contain_text("chuchu build")
    page.goto(empty_url + "/search?q=一季稻")
    expect(page.locator(".error-state h1")).to_have_text("还没有索引")
    page.goto(base_url + "/docs/no-such-document")
    expect(page.locator(".error-state h1")).to_have_text("未找到")
