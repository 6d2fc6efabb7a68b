"""The page starts from the build's state (issue 18): a reader who edits the last cell of
an essay whose first cell is slow sees the output without that cell running in the page,
and the status line says what the page did."""

from __future__ import annotations

import pytest
from conftest import FIXTURES, build_fixture_site, open_essay, serve
from support import ROOT

pytestmark = pytest.mark.browser

STATUS = "document.querySelector('.kernel-status')?.textContent || ''"
FINISHED = "(i) => /^(done|failed|stopped)/.test(document.querySelector(`[data-cell='${i}'] .cell-state`).textContent)"


@pytest.fixture(scope="module")
def resume_site(tmp_path_factory):
    folder = build_fixture_site(tmp_path_factory.mktemp("resume-site"), fixtures=FIXTURES.parent / "resume")
    server, url = serve(folder)
    yield folder, url
    server.shutdown()


def edit_and_run(page, i, code):
    editor = page.locator(f"[data-cell='{i}'] .cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    editor.fill(code)
    page.locator(f"[data-cell='{i}']").get_by_role("button", name="Run").click()
    page.wait_for_function(FINISHED, arg=i)


def state(page, i) -> str:
    return page.locator(f"[data-cell='{i}'] .cell-state").inner_text()


def output(page, i) -> str:
    return page.locator(f"[data-cell='{i}'] [data-output]").inner_text()


def status_says(page, text: str) -> None:
    page.wait_for_function(f"({STATUS}).includes({text!r})")


def test_the_last_cell_runs_on_the_builds_state(context, resume_site):
    page = open_essay(context, resume_site[1] + "01-resume.html")
    edit_and_run(page, 2, "print('edited:', summary.describe(), len(summary.buckets) > 3)")
    assert output(page, 2) == "edited: 142587 takes 374 steps True"
    # the slow first cell did not run in the page: its state came from the build
    assert state(page, 0) == state(page, 1) == "restored from the build"
    # the cell reads `summary` alone: one value, and the two definitions it needs run again
    status_says(page, "started from the build's state after cell 2 (1 value, ")
    state_requests = [u for u in page.requests if "/_static/state/" in u]
    assert len(state_requests) == 1 + 1  # the manifest, and only the value the cell needs
    assert page.errors == []


def test_a_generator_it_reads_makes_the_page_run_the_cell_that_made_it(context, resume_site):
    page = open_essay(context, resume_site[1] + "01-resume.html")
    edit_and_run(page, 2, "print(list(pending), summary.longest)")
    assert output(page, 2) == "[0, 1, 2] 142587"
    assert state(page, 0) == "restored from the build"
    assert state(page, 1).startswith("done")  # ran here: it makes the generator
    status_says(page, "started from the build's state after cell 1 (")
    status_says(page, "; ran cell 2 first: `pending` (a generator) cannot be restored")


def test_offline_the_page_runs_the_cells_above(context, resume_site):
    page = open_essay(context, resume_site[1] + "01-resume.html")
    page.route("**/_static/state/**", lambda route: route.abort())
    edit_and_run(page, 2, "print(summary.longest)")
    assert output(page, 2) == "142587"
    assert state(page, 0).startswith("done") and state(page, 1).startswith("done")
    status_says(page, "ran cells 1–2 first: the build's state could not be fetched")


def test_an_edited_cell_above_runs_and_so_do_the_cells_after_it(context, resume_site):
    page = open_essay(context, resume_site[1] + "01-resume.html")
    editor = page.locator("[data-cell='1'] .cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nedited = True")
    edit_and_run(page, 2, "print(edited, summary.longest)")
    assert output(page, 2) == "True 142587"
    assert state(page, 0) == "restored from the build" and state(page, 1).startswith("done")
    status_says(page, "started from the build's state after cell 1 (")


def test_numpy_values_come_back_as_arrays(context, tmp_path):
    wheels = list((ROOT / "node_modules" / "pyodide").glob("numpy-*.whl"))
    if not wheels:
        pytest.skip(
            "numpy in the page comes from Pyodide's package server (its CDN), which this "
            "machine cannot reach: node_modules/pyodide holds no numpy wheel"
        )
    essays = tmp_path / "fixture"
    essays.mkdir()
    (essays / "01-arrays.md").write_text(
        "# Arrays\n\n<script>\nimport numpy as np\nweights = np.arange(6.0).reshape(2, 3)\n</script>\n\n"
        "<script>\nprint(weights.sum())\n</script>\n",
        encoding="utf-8",
    )
    packages, packages_url = serve(ROOT / "node_modules" / "pyodide")
    folder = build_fixture_site(tmp_path, fixtures=essays, package_base_url=packages_url)
    server, url = serve(folder)
    try:
        page = open_essay(context, url + "01-arrays.html")
        edit_and_run(page, 1, "print(weights.shape, weights.sum())")
        assert output(page, 1) == "(2, 3) 15.0"
        status_says(page, "started from the build's state after cell 1 (1 value, ")
    finally:
        server.shutdown()
        packages.shutdown()
