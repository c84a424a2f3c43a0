"""Safe and accessible: markup stays text, the policy holds, axe-core finds no serious or critical fault."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]

QUESTION = "上埠镇今年种了多少亩一季稻"
UNANSWERABLE = "上栗县2022年花炮出口额具体是多少亿元?"
ATTACK = '"><img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>上埠镇一季稻'


def _guarded(page) -> list[str]:
    """Dialogs and console errors of a page: an injection that ran would show in one of them."""
    seen: list[str] = []
    page.on("dialog", lambda d: (seen.append("dialog: " + d.message), d.dismiss()))
    page.on("console", lambda m: seen.append("console: " + m.text) if m.type == "error" else None)
    return seen


def test_an_injection_in_the_question_is_shown_as_text(new_context, base_url):
    page = new_context(locale="zh-CN").new_page()
    seen = _guarded(page)
    page.goto("/")
    page.fill("#q", ATTACK)
    page.press("#q", "Enter")
    expect(page.locator("li.hit").first).to_be_visible()
    expect(page.locator("#q")).to_have_value(ATTACK)
    expect(page.locator("h1")).to_contain_text("<script>window.__pwned=2</script>")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0 and seen == []
    page.goto("/search?q=" + ATTACK.replace("#", "%23"))  # the no-JS path renders it too
    assert page.evaluate("window.__pwned") is None and seen == []


def test_markup_inside_a_document_is_inert_text(new_context, injected_url):
    page = new_context(locale="zh-CN").new_page()
    seen = _guarded(page)
    page.goto(injected_url + "/search?q=花炮产业")
    # The answer box quotes the same sentence, markup and all.
    expect(page.locator("section.answer .answer-text")).to_contain_text('<script>window.__pwned = "script"</script>')
    expect(page.locator("li.hit").first).to_contain_text('<script>window.__pwned = "script"</script>')
    expect(page.locator("li.hit").first).to_contain_text("<img src=x onerror=")
    assert page.locator("main img, main script").count() == 0
    page.locator("li.hit .open").first.click()
    expect(page.locator(".passage.cited")).to_contain_text('<img src=x onerror="window.__pwned')
    assert page.evaluate("window.__pwned") is None
    assert page.locator("article img, article script").count() == 0 and seen == []


def test_the_policy_blocks_what_an_escape_would_let_through(new_context, base_url):
    """Were markup ever to get into the page, the policy would stop it: an inline script does not run."""
    page = new_context(locale="zh-CN").new_page()
    seen = _guarded(page)
    page.goto("/")
    page.evaluate(
        """() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1';
                   document.body.appendChild(s); }"""
    )
    assert page.evaluate("window.__inline") is None
    assert any("Content Security Policy" in line for line in seen)


PAGES = {
    "home": "/",
    "results": "/search?q=" + QUESTION,
    "not-answerable": "/search?q=" + UNANSWERABLE,
    "empty question": "/search?q=",
    "not found": "/docs/no-such-document",
}


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
@pytest.mark.parametrize("width", [390, 1280])
def test_axe_finds_no_serious_or_critical_violation(new_context, base_url, axe_violations, locale, width):
    # bypass_csp: axe-core is evaluated into the page by Playwright, which the page's policy forbids.
    page = new_context(locale=locale, bypass_csp=True, viewport={"width": width, "height": 800}).new_page()
    found = {}
    for name, path in PAGES.items():
        page.goto(path)
        found[name] = axe_violations(page)
    page.goto("/search?q=" + QUESTION)
    page.locator("section.answer a.open").click()
    page.wait_for_url("**/docs/**")
    found["document"] = axe_violations(page)
    assert all(not v for v in found.values()), found


def test_landmarks_labels_and_focus_order(new_context, base_url):
    page = new_context(locale="zh-CN").new_page()
    page.goto("/search?q=" + QUESTION)
    for role in ("banner", "main", "contentinfo", "search", "navigation"):
        expect(page.get_by_role(role).first).to_be_attached()
    expect(page.get_by_label("你的问题")).to_be_visible()
    # Tab order: the skip link first, then the brand, the language switch, the question.
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    expect(page.locator("a.skip")).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
