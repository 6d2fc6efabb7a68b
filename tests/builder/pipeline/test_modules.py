"""Modules across essays: exported cells become a module other essays import, at build time
and in the site; cache keys of importing cells cover the modules they import."""

from __future__ import annotations

import json

import pytest
from support import cell_outputs, essays

from builder.diagnostics import Diagnostics
from builder.pipeline.modules import collect, module_text
from builder.pipeline.parse import parse_text

pytestmark = pytest.mark.slow

FIRST = """\
---
title: First
---
# First

<script data-export>
import math

def area(r):
    return math.pi * r * r
</script>

<script>
local_only = 1
</script>

<script data-export>
class Circle:
    def __init__(self, r):
        self.r = r

    def area(self):
        return area(self.r)
</script>
"""

SECOND = """\
# Second

<script>
from first import Circle
big = Circle(2).area()
</script>

<script>
after = round(big, 3)
</script>
"""

THIRD = "# Third\n\n<script>\nplain = 3\n</script>\n"


def report(project) -> dict[str, list[dict]]:
    data = json.loads((project.root / "r.json").read_text())
    return {e["page"]: e["cells"] for e in data["essays"]}


def test_an_essay_imports_another_essays_exported_cells(project):
    project.write("01-first.md", FIRST)
    project.write("02-second.md", SECOND)
    out = essays("build", "--strict", cwd=project.root)
    assert out.returncode == 0, out.stderr
    second = cell_outputs(project.page("02-second.html"))
    assert [(o.label, o.text) for o in second[1]] == [("after", "12.566")]
    shipped = project.site / "_static" / "modules" / "first.py"
    assert "class Circle" in shipped.read_text() and "local_only" not in shipped.read_text()
    manifest = json.loads((project.site / "_static" / "runtime" / "manifest.json").read_text())
    assert manifest["modules"][0] == "first.py"
    assert "latex2mathml/converter.py" in manifest["modules"]  # for `_repr_latex_` in the page


def test_module_lines_are_the_essays_lines():
    essay = parse_text(FIRST, __import__("pathlib").Path("01-first.md"))
    lines = module_text(essay, [c for c in essay.cells if c.export]).splitlines()
    assert lines[8] == "def area(r):"  # line 9 of the essay
    assert lines[17] == "class Circle:"  # line 18


def test_editing_an_exported_cell_reruns_the_importing_cells_and_those_after_them(project):
    project.write("01-first.md", FIRST)
    project.write("02-second.md", SECOND)
    project.write("03-third.md", THIRD)
    assert essays("build", "--report", "r.json", cwd=project.root).returncode == 0
    first = project.essays / "01-first.md"
    first.write_text(first.read_text().replace("return area(self.r)", "return round(area(self.r))"))
    out = essays("build", "--report", "r.json", cwd=project.root)
    assert out.returncode == 0, out.stderr
    cells = report(project)
    assert [c["cached"] for c in cells["01-first.html"]] == [True, True, False]
    assert [c["cached"] for c in cells["02-second.html"]] == [False, False]
    assert [c["cached"] for c in cells["03-third.html"]] == [True]
    assert ("after", "13") in [(o.label, o.text) for o in cell_outputs(project.page("02-second.html"))[1]]
    # a prose edit of the exporting essay changes no module: nothing runs
    first.write_text(first.read_text().replace("# First", "# First, again"))
    essays("build", "--report", "r.json", cwd=project.root)
    assert all(c["cached"] for cells in report(project).values() for c in cells)


def test_an_exported_cell_that_is_not_self_contained_is_a_warning():
    essay = parse_text(
        "# A\n\n<script>\nimport math\n</script>\n\n<script data-export>\ndef f(x):\n    y = x + 1\n    return math.sqrt(y)\n</script>\n",
        __import__("pathlib").Path("01-a.md"),
    )
    diagnostics = Diagnostics()
    modules = collect([essay], diagnostics)
    assert "a" in modules
    (warning,) = [str(d) for d in diagnostics.warnings()]
    assert warning.startswith("01-a.md:8: this exported cell reads `math`")  # not x or y: they are local


def test_module_names_that_would_hide_others_are_refused():
    essay = parse_text(
        "---\nmodule: json\n---\n<script data-export>\nx = 1\n</script>\n", __import__("pathlib").Path("01-a.md")
    )
    diagnostics = Diagnostics()
    modules = collect([essay], diagnostics)
    assert modules == {} and "would hide an installed module" in str(diagnostics.warnings()[0])
    named = parse_text(
        "---\nmodule: tools\n---\n<script data-export>\nx = 1\n</script>\n", __import__("pathlib").Path("01-a.md")
    )
    assert list(collect([named], Diagnostics())) == ["tools"]


def test_the_index_reads_as_a_series(project):
    project.write("01-first.md", FIRST)
    project.write("02-second.md", SECOND)
    project.write("guide.md", "# A guide\n\nNo number: not a chapter.\n")
    assert essays("build", cwd=project.root).returncode == 0
    index = project.page("index.html")
    chapters, guides = index.split("<h2>Guides</h2>")
    assert '<li value="1">' in chapters and '<li value="2">' in chapters and "A guide" in guides
    assert 'Builds on <a href="01-first.html">1. First</a>.' in chapters
    assert 'Builds on <a href="01-first.html">1. First</a>.' in project.page("02-second.html")
    assert "Builds on" not in project.page("01-first.html")


def test_a_module_made_at_run_time_does_not_stop_the_build(monkeypatch):
    """A process that already holds a module of that name with no spec (a test harness, a
    notebook) must not break the check that names hide no installed module."""
    import sys
    import types

    monkeypatch.setitem(sys.modules, "first", types.ModuleType("first"))  # its __spec__ is None
    essay = parse_text(FIRST, __import__("pathlib").Path("01-first.md"))
    diagnostics = Diagnostics()
    modules = collect([essay], diagnostics)
    assert list(modules) == ["first"] and not diagnostics
