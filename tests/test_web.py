"""The real web chat: `healthqa serve` on a free local port, driven in headless Chromium by Playwright."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthqa import Settings, build

from conftest import CORPUS, DATA
from servers import ask, serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory, encoder):
    settings = Settings(index_dir=tmp_path_factory.mktemp("web-index"))
    build([CORPUS / "pharmapulse", CORPUS / "santenumerique", DATA / "injection.html"], settings=settings, encoder=encoder)
    with serving(settings.index_dir, tmp_path_factory.mktemp("web-log") / "serve.log") as url:
        yield url


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server)
    page.wait_for_selector("#hq-question textarea", timeout=60_000)
    yield page
    context.close()


def test_ask_cite_filter_and_screenshot(page, tmp_path: Path):
    assert "articles" in page.inner_text("#hq-stats") and "passages" in page.inner_text("#hq-stats")
    ask(page, "Quelles sont les priorités des laboratoires pharmaceutiques en santé numérique ?")
    page.wait_for_selector("#hq-chat a.hq-marker", timeout=60_000)
    page.wait_for_selector("#hq-sources .hq-card mark", timeout=60_000)
    card = page.locator("#hq-sources .hq-card").first
    link = card.locator("h4 a")
    assert link.get_attribute("href").startswith("https://")
    assert link.inner_text().strip()
    assert card.locator("mark").first.inner_text().strip()
    assert "Santé Numérique Hebdo" in card.inner_text() or "Pharma Pulse Daily" in card.inner_text()

    page.locator("#hq-chat a.hq-marker").first.click()
    page.wait_for_selector("#hq-sources .hq-card.hq-focus", timeout=5_000)

    page.click("#hq-filters button, #hq-filters .label-wrap")
    page.get_by_label("en", exact=True).check()
    ask(page, "How are digital therapeutics reimbursed?")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#hq-sources .hq-meta')].length > 0 && "
        "[...document.querySelectorAll('#hq-sources .hq-meta')].every(m => /: en$/.test(m.innerText.trim()))",
        timeout=60_000,
    )
    shot = tmp_path / "chat.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_article_markup_is_shown_as_text_and_never_runs(page):
    ask(page, "What did the Zephyrine booth software show when it failed, and what did the help page show?")
    page.wait_for_selector("#hq-sources .hq-card", timeout=60_000)
    sources = page.inner_text("#hq-sources")
    chat = page.inner_text("#hq-chat")
    assert "<script>" in sources + chat or "onerror" in sources + chat  # the markup is visible as text
    assert page.evaluate("() => window.__pwned") is None
    assert page.dialogs == []
    assert page.locator("#hq-chat img[src='x'], #hq-sources img, #hq-chat script, #hq-sources script").count() == 0
    assert page.locator("a[href^='javascript:']").count() == 0


def test_the_short_answer_comes_first_in_bold(page, tmp_path: Path):
    ask(page, "Combien de candidatures Hélios Santé a-t-il reçues pour sa quatrième promotion ?")
    page.wait_for_selector("#hq-chat strong.hq-short", timeout=60_000)
    short = page.locator("#hq-chat strong.hq-short").last
    assert short.inner_text().strip() == "187 candidatures"
    bubble = page.locator("#hq-chat .bot, #hq-chat [data-testid='bot']").last.inner_text()
    assert bubble.strip().startswith("187 candidatures") and bubble.count("[1]") >= 2  # the bold line, then the quote
    page.screenshot(path=str(tmp_path / "short.png"), full_page=True)
