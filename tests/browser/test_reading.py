"""The page as readers read it (issue 17): the keyboard never edits by accident, the sidebar
and phones' navigation, math, dark mode and print, messages that name cells readers see."""

from __future__ import annotations

import pytest
from conftest import build_fixture_site, serve
from support import FIXTURES, ROOT
from test_page import cell

pytestmark = pytest.mark.browser

OPEN = "window.essayPage && window.essayPage.cells.length > 0"
ACTIVE_CELL = "document.activeElement.closest('[data-cell]')?.dataset.cell ?? null"
UNEDITED = "essayPage.cells.every((c) => c.editor.get() === c.original)"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def reading(tmp_path_factory):
    """The URL of tests/fixtures/reading built: two chapters with sections and math, a guide."""
    folder = build_fixture_site(tmp_path_factory.mktemp("reading"), fixtures=FIXTURES / "reading")
    server, url = serve(folder)
    yield url
    server.shutdown()


def phone_page(browser, url: str):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(90_000)
    page = context.new_page()
    page.goto(url)
    return page


# ----- 1. Tab never edits --------------------------------------------------------------------


def test_tabbing_through_the_whole_page_changes_nothing_and_stops_once_per_cell(context, site):
    page = context.new_page()
    page.goto(site[1] + "01-page.html")
    page.wait_for_function(OPEN)
    cells = page.evaluate("essayPage.cells.length")
    stops: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        where = page.evaluate(
            "(() => { const a = document.activeElement; const c = a.closest('[data-cell]');"
            " return c && !a.closest('.cell-toolbar') ? c.dataset.cell + ':' + a.className : null; })()"
        )
        if where:
            stops.append(where)
        assert not page.evaluate("document.activeElement.closest('.cm-content, textarea')")
    # the editor loaded on the first focus, and never took the focus from the cell
    page.wait_for_function("document.querySelectorAll('.cm-content').length > 0")
    assert page.evaluate(UNEDITED)
    assert page.locator(".cell-is-edited").count() == 0
    assert page.evaluate("Object.keys(localStorage).length") == 0
    # the code of each cell is one stop: the cells' numbers come in order, none twice in a row
    code = [s.split(":")[0] for s in stops if "cell-code" in s or "cell-editor" in s]
    assert code[:cells] == [str(i) for i in range(cells)]


def test_enter_edits_the_cell_and_escape_gives_the_focus_back_to_it(page):
    stop = cell(page, 1).locator(".cell-editor")
    stop.focus()
    hint = page.locator("#" + stop.get_attribute("aria-describedby"))
    assert hint.is_visible() and "Enter" in hint.inner_text()
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement.classList.contains('cm-content')")
    assert page.evaluate(ACTIVE_CELL) == "1"
    assert page.evaluate(UNEDITED)  # Enter on the cell chose to edit; it typed nothing
    page.keyboard.press("Tab")  # inside the editor, Tab indents
    assert page.evaluate("essayPage.cells[1].editor.get()").startswith("    ")
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.classList.contains('cell-editor')")
    assert page.evaluate(ACTIVE_CELL) == "1"
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE_CELL) != "1" or page.evaluate("!!document.activeElement.closest('.cell-toolbar')")
    assert not page.evaluate("document.activeElement.closest('.cm-content')")


def test_typing_a_character_on_a_cell_edits_it_with_that_character(context, site):
    page = context.new_page()
    page.goto(site[1] + "01-page.html")
    page.wait_for_function(OPEN)
    original = page.evaluate("essayPage.cells[0].original")
    page.locator("[data-cell='0'] pre.cell-code").focus()  # the build's code: no editor yet
    page.keyboard.type("x")
    page.wait_for_function("document.activeElement.classList.contains('cm-content')")
    assert page.evaluate("essayPage.cells[0].editor.get()") == "x" + original
    assert cell(page, 0).locator(".cell-edited").is_visible()


