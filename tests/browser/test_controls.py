"""Readers move controls (issue 23): a slider re-runs its cell and the cells that depend on
it, and no others; charts update in place; a new move cancels the last one's run; a reload
shows the build's values. Against tests/fixtures/controls, built once for this module."""

from __future__ import annotations

import time

import pytest
from conftest import FIXTURES, build_fixture_site, serve

pytestmark = pytest.mark.browser

SLIDER = "[data-cell='1'] input[type=range]"
# the kernel's own record of which cells ran (the fixture's cells append to `log`)
LOG = "str(__import__('runtime.page').page.kernel().namespace['log'])"
CLEAR = "__import__('runtime.page').page.kernel().namespace['log'].clear()"
DONE = "(i) => /^done/.test(document.querySelector(`[data-cell='${i}'] .cell-state`).textContent)"


@pytest.fixture(scope="module")
def controls_site(tmp_path_factory):
    folder = build_fixture_site(tmp_path_factory.mktemp("controls-site"), FIXTURES.parent / "controls")
    server, url = serve(folder)
    yield folder, url
    server.shutdown()


@pytest.fixture(scope="module")
def isolated_controls_site(controls_site):
    """The same site, cross-origin isolated (the dev server's headers): Stop interrupts."""
    from builder.serve.livereload import LiveReloadServer

    live = LiveReloadServer(controls_site[0], "127.0.0.1", 0)
    live.reloaded([])
    live.start()
    yield live.url
    live.shutdown()


def open_page(context, url):
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(url + "01-controls.html")
    page.wait_for_function("window.essayPage && window.essayPage.cells.length === 7")
    return page


def output(page, i) -> str:
    return page.locator(f"[data-cell='{i}'] [data-output]").inner_text()


def evaluate(page, code):
    return page.evaluate("(code) => window.essayPage.evaluate(code)", code)


def move(page, key, wait_for):
    """Press `key` on the slider; wait until cell `wait_for` has run again."""
    page.evaluate(f"document.querySelector(\"[data-cell='{wait_for}'] .cell-state\").textContent = ''")
    page.locator(SLIDER).press(key)
    page.wait_for_function(DONE, arg=wait_for)


def test_without_javascript_the_control_shows_the_build_value_disabled(browser, controls_site):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(controls_site[1] + "01-controls.html")
        slider = page.locator(SLIDER)
        assert slider.is_disabled() and slider.input_value() == "2"
        assert page.locator("[data-cell='1'] .control-value").inner_text() == "2"
        assert page.get_by_label("n", exact=True).get_attribute("type") == "range"  # labelled
    finally:
        context.close()


def test_a_keyboard_move_reruns_its_cell_and_the_dependent_cells_only(context, controls_site):
    page = open_page(context, controls_site[1])
    slider = page.locator(SLIDER)
    assert slider.is_enabled()
    # the first move: Python loads and the cells above the chart's run once, as Run does
    move(page, "ArrowRight", wait_for=4)
    assert evaluate(page, LOG) == "['knob', 'direct', 'other', 'through']"
    assert page.locator("[data-cell='1'] .control-value").inner_text() == "3"
    chart = "document.querySelector(\"[data-cell='4'] .figure\")"
    page.wait_for_function(f"{chart}.data !== undefined")
    assert page.evaluate(f"{chart}.data[0].y") == [12, 5]
    page.evaluate(f"{chart}.dataset.marker = 'same'")

    evaluate(page, CLEAR)
    move(page, "ArrowRight", wait_for=4)
    # its cell, the cell that reads `doubled`, the one that reads `quad` (through it): not
    # the cells that read neither, whose outputs stay as they were
    assert evaluate(page, LOG) == "['knob', 'direct', 'through']"
    assert page.evaluate(f"{chart}.dataset.marker") == "same"  # Plotly.react, in place
    assert page.evaluate(f"{chart}.data[0].y") == [16, 5]
    assert page.evaluate("document.activeElement.type") == "range"  # the focus stayed
    assert page.locator("[data-cell='1'] .control-value").inner_text() == "4"
    assert "stale" not in page.locator("[data-cell='5']").inner_html()
    assert output(page, 5) == "unrelated is 5"

    evaluate(page, CLEAR)
    move(page, "Home", wait_for=4)  # Home, End: the range's own keys
    assert evaluate(page, LOG) == "['knob', 'direct', 'through']"
    assert page.evaluate(f"{chart}.data[0].y") == [0, 5]
    assert page.errors == []

    # a reload shows the build's value and outputs (the choice: defaults, not the last move)
    page.reload()
    page.wait_for_function("window.essayPage && window.essayPage.cells.length === 7")
    assert page.locator(SLIDER).input_value() == "2"
    assert page.locator("[data-cell='1'] .control-value").inner_text() == "2"
    assert output(page, 1).split() == ["n", "2", "doubled:", "4"]


