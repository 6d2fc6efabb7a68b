"""What reading the real chapters turned up (issue 17): no blank band under a title on a
phone, whatever width the title happens to fill; a wide diagram printed whole; the
iterations box in the dark theme's colours; task lists' checkboxes named; plots side by side
that keep their width on a phone."""

from __future__ import annotations

import pytest
from conftest import build_fixture_site, serve
from support import FIXTURES
from test_reading import AXE, serious_violations

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def reading(tmp_path_factory):
    """The URL of tests/fixtures/reading built: two chapters with sections and math, a guide."""
    folder = build_fixture_site(tmp_path_factory.mktemp("reading-layout"), fixtures=FIXTURES / "reading")
    server, url = serve(folder)
    yield url
    server.shutdown()


# From the bottom of the title's visible words (the "#" link after them is invisible until
# hovered or focused, so a line holding only it looks blank) to the top of the next element
# a reader sees.
TITLE_GAP = """() => {
    const h1 = document.querySelector("article h1");
    const words = document.createRange();
    words.setStartBefore(h1.firstChild);
    const anchor = h1.querySelector(".header-anchor");
    if (anchor) words.setEndBefore(anchor); else words.setEndAfter(h1.lastChild);
    let next = h1.nextElementSibling;
    while (next && !next.getClientRects().length) next = next.nextElementSibling;
    return next.getBoundingClientRect().top - words.getBoundingClientRect().bottom;
}"""


def test_on_a_phone_no_blank_band_separates_a_title_from_the_first_paragraph(browser, reading):
    # a title's "#" link used to wrap alone onto a line whenever the title's words just
    # filled the width: every width a phone may have, so the test meets that case whatever
    # the font
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(reading + "01-first.html")
        page.evaluate("document.fonts.ready")
        gaps = {}
        for width in range(320, 432, 4):
            page.set_viewport_size({"width": width, "height": 844})
            gaps[width] = page.evaluate(TITLE_GAP)
        assert max(gaps.values()) < 48, gaps
        # the link is still there, after the last word, for those who hover or tab to it
        page.set_viewport_size({"width": 390, "height": 844})
        anchor = page.locator("article h1 .header-anchor")
        anchor.focus()
        assert page.evaluate("getComputedStyle(document.activeElement).opacity") != "0"
    finally:
        context.close()


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """The URL of tests/fixtures/figures built: a wide diagram among its outputs."""
    folder = build_fixture_site(tmp_path_factory.mktemp("figures-print"), fixtures=FIXTURES / "figures")
    server, url = serve(folder)
    yield url + "01-figures.html"
    server.shutdown()


def test_a_printed_wide_diagram_shrinks_to_the_page_rather_than_lose_its_right_side(browser, figures):
    context = browser.new_context(viewport={"width": 794, "height": 1123})  # an A4 page's width
    try:
        page = context.new_page()
        page.goto(figures)
        box = page.locator(".output-dot .diagram").first
        page.wait_for_function("document.querySelector('.output-dot .diagram').tabIndex === 0")  # it scrolls
        page.emulate_media(media="print")
        assert box.evaluate("(e) => e.scrollWidth <= e.clientWidth + 1")
        svg = box.locator("svg").evaluate("(s) => s.getBoundingClientRect().right")
        assert svg <= box.evaluate("(e) => e.getBoundingClientRect().right") + 1
        page.emulate_media(media="screen")  # and on screen it scrolls again, its text readable
        assert box.evaluate("(e) => e.scrollWidth > e.clientWidth")
    finally:
        context.close()


def test_in_the_dark_theme_the_iterations_box_takes_the_page_colours(browser, site):
    context = browser.new_context(color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(site[1] + "01-page.html")
        box = page.locator(".iterations input").first
        box.wait_for()
        colours = box.evaluate("(e) => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]")
        page_colours = page.evaluate(
            "[getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]"
        )
        assert colours == page_colours
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_task_list_s_checkboxes_are_named_so_axe_finds_nothing_serious(browser, tmp_path, scheme):
    # the guide's task list was axe-core's one critical finding over the whole site (`label`)
    if not AXE.exists():
        pytest.skip("node_modules/axe-core is missing: run `npm ci`")
    server, url = serve(build_fixture_site(tmp_path, fixtures=FIXTURES / "audit"))
    context = browser.new_context(color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(url + "01-tasks.html")
        assert page.get_by_role("checkbox", name="Count the bigrams").is_checked()
        assert not page.get_by_role("checkbox", name="Train the network").is_checked()
        assert serious_violations(page) == []
    finally:
        context.close()
        server.shutdown()


# each plot's drawing area: the rectangle Plotly lays over each subplot for dragging
PLOT_WIDTHS = """() => Array.from(document.querySelectorAll('.output-figure .draglayer .nsewdrag'))
    .map((r) => r.getBoundingClientRect().width)"""


def test_on_a_phone_plots_side_by_side_keep_their_width_and_scroll(browser, tmp_path):
    server, url = serve(build_fixture_site(tmp_path, fixtures=FIXTURES / "audit"))
    try:
        for viewport, phone in (({"width": 390, "height": 844}, True), ({"width": 1280, "height": 900}, False)):
            context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
            page = context.new_page()
            page.goto(url + "02-panels.html")
            holder = page.locator(".output-figure")
            holder.locator(".js-plotly-plot .main-svg").first.wait_for()
            widths = page.evaluate(PLOT_WIDTHS)
            assert len(widths) == 3 and min(widths) >= 140, widths  # about 90 px each before
            wide = holder.evaluate("(e) => e.scrollWidth > e.clientWidth + 1")
            assert wide == phone  # a desktop column holds them whole
            if phone:  # the legend went under the plots, and the box is a tab stop that scrolls
                page.wait_for_function("document.querySelector('.output-figure').tabIndex === 0")
                legend = page.locator(".output-figure .legend").bounding_box()
                plots = page.locator(".output-figure .cartesianlayer").bounding_box()
                assert legend["y"] >= plots["y"] + plots["height"] - 1
            context.close()
    finally:
        server.shutdown()
