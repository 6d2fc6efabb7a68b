"""A build ships the wheels of the pure-Python packages its cells import and Pyodide lacks
(issue 18, item 4): _static/wheels/, the runtime's manifest, the report."""

from __future__ import annotations

import json
import zipfile

import pytest

from builder.pipeline.static_files import PYODIDE_DIR

pytestmark = [
    pytest.mark.slow,  # a whole build, and plotly's wheel compressed once (seconds)
    pytest.mark.skipif(not (PYODIDE_DIR / "pyodide-lock.json").is_file(), reason="node_modules/pyodide is missing"),
]


def test_plotly_ships_as_a_wheel_and_numpy_comes_from_pyodide(project):
    import plotly

    project.write(
        "01-plot.md",
        """\
        # A chart

        <script>
        import plotly.graph_objects as go
        import numpy as np
        fig = go.Figure(go.Bar(y=list(np.arange(3))))
        </script>

        <script>
        import charts
        </script>
        """,
    )
    project.write("charts.py", "import plotly.express\n")  # a helper beside the essays
    result = project.build(report=project.root / "report.json")
    assert not result.failures
    name = f"plotly-{plotly.__version__}-py3-none-any.whl"
    wheel = project.site / "_static" / "wheels" / name
    with zipfile.ZipFile(wheel) as archive:
        assert "plotly/graph_objects/__init__.py" in archive.namelist()
    manifest = json.loads((project.site / "_static" / "runtime" / "manifest.json").read_text())
    [entry] = manifest["wheels"]
    assert entry == {
        "name": "plotly",
        "file": name,
        "imports": ["_plotly_utils", "plotly"],
        "requires": entry["requires"],
        "via": ["charts"],  # a cell that imports the helper needs plotly too
    }
    assert set(entry["requires"]) >= {"narwhals", "packaging"}, "plotly's requirements, which Pyodide has"
    report = json.loads((project.root / "report.json").read_text())["packages"]
    assert [s["file"] for s in report["shipped"]] == [f"_static/wheels/{name}"]
    assert {"numpy", "narwhals", "packaging"} <= set(report["pyodide"])
    assert result.packages is not None and result.packages.summary().startswith("the page's packages: ships plotly")
    # kept by name and version: the next build copies the same bytes instead of compressing again
    cached = project.root / ".essays-cache" / "wheels" / f"plotly-{plotly.__version__}--{name}"
    assert cached.read_bytes() == wheel.read_bytes()


def test_a_site_whose_cells_import_nothing_ships_no_wheel(project):
    project.write("01-plain.md", "# Plain\n\n<script>\nx = 1\n</script>\n")
    project.build()
    assert not (project.site / "_static" / "wheels").exists()
    manifest = json.loads((project.site / "_static" / "runtime" / "manifest.json").read_text())
    assert manifest["wheels"] == []
