"""Readers edit and run cells in the page (issue 4), against the fixture site."""

from __future__ import annotations

import re
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from conftest import open_essay

pytestmark = pytest.mark.browser

FINISHED = "(i) => /^(done|failed|stopped)/.test(document.querySelector(`[data-cell='${i}'] .cell-state`).textContent)"


def cell(page, i):
    return page.locator(f"[data-cell='{i}']")


def run(page, i):
    cell(page, i).get_by_role("button", name="Run").click()
    page.wait_for_function(FINISHED, arg=i)


def output(page, i) -> str:
    return cell(page, i).locator("[data-output]").inner_text()


def replace_code(page, i, code):
    editor = cell(page, i).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    editor.fill(code)  # fill, not type: the editor's auto-indent would add spaces


def pyodide_requests(page):
    return [u for u in page.requests if "/pyodide/" in u]


def test_hooks_are_in_place(page):
    for i in range(5):
        c = cell(page, i)
        assert c.get_by_role("button", name="Run").count() == 1
        assert c.locator(".cm-content").count() == 1
        assert c.locator("[data-output]").count() == 1


def test_no_pyodide_request_before_the_first_edit(page):
    """Pyodide is 13 MB: a reader who only tabs through the page or clicks into a cell does
    not pay for it; the first edit (or Run) starts the download."""
    page.wait_for_load_state("networkidle")
    assert pyodide_requests(page) == []
    cell(page, 0).locator(".cm-content").focus()
    page.keyboard.press("Tab")
    page.wait_for_load_state("networkidle")
    assert pyodide_requests(page) == []
    cell(page, 0).locator(".cm-content").click()
    page.keyboard.press("End")
    page.keyboard.type(" ")
    page.wait_for_function("document.querySelector('.kernel-status')?.dataset.state === 'ready'")
    assert any(u.endswith("pyodide.asm.wasm") for u in page.requests)


def test_edit_and_run(page):
    replace_code(page, 0, "base = 21\nprint('edited', base)")
    run(page, 0)
    assert output(page, 0) == "edited 21\nbase:\n21"
    assert cell(page, 0).locator(".cell-edited").is_visible()


def test_running_a_cell_first_runs_the_cells_above(page):
    # edited, the cell above is the reader's to run: the build's state after it no longer holds
    replace_code(page, 0, 'base = 10\nprint("hello from", "the page")')
    run(page, 1)
    assert cell(page, 0).locator(".cell-state").inner_text().startswith("done")
    assert "doubled:\n20" in output(page, 1)


def test_iterations_run_n_times_and_stop_ends_after_the_current_one(page):
    run(page, 2)  # the default, × 5
    assert "steps:\n5" in output(page, 2)
    cell(page, 2).get_by_label("Iterations").fill("1000")
    cell(page, 2).get_by_role("button", name="Run").click()
    page.wait_for_function(
        "/iteration (1[0-9]|[2-9][0-9]) of 1000/.test(document.querySelector(\"[data-cell='2'] .cell-state\").textContent)"
    )
    bar = cell(page, 2).get_by_role("progressbar", name="Progress")
    assert bar.is_visible() and bar.get_attribute("max") == "1000" and int(bar.get_attribute("value")) >= 9
    cell(page, 2).get_by_role("button", name="Stop").click()
    page.wait_for_function(FINISHED, arg=2)
    assert cell(page, 2).locator(".cell-state").inner_text().startswith("stopped")
    steps = int(re.search(r"steps:\n(\d+)", output(page, 2)).group(1))
    assert 15 <= steps < 1005


def test_reset_restores_the_code_and_the_build_output(page):
    built = cell(page, 1).locator("[data-output]").inner_html()
    replace_code(page, 1, "doubled = -1")
    run(page, 1)
    assert output(page, 1) == "doubled:\n-1"
    cell(page, 1).get_by_role("button", name="Reset").click()
    assert cell(page, 1).locator("[data-output]").inner_html() == built
    assert (
        page.evaluate("essayPage.cells[1].editor.get()")
        == 'doubled = base * 2\nwords = ["alpha", "beta", "<b>not bold</b>"]'
    )
    assert not cell(page, 1).locator(".cell-edited").is_visible()


def test_edits_survive_a_reload_without_loading_python(page):
    replace_code(page, 1, "doubled = 'kept'")
    page.reload()
    page.wait_for_function("window.essayPage && window.essayPage.cells.length > 0")
    page.requests.clear()
    assert page.evaluate("essayPage.cells[1].editor.get()") == "doubled = 'kept'"
    assert cell(page, 1).locator(".cell-edited").is_visible()
    assert not cell(page, 0).locator(".cell-edited").is_visible()
    page.wait_for_load_state("networkidle")
    assert pyodide_requests(page) == []


def test_errors_show_inline_in_the_cells_own_lines(page):
    run(page, 4)
    text = output(page, 4)
    assert 'File "cell 5", line 4, in <module>' in text and 'File "cell 5", line 2, in broken' in text
    assert text.strip().endswith("ZeroDivisionError: division by zero")
    assert cell(page, 4).locator(".output-error").count() == 1