def test_a_click_on_the_code_edits_it(page):
    cell(page, 2).locator(".cm-line").first.click()
    assert page.evaluate("document.activeElement.classList.contains('cm-content')")
    assert page.evaluate(ACTIVE_CELL) == "2"


# ----- 4. the sidebar numbers each chapter once, and the guide not at all --------------------


def test_the_sidebar_numbers_chapters_once_and_lists_the_guide_apart(context, reading):
    page = context.new_page()
    page.goto(reading + "02-second.html")
    sidebar = page.locator("nav.essay-list")
    chapters = sidebar.locator("ol.nav-chapters > li")
    assert chapters.count() == 2
    # the list's own markers number them: the links' text carries no second number
    assert [chapters.nth(i).get_attribute("value") for i in range(2)] == ["1", "2"]
    first = chapters.nth(0).locator("> a").inner_text()
    assert first == "The first chapter"
    assert page.evaluate("getComputedStyle(document.querySelector('ol.nav-chapters')).listStyleType") == "decimal"
    guides = sidebar.locator("ul.nav-guides > li")
    assert guides.count() == 1
    assert guides.first.inner_text().strip() == "A guide"
    assert page.evaluate("getComputedStyle(document.querySelector('ul.nav-guides > li')).listStyleType") == "none"
    assert sidebar.get_by_text("Guides").is_visible()


def test_the_sidebar_lists_the_current_essays_sections(context, reading):
    page = context.new_page()
    page.goto(reading + "01-first.html")
    toc = page.locator("nav.essay-list .nav-toc a")
    assert toc.all_inner_texts() == [
        "A section with code",
        "A subsection",
        "Another section",
        "Where a cell fails",
    ]
    toc.nth(2).click()
    page.wait_for_function("location.hash === '#another-section'")
    assert page.locator("#another-section").is_visible()


# ----- 3. phones reach the contents and the next chapter from the top ------------------------


def test_on_a_phone_the_contents_and_chapter_navigation_open_from_the_top(browser, reading):
    page = phone_page(browser, reading + "01-first.html")
    try:
        assert not page.locator("nav.essay-list").is_visible()
        menu = page.locator("nav.phone-nav")
        assert menu.is_visible()
        box = menu.bounding_box()
        assert box and box["y"] < 200  # within the first screen, not at the foot of the page
        nxt = menu.locator("a[rel=next]")
        assert nxt.is_visible() and nxt.get_attribute("href") == "02-second.html"
        assert not menu.locator(".nav-toc").is_visible()
        menu.get_by_text("Contents").click()
        section = menu.locator(".nav-toc a", has_text="Where a cell fails")
        assert section.is_visible()
        assert menu.locator("ol.nav-chapters a", has_text="The second chapter").is_visible()
        section.click()
        page.wait_for_function("location.hash === '#where-a-cell-fails'")
        top = page.evaluate("document.getElementById('where-a-cell-fails').getBoundingClientRect().top")
        assert 0 <= top < PHONE["height"]
    finally:
        page.context.close()


def test_at_desktop_width_the_phone_menu_is_hidden(context, reading):
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(reading + "01-first.html")
    assert page.locator("nav.essay-list").is_visible()
    assert not page.locator("nav.phone-nav").is_visible()


# ----- 2. math ---------------------------------------------------------------------------


def test_math_is_set_in_the_shipped_math_font_with_large_display_operators(context, reading):
    page = context.new_page()
    page.goto(reading + "01-first.html")
    page.evaluate("document.fonts.ready")
    family = page.evaluate("getComputedStyle(document.querySelector('math')).fontFamily")
    assert family.startswith('"Noto Sans Math"')
    page.wait_for_function("document.fonts.check('16px \"Noto Sans Math\"')")
    assert page.evaluate(
        "[...document.fonts].some((f) => f.family.includes('Noto Sans Math') && f.status === 'loaded')"
    )
    # a display sum is larger than the text around it, as a math font's MATH table sets it
    sigma, size = page.evaluate(
        """(() => { const mo = [...document.querySelectorAll('.math-display mo')].find((m) => m.textContent === '\u2211');
            return [mo.getBoundingClientRect().height, parseFloat(getComputedStyle(mo).fontSize)]; })()"""
    )
    assert sigma > 1.3 * size  # about 1.4 em in Noto Sans Math; a text font keeps it near 1