def test_a_second_move_cancels_the_first_run(context, isolated_controls_site):
    page = open_page(context, isolated_controls_site)
    move(page, "ArrowRight", wait_for=4)  # Python loaded, every cell up to the chart run
    page.evaluate("document.querySelector(\"[data-cell='4'] .cell-state\").textContent = ''")
    page.locator(SLIDER).fill("6")  # the last fast value, below the slow 7
    page.wait_for_function(DONE, arg=4)
    evaluate(page, CLEAR)
    page.evaluate("document.querySelector(\"[data-cell='4'] .cell-state\").textContent = ''")
    page.locator(SLIDER).press("ArrowRight")  # 7: a slow run starts
    page.wait_for_function("document.querySelector(\"[data-cell='1']\").classList.contains('cell-running')")
    started = time.monotonic()
    page.locator(SLIDER).press("ArrowRight")  # 8: cancels it and runs again
    page.wait_for_function(DONE, arg=4)
    assert time.monotonic() - started < 20  # far less than the slow run's 30 s
    assert output(page, 1).split() == ["n", "8", "doubled:", "16"]
    assert "KeyboardInterrupt" not in output(page, 1)
    # the slow run started, was stopped before its cells below ran, and 8's run followed
    assert evaluate(page, LOG) == "['knob', 'knob', 'direct', 'through']"
    assert page.evaluate("document.querySelector(\"[data-cell='4'] .figure\").data[0].y") == [32, 5]


def test_selects_boxes_numbers_and_an_edited_cell(context, isolated_controls_site):
    page = open_page(context, isolated_controls_site)
    move(page, "ArrowRight", wait_for=4)
    choices = page.locator("[data-cell='6']")
    evaluate(page, CLEAR)
    choices.get_by_label("mode", exact=True).select_option("fancy")
    page.wait_for_function(DONE, arg=6)
    # the cell above it that had not run yet runs first, as for Run
    assert evaluate(page, LOG) == "['last', 'choices fancy False 3']"
    page.evaluate("document.querySelector(\"[data-cell='6'] .cell-state\").textContent = ''")
    choices.get_by_label("flag", exact=True).press("Space")
    page.wait_for_function(DONE, arg=6)
    page.evaluate("document.querySelector(\"[data-cell='6'] .cell-state\").textContent = ''")
    choices.get_by_label("count", exact=True).fill("9")  # past max: Python keeps it at 5
    choices.get_by_label("count", exact=True).press("Enter")
    page.wait_for_function(DONE, arg=6)
    assert evaluate(page, LOG) == "['last', 'choices fancy False 3', 'choices fancy True 3', 'choices fancy True 5']"

    # the last cell, edited to read `quad`: the page asks Python what it reads now
    page.locator("[data-cell='5']").hover()
    editor = page.locator("[data-cell='5'] .cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    editor.fill('log.append("last")\nprint("quad is", quad)')
    evaluate(page, CLEAR)
    move(page, "ArrowRight", wait_for=5)
    assert evaluate(page, LOG) == "['knob', 'direct', 'through', 'last']"
    assert output(page, 5) == "quad is 16"
    assert page.errors == []
