"""Chinese first: the interface follows the browser's language, and a switch that sticks."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]

QUESTION = "上埠镇今年种了多少亩一季稻"
UNANSWERABLE = "上栗县2022年花炮出口额具体是多少亿元?"


def test_a_chinese_browser_gets_chinese(new_context, base_url):
    page = new_context(locale="zh-CN").new_page()
    page.goto("/search?q=" + QUESTION)
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.locator("button[type=submit]")).to_have_text("搜索")
    expect(page.locator("section.answer h2")).to_have_text("答案")
    expect(page.locator("section.answer .open")).to_have_text("打开原文并定位到这句话")
    expect(page.locator("#passages-h")).to_have_text("相关段落")


def test_an_english_browser_gets_english_and_the_documents_stay_chinese(new_context, base_url):
    page = new_context(locale="en-US").new_page()
    page.goto("/search?q=" + QUESTION)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("button[type=submit]")).to_have_text("Search")
    expect(page.locator("section.answer h2")).to_have_text("Answer")
    # The quoted text keeps its own language, for screen readers and fonts.
    expect(page.locator("section.answer blockquote")).to_have_attribute("lang", "zh-Hans")
    expect(page.locator("section.answer .source")).to_contain_text("2025 report")
    page.goto("/search?q=" + UNANSWERABLE)
    notice = page.locator("section.no-answer")
    expect(notice.locator("h2")).to_have_text("The documents do not answer this")
    expect(notice).to_contain_text("The question asks for a figure in 亿元")
    expect(page.locator("li.hit .flag").first).to_have_text("Nearest passage: it does not answer the question")


def test_the_switch_keeps_the_page_and_sticks(new_context, base_url):
    page = new_context(locale="zh-CN").new_page()
    page.goto("/search?q=" + QUESTION)
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(r"/search\?q="))
    expect(page.locator("section.answer h2")).to_have_text("Answer")
    expect(page.locator("#q")).to_have_value(QUESTION)
    page.goto("/")
    expect(page.locator("button[type=submit]")).to_have_text("Search")  # remembered
    page.get_by_role("link", name="中文").click()
    expect(page.locator("button[type=submit]")).to_have_text("搜索")
