"""Screenshots of each state at a phone's and a laptop's width, for a person to look at.

Written to ``test-output/screenshots/<state>-<width>.png``.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import WIDTHS

pytestmark = [pytest.mark.browser, pytest.mark.integration]

QUESTION = "上埠镇今年种了多少亩一季稻"
UNANSWERABLE = "上栗县2022年花炮出口额具体是多少亿元?"


@pytest.mark.parametrize("width", list(WIDTHS))
def test_screenshots_of_home_results_not_answerable_and_document(new_context, base_url, screenshots, width):
    page = new_context(locale="zh-CN", viewport=WIDTHS[width]).new_page()

    page.goto("/")
    expect(page.locator(".examples a").first).to_be_visible()
    page.screenshot(path=screenshots / f"home-{width}.png", full_page=True)

    page.fill("#q", QUESTION)
    page.press("#q", "Enter")
    expect(page.locator("section.answer")).to_be_visible()
    page.locator("#q").blur()
    page.screenshot(path=screenshots / f"results-{width}.png", full_page=True)

    page.goto("/search?q=" + UNANSWERABLE)
    expect(page.locator("section.no-answer")).to_be_visible()
    page.screenshot(path=screenshots / f"not-answerable-{width}.png", full_page=True)

    page.goto("/search?q=" + QUESTION)
    page.locator("section.answer a.open").click()
    expect(page.locator(".passage.cited mark.answer")).to_be_in_viewport()
    # What the reader sees on landing: the cited sentence with the text around it.
    page.screenshot(path=screenshots / f"document-{width}.png")

    for state in ("home", "results", "not-answerable", "document"):
        assert (screenshots / f"{state}-{width}.png").stat().st_size > 10_000
