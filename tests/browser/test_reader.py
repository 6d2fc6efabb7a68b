"""The page notebook as a reader leans on it (issue 9): Python in a Web Worker, Stop, clear
failures that stay local, light pages, keyboard and phone, saved edits, stale outputs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, build_fixture_site, open_essay, serve
from support import FIXTURES as ALL_FIXTURES
from test_page import FINISHED, cell, output, replace_code, run

pytestmark = pytest.mark.browser

OPEN = "window.essayPage && window.essayPage.cells.length > 0"
LOOP = "n = 0\nwhile True:\n    n += 1"


def state(page, i) -> str:
    return cell(page, i).locator(".cell-state").inner_text()


def wait_running(page, i):
    page.wait_for_function(
        "(i) => /running|iteration/.test(document.querySelector(`[data-cell='${i}'] .cell-state`).textContent)",
        arg=i,
    )


def stop_ms(page, i) -> float:
    """Click cell i's Stop; the milliseconds until its state says it stopped, as the page
    measures them."""
    return page.evaluate(
        """(i) => new Promise((resolve) => {
            const s = document.querySelector(`[data-cell='${i}'] .cell-state`);
            const t0 = performance.now();
            const seen = () => /^stopped/.test(s.textContent) && resolve(performance.now() - t0);
            new MutationObserver(seen).observe(s, {childList: true, characterData: true, subtree: true});
            document.querySelector(`[data-cell='${i}'] button[aria-label=Stop]`).click();
        })""",
        i,
    )


LONGEST_TASK = """(ms) => new Promise((resolve) => {
    let longest = 0;
    const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) longest = Math.max(longest, entry.duration);
    });
    observer.observe({type: "longtask"});
    setTimeout(() => { observer.disconnect(); resolve(longest); }, ms);
})"""


# ----- 1. no assets ------------------------------------------------------------------------


def test_an_essay_without_assets_runs_in_the_page(context, tmp_path):
    folder = build_fixture_site(tmp_path, fixtures=ALL_FIXTURES / "no-assets")
    assert not [p for p in folder.iterdir() if p.is_dir() and p.name != "_static"]
    server, url = serve(folder)
    try:
        page = open_essay(context, url + "01-plain.html")
        run(page, 0)
        assert state(page, 0).startswith("done"), output(page, 0)
        assert output(page, 0) == "where:\n'essays'"
    finally:
        server.shutdown()


# ----- 2. endless loops and Stop -----------------------------------------------------------


def test_an_endless_loop_is_interrupted_within_a_second_and_the_page_stays_responsive(context, isolated_site):
    page = open_essay(context, isolated_site[1] + "01-page.html")
    assert page.evaluate("crossOriginIsolated && essayPage.interruptible")
    run(page, 0)
    before = state(page, 0)
    replace_code(page, 1, LOOP)
    cell(page, 1).get_by_role("button", name="Run").click()
    wait_running(page, 1)
    # the loop runs in the worker: the main thread has no long task, and the page reacts
    assert page.evaluate(LONGEST_TASK, 1000) < 200
    replace_code(page, 2, "steps = 0")
    assert cell(page, 2).locator(".cell-edited").is_visible()
    assert stop_ms(page, 1) < 1000
    assert "KeyboardInterrupt" in output(page, 1)
    # interrupted, not restarted: what the cells above defined is still there, and they do not run again
    replace_code(page, 1, "still = base")
    run(page, 1)
    assert output(page, 1) == "still:\n10"
    assert state(page, 0) == before
    assert page.errors == []


def test_where_the_page_is_not_isolated_stop_restarts_python_and_the_cells_above_run_again(page):
    assert not page.evaluate("essayPage.interruptible")
    run(page, 0)
    replace_code(page, 1, LOOP)
    cell(page, 1).get_by_role("button", name="Run").click()
    wait_running(page, 1)
    assert stop_ms(page, 1) < 1000
    assert "cells above will run again" in output(page, 1)
    assert state(page, 1).startswith("stopped")
    page.evaluate("document.querySelector(\"[data-cell='0'] .cell-state\").textContent = 'marker'")
    replace_code(page, 1, "again = base * 3")
    run(page, 1)
    assert output(page, 1) == "again:\n30"
    assert state(page, 0) == "restored from the build"  # the fresh worker started from the build's state


def test_an_endless_loop_kept_from_an_earlier_visit_can_be_stopped_from_a_cell_below(page):
    replace_code(page, 0, LOOP)
    page.reload()
    page.wait_for_function(OPEN)
    cell(page, 1).get_by_role("button", name="Run").click()  # runs cell 0 first: the loop
    wait_running(page, 0)
    assert page.evaluate(LONGEST_TASK, 500) < 200
    cell(page, 1).get_by_role("button", name="Stop").click()
    page.wait_for_function(FINISHED, arg=0, timeout=5000)
    assert "not run: cell 1 (“Page runtime fixture”) above was stopped" in state(page, 1)


def test_stop_inside_a_long_iteration_keeps_the_last_whole_iterations_output(context, isolated_site):
    page = open_essay(context, isolated_site[1] + "01-page.html")
    replace_code(page, 2, "import time\nsteps = globals().get('steps', 0) + 1\nif steps > 2:\n    while True: pass")
    cell(page, 2).get_by_label("Iterations").fill("10")
    cell(page, 2).get_by_role("button", name="Run").click()
    page.wait_for_function(
        "/iteration 3 of 10/.test(document.querySelector(\"[data-cell='2'] .cell-state\").textContent)"
    )
    assert stop_ms(page, 2) < 1000
    text = output(page, 2)
    assert "stopped during iteration 3" in text and "steps:\n2" in text
    assert "KeyboardInterrupt" not in text


# ----- 3 and 4. a package that cannot be fetched -------------------------------------------


def test_a_package_that_cannot_be_fetched_stops_the_run_with_one_clear_message(context, site):
    tried = []

    def unreachable(route):
        tried.append(route.request.url)
        route.abort("internetdisconnected")

    context.route("https://cdn.jsdelivr.net/**", unreachable)
    page = open_essay(context, site[1] + "04-packages.html")
    page.evaluate(RECORD_STATUSES)
    built = [cell(page, i).locator("[data-output]").inner_html() for i in range(3)]
    cell(page, 0).locator(".cm-line").first.click()  # an edit: the cells above run, not the build's state
    page.keyboard.press("End")
    page.keyboard.type(" ")
    cell(page, 2).get_by_role("button", name="Run").click()  # runs cells 0 and 1 first; 0 needs numpy
    page.wait_for_function(
        "/^not run|^(done|failed)/.test(document.querySelector(\"[data-cell='2'] .cell-state\").textContent)"
    )
    assert any("numpy" in u for u in tried), tried
    assert state(page, 0).startswith("failed")
    assert re.match(r"not run: cell 1( \(“[^”]+”\))? above failed here", state(page, 2))
    errors = cell(page, 0).locator(".output-error")
    assert errors.count() == 1
    message = errors.inner_text()
    assert "the package numpy" in message and "cdn.jsdelivr.net" in message and ".whl" in message
    assert "network" in message and "--package-base-url" in message
    # Pyodide's "The following error occurred while loading numpy:" runs on into its reason
    assert not re.search(r"loading \w+:\s*$", message, re.MULTILINE), message
    assert "ModuleNotFoundError" not in output(page, 0)
    # the cells that did not run keep the build's outputs
    assert cell(page, 0).locator("[data-output] .output-value").count() >= 1
    for i in (1, 2):
        assert cell(page, i).locator("[data-output]").inner_html() == built[i], i
    status = page.locator(".kernel-status")
    assert status.get_attribute("data-state") == "failed" and "numpy" in status.inner_text()
    # while it was tried, the status named the package being loaded
    assert any(text.startswith("Loading numpy") for text, _ in page.evaluate("window.statuses"))


# ----- lighter pages -----------------------------------------------------------------------


def test_a_chart_page_before_any_interaction_loads_the_small_plotly_and_no_editor(context, site):
    page = context.new_page()
    responses = []

    def seen(response) -> None:  # a def: Playwright cannot wrap a builtin such as list.append
        responses.append(response)

    page.on("response", seen)
    page.goto(site[1] + "01-page.html")
    page.wait_for_load_state("networkidle")
    page.locator("[data-cell='3'] .figure .main-svg").first.wait_for()  # drawn: it is near the top
    sizes = {r.url: len(r.body()) for r in responses if r.ok}
    names = [u.rsplit("/", 1)[-1] for u in sizes]
    assert "plotly-cartesian.min.js" in names and "plotly.min.js" not in names
    assert "editor.js" not in names and "kernel-worker.js" not in names
    assert sum(sizes.values()) <= 1_600_000
    cell(page, 1).hover()
    cell(page, 1).locator(".cm-content").wait_for()
    assert any(r.url.endswith("/editor.js") for r in responses)


def test_a_chart_far_below_the_fold_loads_plotly_only_when_the_reader_comes_near(context, site):
    page = context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(site[1] + "05-far-chart.html")
    page.wait_for_load_state("networkidle")
    assert not [u for u in requests if "plotly" in u]
    page.locator("[data-cell='0']").scroll_into_view_if_needed()
    page.locator("[data-cell='0'] .figure .main-svg").first.wait_for()
    assert [u.rsplit("/", 1)[-1] for u in requests if "plotly" in u] == ["plotly-cartesian.min.js"]


def test_a_chart_the_small_bundle_cannot_draw_brings_the_full_one(page):
    page.locator("[data-cell='3'] .figure .main-svg").first.wait_for()
    replace_code(page, 3, 'show({"data": [{"type": "table", "cells": {"values": [[1, 2], [3, 4]]}}]}, "chart")')
    run(page, 3)
    page.locator("[data-cell='3'] .figure .table").first.wait_for()
    assert any(u.endswith("/_static/plotly.min.js") for u in page.requests)
    assert page.errors == []


RECORD_STATUSES = """() => {
    window.statuses = [];
    new MutationObserver(() => {
        const s = document.querySelector('.kernel-status');
        const bar = s && s.querySelector('progress');
        // the text, and whether the bar shows a full measure (a download done) or none (busy)
        if (s) window.statuses.push([s.textContent, bar && !bar.hidden && bar.hasAttribute('value') && bar.value >= bar.max]);
    }).observe(document.body, {childList: true, characterData: true, subtree: true, attributes: true});
}"""


def phases(statuses: list[list]) -> list[str]:
    """The loading phases the status line showed, in order, each once."""
    names = {
        r"^Downloading Python… \d+\.\d of \d+\.\d MB": "download",
        r"^Starting Python": "start",
        r"^Loading the essay's files \(\d+\)…": "files",
        r"^Python ready": "ready",
    }
    seen: list[str] = []
    for text, _ in statuses:
        for pattern, name in names.items():
            if re.search(pattern, text) and (not seen or seen[-1] != name):
                seen.append(name)
    return seen


def test_loading_python_shows_each_phase_and_never_a_full_bar_standing_still(page):
    page.evaluate(RECORD_STATUSES)
    run(page, 0)
    statuses = page.evaluate("window.statuses")
    assert phases(statuses) == ["download", "start", "files", "ready"], statuses[:40]
    # a full bar is never what the line shows: once the bytes are in, the words move on
    assert not any(full for _, full in statuses), [s for s in statuses if s[1]]


def test_on_a_phone_the_status_sits_at_the_cell_above_its_output_not_over_the_page(browser, site):
    context = browser.new_context(viewport={"width": 390, "height": 800}, is_mobile=True, has_touch=True)
    context.set_default_timeout(90_000)
    try:
        page = open_essay(context, site[1] + "02-data.html")
        run(page, 0)
        status = page.locator(".kernel-status")
        assert status.evaluate("(s) => getComputedStyle(s).position") == "static"
        assert status.evaluate("(s) => s.parentElement.dataset.cell") == "0"
        assert status.evaluate("(s) => s.nextElementSibling.matches('[data-output]')")
        out = cell(page, 0).locator("[data-output]").bounding_box()
        box = status.bounding_box()
        assert box["y"] + box["height"] <= out["y"]  # above the output, never over it
        # wide again: back in the window's corner
        page.set_viewport_size({"width": 1280, "height": 900})
        page.wait_for_function("getComputedStyle(document.querySelector('.kernel-status')).position === 'fixed'")
        assert status.evaluate("(s) => s.parentElement === document.body")
    finally:
        context.close()


# ----- 5. phones ---------------------------------------------------------------------------


def test_on_a_phone_a_long_label_wraps_and_charts_have_no_toolbar_over_them(browser, site):
    context = browser.new_context(viewport={"width": 390, "height": 800}, is_mobile=True, has_touch=True)
    context.set_default_timeout(90_000)
    try:
        page = open_essay(context, site[1] + "01-page.html")
        replace_code(page, 0, 'show(42, "a label much longer than a phone is wide " * 4)\nbase = 10')
        run(page, 0)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        value = cell(page, 0).locator(".output-value pre").first
        box = value.bounding_box()
        assert box["x"] + box["width"] <= 390 and value.inner_text() == "42"
        page.locator("[data-cell='3'] .figure .main-svg").first.wait_for()
        assert cell(page, 3).locator(".modebar").count() == 0
    finally:
        context.close()


TWO_TITLES = """show({"data": [{"y": [3, 2, 1]}, {"type": "heatmap", "z": [[1, 2], [3, 4]], "xaxis": "x2", "yaxis": "y2"}],
 "layout": {"height": 400, "showlegend": False,
  "xaxis": {"domain": [0, 0.45]}, "xaxis2": {"domain": [0.55, 1], "anchor": "y2"}, "yaxis2": {"anchor": "x2"},
  "annotations": [
   {"text": "loss per iteration", "x": 0.225, "y": 1.0, "xref": "paper", "yref": "paper",
    "xanchor": "center", "yanchor": "bottom", "showarrow": False},
   {"text": "exp(W): next character given the first", "x": 0.775, "y": 1.0, "xref": "paper",
    "yref": "paper", "xanchor": "center", "yanchor": "bottom", "showarrow": False}]}}, "training")"""


def test_on_a_phone_titles_over_side_by_side_plots_do_not_overlap_and_the_chart_scrolls(browser, site):
    context = browser.new_context(viewport={"width": 390, "height": 800}, is_mobile=True, has_touch=True)
    context.set_default_timeout(90_000)
    try:
        page = open_essay(context, site[1] + "01-page.html")
        replace_code(page, 3, TWO_TITLES)
        run(page, 3)
        page.locator("[data-cell='3'] .figure .annotation").nth(1).wait_for()
        boxes = (
            cell(page, 3)
            .locator(".figure .annotation-text-g")
            .evaluate_all(
                "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.right, r.top, r.bottom]; })"
            )
        )
        (l1, r1, t1, b1), (l2, r2, t2, b2) = boxes
        assert r1 <= l2 or r2 <= l1 or b1 <= t2 or b2 <= t1, boxes
        # each plot keeps a readable width, so the pair is wider than the phone: the chart's
        # box scrolls sideways, holds both titles, and is a stop for the keyboard's arrows
        scroller = cell(page, 3).locator(".output-figure").first
        page.wait_for_function("(e) => e.getAttribute('tabindex') === '0'", arg=scroller.element_handle())
        left, width = scroller.evaluate("(e) => [e.getBoundingClientRect().left, e.scrollWidth]")
        assert min(l1, l2) >= left and max(r1, r2) <= left + width, (boxes, left, width)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the page itself does not
    finally:
        context.close()


# ----- 6. keyboard -------------------------------------------------------------------------


CELL_BOXES = """() => [...document.querySelectorAll("[data-cell]")].map((s) => {
    const r = s.getBoundingClientRect();
    return [s.dataset.cell, Math.round(r.top + scrollY), Math.round(r.height)];
})"""


@pytest.fixture(scope="module")
def long_cells(tmp_path_factory):
    """The URL of an essay with two long cells, the second wholly below the first screen
    (CodeMirror guesses the height of lines it has not drawn), between two short cells."""
    source = tmp_path_factory.mktemp("long-cells-source")
    lines = "\n".join(f"v{i} = {i}" for i in range(150))
    (source / "01-long.md").write_text(
        f"# Long\n\n<script>\na = 1\n</script>\n\n<script>\n{lines}\n</script>\n\n"
        f"<script>\n{lines}\n</script>\n\n<script>\nb = 2\n</script>\n",
        encoding="utf-8",
    )
    server, url = serve(build_fixture_site(tmp_path_factory.mktemp("long-cells"), fixtures=source))
    yield url + "01-long.html"
    server.shutdown()


@pytest.mark.parametrize("width", [1280, 390])
def test_loading_the_editors_moves_nothing_on_the_page(browser, long_cells, width):
    # The editors load on the first pointer over a cell. Had they a box of their own, the
    # cells below would jump (by 20 px a cell, and by 72 px more under a long cell out of
    # view, measured) between a reader's aim and the click, which lands on another button.
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(long_cells)
        page.wait_for_function(OPEN)
        before = page.evaluate(CELL_BOXES)
        page.evaluate("window.essayPage.loadEditor()")
        page.locator("[data-cell='0'] .cm-content").wait_for()
        assert page.locator(".cell-editor").count() == len(before) == 4
        assert page.evaluate(CELL_BOXES) == before
        # an edit gives the editor its code's own height: 149 lines fewer, a shorter box
        page.evaluate("window.essayPage.cells[1].editor.set('v = 1')")
        page.wait_for_function(
            "document.querySelector(\"[data-cell='1'] .cell-editor\").getBoundingClientRect().height < 100"
        )
    finally:
        page.close()


def test_shift_enter_scrolls_the_next_cell_into_view(browser, site):
    context = browser.new_context(viewport={"width": 900, "height": 320})
    context.set_default_timeout(90_000)
    try:
        page = open_essay(context, site[1] + "01-page.html")
        cell(page, 0).locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        page.wait_for_function(FINISHED, arg=0)
        page.wait_for_function("document.activeElement.closest('[data-cell]')?.dataset.cell === '1'")
        top = page.evaluate("document.activeElement.getBoundingClientRect().top")
        assert 0 <= top < 320
    finally:
        context.close()


def test_escape_then_tab_leaves_the_editor_and_the_editor_says_so(page):
    editor = cell(page, 0).locator(".cm-content")
    hint_id = editor.get_attribute("aria-describedby")
    hint = page.locator(f"#{hint_id}")
    assert "Escape leaves the editor" in hint.inner_text()
    editor.click()
    assert hint.is_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert not page.evaluate("document.activeElement.closest('.cm-content')")
    assert page.evaluate("essayPage.cells[0].editor.get()") == 'base = 10\nprint("hello from", "the build")'


def test_keyboard_focus_on_the_code_brings_the_editor_and_leaves_the_focus_on_the_cell(context, site):
    page = context.new_page()
    page.goto(site[1] + "01-page.html")
    page.wait_for_function(OPEN)
    assert page.locator(".cm-content").count() == 0
    page.locator("[data-cell='1'] pre.cell-code").focus()
    page.wait_for_function(
        "document.activeElement.classList.contains('cell-editor') && "
        "document.activeElement.closest('[data-cell]').dataset.cell === '1' && "
        "document.activeElement.querySelector('.cm-content')"
    )


# ----- 7. × N, Reset during a run, a run while another runs --------------------------------


@pytest.mark.parametrize("entry", ["0", "", "2.5", "-3"])
def test_iterations_refuse_what_is_not_a_whole_number_of_one_or_more(page, entry):
    box = cell(page, 2).get_by_label("Iterations")
    box.fill(entry)
    cell(page, 2).get_by_role("button", name="Run").click()
    assert "whole number" in state(page, 2)
    assert box.get_attribute("aria-invalid") == "true"
    page.wait_for_timeout(300)
    assert page.locator(".kernel-status").count() == 0  # nothing ran, Python did not even load


def test_iterations_are_kept_across_a_reload_and_reset_forgets_them(page):
    cell(page, 2).get_by_label("Iterations").fill("7")
    page.reload()
    page.wait_for_function(OPEN)
    assert cell(page, 2).get_by_label("Iterations").input_value() == "7"
    cell(page, 2).get_by_role("button", name="Reset").click()
    assert cell(page, 2).get_by_label("Iterations").input_value() == "5"
    assert page.locator(".kernel-status").count() == 0  # a Reset to the build's code needs no Python
    page.reload()
    page.wait_for_function(OPEN)
    assert cell(page, 2).get_by_label("Iterations").input_value() == "5"


def test_reset_during_a_run_stops_it_and_brings_back_the_build(page):
    built = cell(page, 2).locator("[data-output]").inner_html()
    cell(page, 2).get_by_label("Iterations").fill("1000")
    cell(page, 2).get_by_role("button", name="Run").click()
    page.wait_for_function(
        "/iteration ([3-9]|[1-9][0-9]+) of 1000/.test(document.querySelector(\"[data-cell='2'] .cell-state\").textContent)"
    )
    cell(page, 3).get_by_role("button", name="Run").click()  # while cell 3 runs: feedback
    assert "queued: waits for cell 3" in state(page, 3)
    cell(page, 2).get_by_role("button", name="Reset").click()
    page.wait_for_function(
        "!document.querySelector(\"[data-cell='2']\").classList.contains('cell-running')", timeout=5000
    )
    assert cell(page, 2).locator("[data-output]").inner_html() == built
    assert cell(page, 2).get_by_label("Iterations").input_value() == "5"
    page.wait_for_function(FINISHED, arg=3)  # the queued run goes on


# ----- 8. saved edits ----------------------------------------------------------------------


def test_an_authors_change_to_one_cell_keeps_the_readers_edits_below_and_drops_stale_keys(context, tmp_path):
    from builder.build import build
    from builder.config import Config

    essays = tmp_path / "essays"
    shutil.copytree(FIXTURES, essays)
    config = Config(source=essays, output=tmp_path / "site", use_cache=False)
    build(config)
    server, url = serve(tmp_path / "site")
    try:
        page = open_essay(context, url + "01-page.html")
        replace_code(page, 2, "steps = 'mine'")
        page.evaluate("localStorage.setItem('essays:01-page:code:gone', 'x = 1')")
        source = essays / "01-page.md"
        source.write_text(source.read_text().replace("base = 10", "base = 12"))
        build(config)  # cell 0 changed: every chained key below changes too
        page.reload()
        page.wait_for_function(OPEN)
        assert page.evaluate("essayPage.cells[2].editor.get()") == "steps = 'mine'"
        keys = page.evaluate("Object.keys(localStorage)")
        assert "essays:01-page:code:gone" not in keys
        assert [k for k in keys if k.startswith("essays:01-page:code:")] == [
            page.evaluate("'essays:01-page:code:' + essayPage.cells[2].codeId")
        ]
    finally:
        server.shutdown()


def test_an_edit_saved_under_the_earlier_chained_key_moves_to_the_cells_own_key(page):
    legacy_key = "essays:01-page:" + cell(page, 1).get_attribute("data-key")
    page.evaluate("(k) => localStorage.setItem(k, 'doubled = \"kept\"')", legacy_key)
    page.reload()
    page.wait_for_function(OPEN)
    assert page.evaluate("essayPage.cells[1].editor.get()") == 'doubled = "kept"'
    keys = page.evaluate("Object.keys(localStorage)")
    assert legacy_key not in keys
    assert (
        page.evaluate("localStorage.getItem('essays:01-page:code:' + essayPage.cells[1].codeId)") == 'doubled = "kept"'
    )


# ----- 9. stale outputs --------------------------------------------------------------------


def test_an_edited_cell_after_a_reload_marks_the_build_output_stale_until_it_runs(page):
    replace_code(page, 1, "doubled = 7")
    page.reload()
    page.wait_for_function(OPEN)
    stale = cell(page, 1).locator(".output-stale")
    assert stale.count() == 1 and "before your edit" in stale.inner_text()
    run(page, 1)
    assert cell(page, 1).locator(".output-stale").count() == 0
    assert output(page, 1) == "doubled:\n7"


def test_outputs_below_a_cell_that_ran_other_code_are_marked_stale(page):
    run(page, 0)  # the original code, first run: the build's outputs below still follow
    assert page.locator(".output-stale").count() == 0
    replace_code(page, 0, "base = 1")
    run(page, 0)
    for i in (1, 2, 3, 5):
        assert cell(page, i).locator(".output-stale").count() == 1, i
    run(page, 1)
    assert cell(page, 1).locator(".output-stale").count() == 0 and output(page, 1).startswith("doubled:\n2")


# ----- 10. file:// -------------------------------------------------------------------------


def test_a_page_opened_as_a_file_says_it_needs_a_web_server(context, site):
    page = context.new_page()
    page.goto((Path(site[0]) / "01-page.html").as_uri())
    page.wait_for_function(OPEN)
    cell(page, 0).get_by_role("button", name="Run").click()
    page.wait_for_function("document.querySelector('.kernel-status')?.dataset.state === 'failed'")
    text = output(page, 0)
    assert "needs a web server" in text and "essays serve" in text and "python -m http.server" in text


# ----- the dev server's isolation ----------------------------------------------------------


def test_under_the_dev_servers_headers_charts_data_and_the_worker_load(context, isolated_site):
    page = open_essay(context, isolated_site[1] + "02-data.html")
    assert page.evaluate("crossOriginIsolated")
    run(page, 0)
    assert "greeting:\n'hello from a data file'" in output(page, 0)
    chart = open_essay(context, isolated_site[1] + "01-page.html")
    chart.locator("[data-cell='3'] .figure .main-svg").first.wait_for()
    assert page.errors == [] and chart.errors == []


def test_a_worker_that_cannot_load_says_so_and_a_later_run_tries_again(context, site):
    failing = [True]

    def worker(route):
        if failing[0]:
            route.fulfill(status=404, body="not here")
        else:
            route.continue_()

    context.route("**/_static/kernel-worker.js", worker)
    page = open_essay(context, site[1] + "02-data.html")
    cell(page, 0).get_by_role("button", name="Run").click()
    page.wait_for_function("document.querySelector('.kernel-status')?.dataset.state === 'failed'")
    assert "Python failed to load" in page.locator(".kernel-status").inner_text()
    assert "Python could not be loaded" in output(page, 0)
    failing[0] = False
    run(page, 0)
    assert "greeting:\n'hello from a data file'" in output(page, 0)