def test_log_is_an_operator_with_a_thin_space_before_its_argument(context, reading):
    page = context.new_page()
    page.goto(reading + "01-first.html")
    page.evaluate("document.fonts.ready")
    gap, size = page.evaluate(
        """(() => { const log = [...document.querySelectorAll('p math mi')].find((m) => m.textContent === 'log');
            let next = log.nextElementSibling; while (next.tagName === 'mo' && next.textContent === '\u2061') next = next.nextElementSibling;
            return [next.getBoundingClientRect().left - log.getBoundingClientRect().right, parseFloat(getComputedStyle(log).fontSize)]; })()"""
    )
    assert gap >= 0.12 * size  # a thin space is 1/6 em; "logp" would be about 0


def test_on_a_phone_a_wide_equation_scrolls_inside_its_block(browser, reading):
    page = phone_page(browser, reading + "01-first.html")
    try:
        block = page.locator(".math-display").first
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        widths = block.evaluate("(e) => [e.scrollWidth, e.clientWidth, getComputedStyle(e).overflowX]")
        assert widths[0] > widths[1] and widths[2] == "auto"
        block.evaluate("(e) => { e.scrollLeft = e.scrollWidth; }")
        assert block.evaluate("(e) => e.scrollLeft") > 0
        # the sign that there is more: shadows at the edges, over a background that scrolls
        assert "radial-gradient" in block.evaluate("(e) => getComputedStyle(e).backgroundImage")
    finally:
        page.context.close()


# ----- 6. dark mode and print ------------------------------------------------------------

BACKGROUND = "getComputedStyle(document.body).backgroundColor"
KEYWORD = "getComputedStyle(document.querySelector('.highlight .k, .highlight .kn')).color"


