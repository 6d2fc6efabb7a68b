"""The page installs the packages the site ships (issue 18, item 4) and shows what a cell
prints while it runs (item 5)."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata

import pytest
from conftest import FIXTURES, build_fixture_site, open_essay, serve
from test_page import FINISHED, cell, output, replace_code

from builder.pipeline.wheels import build_wheel

pytestmark = pytest.mark.browser

BUSY = "import time\nprint('first line <b>not bold</b>')\nt = time.time()\nwhile time.time() - t < 2:\n    pass\nprint('second line')"


def test_printed_text_shows_while_the_cell_runs(page):
    replace_code(page, 0, BUSY)
    cell(page, 0).get_by_role("button", name="Run").click()
    live = "document.querySelector(\"[data-cell='0'] .output-live\")"
    page.wait_for_function(f"{live}?.textContent.includes('first line')")
    assert cell(page, 0).locator(".cell-state").inner_text() == "running…", "the cell has not ended"
    assert "second line" not in output(page, 0)
    assert cell(page, 0).locator("[data-output] b").count() == 0, "printed text is text"
    page.wait_for_function(FINISHED, arg=0)
    assert page.evaluate(live) is None, "the cell's outputs replace the streamed text"
    assert cell(page, 0).locator(".output-stream pre").inner_text() == "first line <b>not bold</b>\nsecond line"


def pyodide_packages_served_from(folder, site, names):
    """Stand in for Pyodide's package server, which this machine cannot reach: wheels of
    `names` rebuilt from this environment, and the site's pyodide-lock.json pointed at them
    (file name, version, digest), so Pyodide loads them as it would from its CDN."""
    lock_path = site / "_static" / "pyodide" / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text())
    folder.mkdir(exist_ok=True)
    for name in names:
        wheel = build_wheel(metadata.distribution(name))
        (folder / wheel.filename).write_bytes(wheel.data)
        lock["packages"][name].update(
            file_name=wheel.filename, version=wheel.version, sha256=hashlib.sha256(wheel.data).hexdigest()
        )
    lock_path.write_text(json.dumps(lock))


# about 50 s here: a site of its own built, Pyodide loaded, then plotly's 8 MB wheel fetched,
# unpacked and imported (8 s of it, once Python is ready)
@pytest.mark.slow
def test_plotly_is_installed_from_the_site_when_a_cell_first_imports_it(context, tmp_path):
    import plotly

    (tmp_path / "site").mkdir()
    server, url = serve(tmp_path / "site")  # first, so the build knows the packages' address
    try:
        site = build_fixture_site(tmp_path, FIXTURES.parent / "page-packages", package_base_url=url + "_packages/")
        pyodide_packages_served_from(site / "_packages", site, ["narwhals", "packaging"])
        page = open_essay(context, url + "01-plot.html")
        replace_code(page, 0, "x = 1")  # Python loads, and no wheel: nothing imports plotly yet
        cell(page, 0).get_by_role("button", name="Run").click()
        page.wait_for_function(FINISHED, arg=0)
        assert not [u for u in page.requests if "/_static/wheels/" in u]
        replace_code(
            page,
            0,
            "import plotly\nimport plotly.graph_objects as go\nfig = go.Figure(go.Bar(y=[4, 5, 6]))\n"
            "print(plotly.__version__, list(fig.data[0].y))",
        )
        wheel = f"_static/wheels/plotly-{plotly.__version__}-py3-none-any.whl"
        # a site published without its wheels: the cell does not run, and says what is missing
        (site / wheel).rename(tmp_path / "aside.whl")
        cell(page, 0).get_by_role("button", name="Run").click()
        page.wait_for_function(FINISHED, arg=0)
        text = output(page, 0)
        assert "Could not load the package plotly from this site" in text and url + wheel in text, text
        (tmp_path / "aside.whl").rename(site / wheel)  # back: the next run tries again
        cell(page, 0).get_by_role("button", name="Run").click()
        page.wait_for_function(FINISHED, arg=0, timeout=240_000)
        assert output(page, 0).startswith(f"{plotly.__version__} [4, 5, 6]"), output(page, 0)
        assert sum(u == url + wheel for u in page.requests) == 2
        assert page.errors == []
    finally:
        server.shutdown()
