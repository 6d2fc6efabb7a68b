"""Diagrams and charts readers can read (issue 17, item 5, and charts in dark mode): a
Graphviz diagram keeps its text at a readable size and scrolls in a focusable, labelled box;
a labelled heat map is drawn as large as its labels need; on a phone a chart's legend goes
below it and its axis titles are not cut off; charts follow the page's theme."""

from __future__ import annotations

import pytest
from conftest import build_fixture_site, serve
from support import FIXTURES

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """The URL of tests/fixtures/figures built: a wide diagram, a chart with a legend, a heat map."""
    folder = build_fixture_site(tmp_path_factory.mktemp("figures"), fixtures=FIXTURES / "figures")
    server, url = serve(folder)
    yield url + "01-figures.html"
    server.shutdown()


def opened(browser, url: str, viewport: dict, scheme: str = "light"):
    context = browser.new_context(viewport=viewport, color_scheme=scheme)
    context.set_default_timeout(90_000)
    page = context.new_page()
    page.goto(url)
    page.evaluate("document.fonts.ready")
    return page


def chart(page, label: str):
    """The chart labelled `label`, scrolled into view and drawn by Plotly."""
    holder = page.locator(f".output-figure:has(.output-label:text-is('{label}:'))")
    holder.scroll_into_view_if_needed()
    holder.locator(".js-plotly-plot .main-svg").first.wait_for()
    return holder


# the smallest font size on screen among the SVG <text> elements: each one's own size
# (Graphviz's font-size attribute, Plotly's style) times the scale the SVG is drawn at
SMALLEST_TEXT_PX = """(selector) => Math.min(...Array.from(document.querySelectorAll(selector)).map(
    (t) => parseFloat(t.getAttribute('font-size') || getComputedStyle(t).fontSize) * t.getScreenCTM().a))"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_a_wide_diagram_keeps_readable_text_and_scrolls_in_a_labelled_tab_stop(browser, figures, viewport):
    page = opened(browser, figures, viewport)
    try:
        box = page.locator(".output-dot .diagram").first
        page.wait_for_function("document.querySelector('.output-dot .diagram').tabIndex === 0")
        assert page.evaluate(SMALLEST_TEXT_PX, ".output-dot .diagram svg text") >= 11
        assert box.evaluate("(e) => e.scrollWidth > e.clientWidth")
        assert box.get_attribute("role") == "region"
        assert box.get_attribute("aria-label") == "Diagram of chain"
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        box.focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("document.querySelector('.output-dot .diagram').scrollLeft > 0")
    finally:
        page.context.close()


def test_a_small_diagram_still_fits_its_column_without_scrolling(browser, site):
    page = opened(browser, site[1] + "04-rich.html", DESKTOP)
    try:
        box = page.locator(".output-dot .diagram").first
        assert box.evaluate("(e) => e.scrollWidth <= e.clientWidth + 1")
        assert box.get_attribute("tabindex") is None
    finally:
        page.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_a_labelled_heat_map_is_drawn_large_enough_to_read_and_scrolls(browser, figures, viewport):
    page = opened(browser, figures, viewport)
    try:
        holder = chart(page, "bigrams")
        # each of the 27 columns at least 16 px wide: the squares' labels are legible
        width = holder.locator(".js-plotly-plot .xy .nsewdrag").first.evaluate("(e) => e.getBoundingClientRect().width")
        assert width / 27 >= 16
        assert page.evaluate(SMALLEST_TEXT_PX, ".output-figure .textpoint text") >= 8
        if holder.evaluate("(e) => e.scrollWidth > e.clientWidth + 1"):
            page.wait_for_function("document.querySelectorAll('.output-figure[tabindex=\"0\"]').length > 0")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    finally:
        page.context.close()


def test_on_a_phone_the_legend_goes_below_the_chart_and_the_axis_titles_fit(browser, figures):
    page = opened(browser, figures, PHONE)
    try:
        holder = chart(page, "losses")
        plot = holder.locator(".js-plotly-plot").first
        frame = plot.evaluate("(e) => e.getBoundingClientRect().toJSON()")
        area = holder.locator(".nsewdrag").first.evaluate("(e) => e.getBoundingClientRect().toJSON()")
        legend = holder.locator(".legend").first.evaluate("(e) => e.getBoundingClientRect().toJSON()")
        assert legend["top"] >= area["bottom"]  # below the plot, not beside it
        assert area["width"] >= 0.7 * frame["width"]  # the plot keeps most of the width
        for title in ("xtitle", "ytitle"):
            box = holder.locator(f".{title}").first.evaluate("(e) => e.getBoundingClientRect().toJSON()")
            assert frame["left"] <= box["left"] and box["right"] <= frame["right"], title
            assert frame["top"] <= box["top"] and box["bottom"] <= frame["bottom"], title
            assert box["bottom"] <= legend["top"] or title == "ytitle"
        # wide again (a phone turned): the legend goes back beside the plot
        page.set_viewport_size(DESKTOP)
        page.wait_for_function(
            """() => { const l = document.querySelector('.output-figure .legend').getBoundingClientRect();
                       const a = document.querySelector('.output-figure .nsewdrag').getBoundingClientRect();
                       return l.left >= a.right; }"""
        )
    finally:
        page.context.close()


PAPER = "(label) => getComputedStyle(document.querySelector(`.output-figure .main-svg`)).backgroundColor"
TICK_FILL = "() => document.querySelector('.output-figure .xtick text').style.fill"


def dark_ink(page) -> bool:
    """Whether the first chart's tick labels are light (drawn for a dark page)."""
    fill = page.evaluate(TICK_FILL)
    channels = [int(c) for c in fill[fill.index("(") + 1 : fill.index(")")].split(",")[:3]]
    return sum(channels) / 3 > 160


def test_charts_are_drawn_in_dark_colours_on_a_dark_page_and_follow_the_toggle(browser, figures):
    page = opened(browser, figures, DESKTOP, scheme="dark")
    try:
        chart(page, "losses")
        assert dark_ink(page)
        page.locator(".theme-toggle").click()  # to light
        page.wait_for_function("!(" + TICK_FILL + ")().startsWith('rgb(2')")
        assert not dark_ink(page)
        page.locator(".theme-toggle").click()  # dark again
        page.wait_for_function("(" + TICK_FILL + ")().startsWith('rgb(2')")
        assert dark_ink(page)
    finally:
        page.context.close()
