"""The page as readers read it (issue 17): the keyboard never edits by accident, the sidebar
and phones' navigation, math, dark mode and print, messages that name cells readers see."""

from __future__ import annotations

import pytest
from test_page import cell

pytestmark = pytest.mark.browser

OPEN = "window.essayPage && window.essayPage.cells.length > 0"
ACTIVE_CELL = "document.activeElement.closest('[data-cell]')?.dataset.cell ?? null"
UNEDITED = "essayPage.cells.every((c) => c.editor.get() === c.original)"


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