def test_the_systems_dark_preference_darkens_the_page_and_its_code(browser, reading):
    context = browser.new_context(color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(reading + "01-first.html")
        assert page.evaluate(BACKGROUND) == "rgb(13, 17, 23)"
        assert page.evaluate(KEYWORD) == "rgb(198, 120, 221)"  # one-dark's keyword colour
        assert page.locator(".theme-toggle").get_attribute("aria-pressed") == "true"
    finally:
        context.close()


def test_the_theme_toggle_switches_and_is_remembered(context, reading):
    page = context.new_page()
    page.goto(reading + "01-first.html")
    assert page.evaluate(BACKGROUND) == "rgb(255, 255, 255)"
    light_keyword = page.evaluate(KEYWORD)
    toggle = page.get_by_role("button", name="Dark mode")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert page.evaluate(BACKGROUND) == "rgb(13, 17, 23)"
    assert page.evaluate(KEYWORD) != light_keyword
    assert toggle.get_attribute("aria-pressed") == "true"
    page.goto(reading + "02-second.html")  # another page, another visit: the choice holds
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate(BACKGROUND) == "rgb(13, 17, 23)"
    page.get_by_role("button", name="Dark mode").click()
    page.reload()
    assert page.evaluate(BACKGROUND) == "rgb(255, 255, 255)"


def test_print_hides_the_controls_and_wraps_long_code(browser, reading):
    context = browser.new_context(color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(reading + "01-first.html")
        page.wait_for_function(OPEN)
        page.emulate_media(media="print")
        for hidden in (".cell-toolbar", ".theme-toggle", ".essay-list", ".site-header", ".prev-next"):
            assert not page.locator(hidden).first.is_visible(), hidden
        assert page.evaluate(BACKGROUND) == "rgb(255, 255, 255)"  # paper, whatever the screen's theme
        code = page.locator("[data-cell='0'] pre.cell-code")
        assert code.evaluate("(e) => e.scrollWidth <= e.clientWidth")
        assert code.evaluate("(e) => e.getBoundingClientRect().height") > 3 * 16  # the long line wrapped
    finally:
        context.close()


def test_with_javascript_off_a_chart_is_a_line_that_says_so_not_an_empty_box(browser, site):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(site[1] + "01-page.html")
        figure = page.locator(".output-figure").first
        assert figure.locator(".figure-fallback").is_visible()
        assert figure.locator(".figure").evaluate("(e) => e.getBoundingClientRect().height") < 10
    finally:
        context.close()


# ----- 7. messages name cells as the reader sees them ----------------------------------------


def test_a_cell_that_did_not_run_names_the_failing_cell_by_its_number_and_heading_with_a_link(context, reading):
    page = context.new_page()
    page.goto(reading + "01-first.html")
    page.wait_for_function(OPEN)
    # every cell shows the number messages name it by
    assert cell(page, 1).locator(".cell-number").inner_text() == "Cell 2"
    # an edit of cell 1 means the cells above run (not the build's state); 2 fails here
    cell(page, 0).hover()  # the editors load on the first pointer on a cell
    cell(page, 0).locator(".cm-line").first.click()
    page.keyboard.press("End")
    page.keyboard.type(" ")
    cell(page, 2).get_by_role("button", name="Run").click()
    page.wait_for_function("/^not run/.test(document.querySelector(\"[data-cell='2'] .cell-state\").textContent)")
    state = cell(page, 2).locator(".cell-state")
    assert (
        state.inner_text()
        == "not run: cell 2 (“Where a cell fails”) above failed here (it ran when the essay was built)"
    )
    link = state.locator("a")
    target = cell(page, 1).get_attribute("id")
    assert link.get_attribute("href") == "#" + target
    status = page.locator(".kernel-status")
    assert status.inner_text().startswith("Cell 2 (“Where a cell fails”) failed, so cell 3")
    status.locator("a").first.click()
    page.wait_for_function("(id) => location.hash === '#' + id", arg=target)


# ----- 10. accessibility: axe-core finds nothing serious -----------------------------------

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = """() => axe.run(document, {resultTypes: ["violations"]}).then((r) => r.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => v.id + ": " + v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")))"""


def serious_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(SERIOUS)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
def test_axe_finds_no_serious_violation_before_or_after_the_editor_loads(browser, site, reading, scheme, width):
    if not AXE.exists():
        pytest.skip("node_modules/axe-core is missing: run `npm ci`")
    context = browser.new_context(color_scheme=scheme, viewport={"width": width, "height": 900})
    context.set_default_timeout(90_000)
    try:
        for url in (
            reading + "01-first.html",
            reading + "index.html",
            site[1] + "01-page.html",
            site[1] + "04-rich.html",
        ):
            page = context.new_page()
            page.goto(url)
            page.evaluate("document.fonts.ready")
            assert serious_violations(page) == [], url
            if page.evaluate("!!window.essayPage"):
                page.evaluate("essayPage.loadEditor()")
                page.locator(".cm-content").first.wait_for()
                assert serious_violations(page) == [], url + " with the editor"
            page.close()
    finally:
        context.close()


def test_heading_anchors_are_named_after_their_section(context, reading):
    page = context.new_page()
    page.goto(reading + "01-first.html")
    anchor = page.locator("#another-section .header-anchor")
    assert anchor.get_attribute("aria-label") == "Link to this section: Another section"
    assert page.get_by_role("link", name="Link to this section: A section with code").count() == 1


def test_a_wide_equation_on_a_phone_is_a_tab_stop_and_scrolls_with_the_keys(browser, reading):
    page = phone_page(browser, reading + "01-first.html")
    try:
        block = page.locator(".math-display").first
        page.wait_for_function("document.querySelector('.math-display').tabIndex === 0")
        block.focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("document.querySelector('.math-display').scrollLeft > 0")
    finally:
        page.context.close()
