"""The header's search box (issue 24, item 5): over every essay, from file:// (no server, no
fetch), its index loaded only on use; the keyboard alone finds and opens a section; labelled
for screen readers; usable at 390 px and in the dark theme; hidden without JavaScript."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import ROOT
from test_reading import serious_violations

pytestmark = pytest.mark.browser

ONE = """\
# Counting

Bigrams and counting: we count pairs of letters.

<script>
pairs = 26 * 26
</script>

## Counting pairs

We count the pairs of letters in every name, and the counts make a table.
"""

TWO = """\
# Gradients

The chain rule, applied by hand.

## Backpropagation by hand

The zymurgy of gradients flows backwards, from the loss to every weight.

## Checking against a slope

A slope computed numerically checks the counts of each step.
"""

GUIDE = "# A guide\n\nNothing about the word in question, but counting again.\n"


@pytest.fixture(scope="module")
def search_site(tmp_path_factory) -> Path:
    """Three essays, built; only chapter 2 says "zymurgy"."""
    from builder.build import build
    from builder.config import Config

    root = tmp_path_factory.mktemp("search")
    essays = root / "essays"
    essays.mkdir()
    for name, text in (("01-counting.md", ONE), ("02-gradients.md", TWO), ("guide.md", GUIDE)):
        (essays / name).write_text(text, encoding="utf-8")
    result = build(Config(source=essays, output=root / "site", use_cache=False))
    assert not result.failures, result.failures
    if not (root / "site" / "_static" / "search.js").is_file():
        pytest.skip("runtime/js/dist/search.js is not built: run `npm run build`")
    return root / "site"


def open_file(browser, site: Path, name: str, **options):
    context = browser.new_context(**options)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto((site / name).as_uri())
    return page


def index_loaded(page) -> bool:
    return page.evaluate("!!window.essaysSearchIndex")


def test_slash_then_a_word_only_chapter_2_has_then_enter_lands_on_its_heading(browser, search_site):
    page = open_file(browser, search_site, "01-counting.html")
    assert page.url.startswith("file://")
    box = page.locator("#site-search-input")
    assert box.is_visible()
    assert not index_loaded(page)  # a page that is only read never loads the index
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "site-search-input"
    page.keyboard.type("zymurgy")
    first = page.locator("#site-search-results [role=option]").first
    first.wait_for()
    assert index_loaded(page)
    assert first.get_attribute("href") == "02-gradients.html#backpropagation-by-hand"
    assert first.locator(".search-heading").inner_text() == "Backpropagation by hand"
    assert first.locator("mark").first.inner_text().lower() == "zymurgy"  # the snippet shows where
    assert box.get_attribute("aria-expanded") == "true"
    assert page.locator(".site-search-status").inner_text().startswith("1 result")
    page.keyboard.press("Enter")
    page.wait_for_url("**/02-gradients.html#backpropagation-by-hand")
    assert page.evaluate("document.getElementById(location.hash.slice(1)).tagName") == "H2"
    page.context.close()


def test_arrows_choose_a_result_escape_closes_and_typing_in_a_cell_is_not_a_shortcut(browser, search_site):
    page = open_file(browser, search_site, "02-gradients.html")
    box = page.locator("#site-search-input")
    box.focus()
    page.keyboard.type("count")
    options = page.locator("#site-search-results [role=option]")
    options.nth(1).wait_for()
    count = options.count()
    assert count >= 3  # both chapters and the guide say it
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    chosen = box.get_attribute("aria-activedescendant")
    assert chosen == options.nth(1).get_attribute("id")
    assert options.nth(1).get_attribute("aria-selected") == "true"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # past the first: round to the last
    assert box.get_attribute("aria-activedescendant") == options.nth(count - 1).get_attribute("id")
    target = options.nth(count - 1).get_attribute("href")
    page.keyboard.press("Escape")
    assert box.get_attribute("aria-expanded") == "false"
    assert page.locator("#site-search-results").is_hidden()
    page.keyboard.press("ArrowDown")  # opens the list again, on the first result
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/{target}")
    page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_at_390_px_the_box_and_its_results_fit_the_screen_and_axe_finds_nothing_serious(browser, search_site, scheme):
    page = open_file(
        browser, search_site, "01-counting.html", viewport={"width": 390, "height": 844}, color_scheme=scheme
    )
    page.locator("#site-search-input").click()
    page.keyboard.type("counting")
    page.locator("#site-search-results [role=option]").first.wait_for()
    for selector in ("#site-search-input", "#site-search-results", ".theme-toggle"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
    colours = page.evaluate(
        """() => [getComputedStyle(document.getElementById('site-search-results')).backgroundColor,
                 getComputedStyle(document.body).backgroundColor]"""
    )
    assert colours[0] == colours[1]  # the list takes the page's background, dark or light
    if (ROOT / "node_modules" / "axe-core" / "axe.min.js").exists():
        assert serious_violations(page) == []
    page.context.close()


def test_without_javascript_there_is_no_box(browser, search_site):
    page = open_file(browser, search_site, "01-counting.html", java_script_enabled=False)
    assert page.locator(".site-search").count() == 1
    assert page.locator(".site-search").is_hidden()
    page.context.close()
