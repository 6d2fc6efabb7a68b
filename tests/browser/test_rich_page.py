"""Rich outputs in the page: diagrams drawn by the build, and drawn again by @viz-js/viz
after an edit; a value's own HTML, in the build and after a run."""

from __future__ import annotations

import pytest
from conftest import open_essay
from test_page import cell, replace_code, run

pytestmark = pytest.mark.browser


@pytest.fixture
def rich(context, site):
    return open_essay(context, site[1] + "04-rich.html")


def test_the_build_draws_diagrams_and_tables_into_the_static_page(rich):
    diagram = cell(rich, 0).locator(".output-dot")
    assert diagram.locator("svg").count() == 1 and "finish" in diagram.inner_text()
    assert diagram.get_attribute("data-dot") is None  # nothing left for the page to draw
    assert cell(rich, 1).locator("table.made").count() == 1


def test_an_edited_diagram_is_drawn_in_the_page(rich):
    replace_code(rich, 0, 'from runtime.display import Dot\nDot("digraph { alpha -> omega }")')
    run(rich, 0)
    rich.wait_for_function("document.querySelector(\"[data-cell='0'] .output-dot svg\")?.textContent.includes('omega')")
    assert any(url.endswith("/_static/viz.js") for url in rich.requests)  # the site's own Graphviz


def test_a_broken_diagram_says_why(rich):
    replace_code(rich, 0, 'from runtime.display import Dot\nDot("digraph { a -> ")')
    run(rich, 0)
    rich.wait_for_selector("[data-cell='0'] .diagram-error")
    assert "could not be drawn" in cell(rich, 0).locator(".diagram-error").inner_text()


def test_a_values_own_html_after_a_run(rich):
    replace_code(rich, 1, "class T:\n    def _repr_html_(self):\n        return '<b class=\"mine\">bold</b>'\nT()")
    run(rich, 1)
    assert cell(rich, 1).locator("b.mine").inner_text() == "bold"


def test_another_essays_module_imports_in_the_page(rich):
    assert "doubled:\n8" in cell(rich, 2).locator("[data-output]").inner_text()  # at build time
    replace_code(rich, 2, "from fixture_tools import double\ndoubled = double(21)")
    run(rich, 2)
    assert cell(rich, 2).locator("[data-output]").inner_text().endswith("doubled:\n42")
