"""The web page in a real Chromium: search, read the citation, open the highlighted passage."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration]

QUESTION = "上埠镇今年种了多少亩一季稻"


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_search_then_open_the_cited_passage(browser, base_url, tmp_path, javascript):
    context = browser.new_context(java_script_enabled=javascript, locale="zh-CN")
    page = context.new_page()
    page.goto(base_url + "/")
    page.fill("input[name=q]", QUESTION)
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/search?q=*")
    first = page.locator("li.hit").first
    assert "12330亩" in first.locator("blockquote").inner_text()
    assert "12330亩" in first.locator("mark.answer").inner_text(), "the answering sentence is marked"
    assert page.locator(".no-answer").count() == 0
    citation = first.locator(".cite a")
    assert citation.inner_text().strip()
    page.screenshot(path=str(tmp_path / "results.png"), full_page=True)

    citation.click()
    page.wait_for_url("**/docs/**")
    cited = page.locator(".passage.cited")
    assert cited.count() == 1
    assert "12330亩" in cited.inner_text()
    assert page.url.split("#")[1] == cited.get_attribute("id")
    # The highlight is visible, not only a class: its background is the marker colour.
    background = cited.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    assert cited.is_visible()
    box = cited.bounding_box()
    assert box is not None and 0 <= box["y"] < page.viewport_size["height"], "scrolled to the passage"
    answer = cited.locator("mark.answer")
    assert "12330亩" in answer.inner_text() and answer.is_visible()
    context.close()


def test_a_question_the_documents_do_not_answer_says_so_above_the_nearest_passages(browser, base_url):
    page = browser.new_page()
    page.goto(base_url + "/")
    page.fill("input[name=q]", "上栗县2022年花炮出口额具体是多少亿元?")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/search?q=*")
    notice = page.locator(".no-answer")
    assert notice.is_visible() and "No good answer" in notice.inner_text()
    # The notice comes first, and every passage below is flagged as not answering.
    assert notice.bounding_box()["y"] < page.locator("li.hit").first.bounding_box()["y"]
    hits = page.locator("li.hit")
    assert hits.count() > 0 and page.locator("li.hit .flag").count() == hits.count()
    page.close()


def test_an_empty_search_explains_itself(browser, base_url):
    page = browser.new_page()
    page.goto(base_url + "/search?q=")
    assert "Type a question" in page.inner_text("main")
    page.close()