def test_unedited_outputs_in_the_page_equal_the_build(page):
    built = [cell(page, i).locator("[data-output]").inner_html() for i in range(4)]
    for i in range(4):  # each runs in the page (run alone, cell 3 would start from the build's state)
        run(page, i)
    for i in (0, 1, 2):
        assert cell(page, i).locator("[data-output]").inner_html() == built[i], i
    # the chart: same figure JSON, drawn by plotly.js into the same kind of element
    figure_json = "script[data-figure-json]"
    assert cell(page, 3).locator(figure_json).inner_text() == re.search(
        r"<script[^>]*data-figure-json[^>]*>(.*?)</script>", built[3], re.S
    ).group(1)
    assert cell(page, 3).locator(".figure .main-svg").count() >= 1


def test_printed_html_is_text(page):
    run(page, 1)
    assert cell(page, 1).locator("[data-output] b").count() == 0
    assert "<b>not bold</b>" in output(page, 1)


def test_charts_update_in_place(page):
    run(page, 3)
    page.evaluate("document.querySelector(\"[data-cell='3'] .figure\").dataset.marker = 'same'")
    replace_code(page, 3, 'show({"data": [{"type": "bar", "y": [1, 2, 3]}]}, "chart")')
    run(page, 3)
    assert page.evaluate("document.querySelector(\"[data-cell='3'] .figure\").dataset.marker") == "same"
    assert page.locator("[data-cell='3'] .figure .bars .point").count() == 3


def test_shift_enter_runs_and_moves_focus_to_the_next_cell(page):
    cell(page, 0).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(FINISHED, arg=0)
    assert page.evaluate("document.activeElement.closest('[data-cell]').dataset.cell") == "1"


def test_controls_have_accessible_names_and_are_reachable_by_keyboard(page):
    run_button = cell(page, 0).get_by_role("button", name="Run")
    run_button.focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Reset"
    assert cell(page, 2).get_by_label("Iterations").count() == 1
    assert cell(page, 0).locator(".cm-content").get_attribute("aria-label") == "Python code of cell 1"


def test_no_request_goes_to_another_origin(page, site):
    run(page, 4)
    origin = urlsplit(site[1]).netloc
    foreign = [u for u in page.requests if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != origin]
    assert foreign == []
    assert page.errors == []


@contextmanager
def site_built_with(tmp_path, **config):
    """The fixture site built with other settings, served on a port of its own."""
    from conftest import build_fixture_site, serve

    server, url = serve(build_fixture_site(tmp_path, **config))
    try:
        yield url
    finally:
        server.shutdown()


def test_data_files_are_readable_in_the_page(context, site):
    page = open_essay(context, site[1] + "02-data.html")
    replace_code(page, 0, 'with open("data/greeting.txt") as f:\n    greeting = f.read().strip().upper()')
    run(page, 0)
    assert "greeting:\n'HELLO FROM A DATA FILE'" in output(page, 0)


def test_a_runtime_that_cannot_load_says_so(context, tmp_path):
    with site_built_with(tmp_path, pyodide_url="http://127.0.0.1:9/no-pyodide-here/") as url:
        page = open_essay(context, url + "01-page.html")
        cell(page, 0).get_by_role("button", name="Run").click()
        page.wait_for_function("document.querySelector('.kernel-status')?.dataset.state === 'failed'")
        assert "Python failed to load" in page.locator(".kernel-status").inner_text()
        assert "Python could not be loaded" in output(page, 0)


def test_a_package_that_cannot_be_fetched_is_named(context, tmp_path):
    with site_built_with(tmp_path, package_base_url="http://127.0.0.1:9/packages/") as url:
        page = open_essay(context, url + "01-page.html")
        replace_code(page, 0, "import numpy")
        run(page, 0)
        text = output(page, 0)
        assert "Could not load the package numpy" in text and "http://127.0.0.1:9/packages/numpy" in text


def test_the_page_reads_whole_with_javascript_off(browser, site):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(site[1] + "01-page.html")
        assert "doubled = base * 2" in cell(page, 1).locator("pre.cell-code").inner_text()
        assert "doubled:\n20" in output(page, 1)
        assert cell(page, 3).locator(".figure-fallback").is_visible()
        assert cell(page, 0).get_by_role("button", name="Run").count() == 0
    finally:
        context.close()


def test_a_failing_cell_above_does_not_stop_the_cells_below_it(page):
    replace_code(page, 0, "base = 10")  # so the cells above run, rather than start from the build's state
    run(page, 5)
    assert "ZeroDivisionError" in output(page, 4)
    assert output(page, 5) == "after:\n11"


def test_chart_text_from_a_cell_cannot_run_script(page):
    replace_code(
        page,
        3,
        'show({"data": [{"type": "bar", "y": [1, 2], "name": "<img src=x onerror=\\"window.pwned=1\\">"}], '
        '"layout": {"title": {"text": "<a href=\\"javascript:window.pwned=2\\">t</a><script>window.pwned=3</script>"}}}, "chart")',
    )
    run(page, 3)
    page.wait_for_function("document.querySelector(\"[data-cell='3'] .figure .main-svg\")")
    assert page.evaluate("window.pwned") is None
    assert cell(page, 3).locator(".figure img, .figure script").count() == 0
    hrefs = (
        cell(page, 3)
        .locator(".figure a")
        .evaluate_all("links => links.map(a => a.getAttribute('href') || a.getAttribute('xlink:href'))")
    )
    assert not any(h and h.strip().lower().startswith("javascript:") for h in hrefs)
