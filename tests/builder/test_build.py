"""The whole pipeline on small projects: pages, links, assets, report, atomic writes."""

import json
import re

import pytest
from support import cell_outputs

from builder import build as build_module
from builder.pipeline import static_files

ESSAY_ONE = """\
---
title: First steps
description: Where it starts.
---
# First steps

Some prose with a [link](#counter).

## A section

<script id="counter">
count = 3
print("printed <b>bold</b>")
</script>

```python
never_run = 1 / 0
```
"""

ESSAY_TWO = """\
# Second

<script>
import json
data = json.load(open("data/numbers.json"))
total = sum(data)
</script>

<script>
raise ValueError("boom")
</script>

<script>
after = total * 2
</script>
"""


@pytest.fixture
def two_essays(project):
    project.write("01-first.md", ESSAY_ONE)
    project.write("02-second.md", ESSAY_TWO)
    project.write("data/numbers.json", "[1, 2, 3]")
    return project


def test_pages_index_and_assets(two_essays):
    result = two_essays.build()
    site = two_essays.site
    assert sorted(p.name for p in site.iterdir()) == [
        ".essays-site",
        ".nojekyll",
        "01-first.html",
        "02-second.html",
        "_static",
        "data",
        "index.html",
    ]
    assert (site / "data" / "numbers.json").read_text() == "[1, 2, 3]"
    assert (site / "_static" / "plotly.min.js").stat().st_size > 1_000_000
    index = two_essays.page("index.html")
    assert index.index("First steps") < index.index("Second") and "Where it starts." in index
    assert [e.status for e in result.essays] == ["ok", "error"]


def test_the_folders_and_the_imported_modules_beside_the_essays_are_published(project):
    """Top-level files (credentials.txt beside the essays) were published, although the
    README spoke only of folders. They stay readable at build time; a top-level module a
    cell imports is published (the page's re-run imports it too), one no cell imports is not."""
    project.write("credentials.txt", "API_KEY=hunter2")
    project.write("helpers.py", "import shapes\ndef double(x):\n    return shapes.TWO * x\n")
    project.write("shapes.py", "TWO = 2\n")
    project.write("secrets.py", "SECRET = 'hunter2'\n")
    project.write("notes.json", "{}")
    project.write("data/numbers.json", "[1, 2, 3]")
    project.write("lib/tools.py", "def triple(x):\n    return 3 * x\n")
    project.write(
        "01-a.md",
        """\
        <script>
        import json, helpers
        from lib import tools
        key = open("credentials.txt").read().split("=")[1]
        value = helpers.double(tools.triple(sum(json.load(open("data/numbers.json")))))
        </script>
        """,
    )
    result = project.build()
    assert result.failures == []
    assert "value:</span><pre>36</pre>" in project.page("01-a.html")
    published = sorted(p.relative_to(project.site).as_posix() for p in project.site.rglob("*") if p.is_file())
    assert "data/numbers.json" in published and "lib/tools.py" in published
    assert "helpers.py" in published and "shapes.py" in published
    assert not {"credentials.txt", "secrets.py", "notes.json"} & set(published)
    manifest = json.loads((project.site / "_static" / "runtime" / "manifest.json").read_text())
    assert manifest["assets"] == ["data/numbers.json", "helpers.py", "lib/tools.py", "shapes.py"]
    assert all(
        b"hunter2" not in p.read_bytes() for p in project.site.rglob("*") if p.is_file() and p.name != "01-a.html"
    )


def test_a_file_a_cell_writes_beside_the_essays_is_not_published_and_says_so(project):
    project.write(
        "01-a.md",
        """\
        <script>
        import os
        os.makedirs("figures", exist_ok=True)
        open("figures/ok.svg", "w").write("<svg/>")
        open("line.svg", "w").write("<svg/>")
        open(".scratch", "w").write("x")
        </script>
        """,
    )
    result = project.build()
    assert (project.site / "figures" / "ok.svg").is_file() and not (project.site / "line.svg").exists()
    assert [w for w in result.warnings if "wrote" in w] == [
        "essays/01-a.md:2: cell 1 wrote line.svg beside the essays, where nothing is published: "
        "write it into a folder (figures/line.svg) to publish it"
    ]


def test_a_timeout_the_clock_cannot_hold_names_its_line_and_the_site_is_built(project):
    """data-timeout="inf" raised OverflowError in the worker's wait: no site at all."""
    project.write("01-a.md", '# A\n\n<script data-timeout="inf">\nx = 1\n</script>\n')
    project.write("02-b.md", "# B\n\n<script>\ny = 2\n</script>\n")
    result = project.build()
    assert [str(e.error) for e in result.essays if e.error] == [
        'essays/01-a.md:3: data-timeout must be a number of seconds above 0 and at most 86400 (a day), not "inf"'
    ]
    assert "y:</span><pre>2</pre>" in project.page("02-b.html")


def test_essay_page_has_code_outputs_anchors_and_nav(two_essays):
    two_essays.build()
    page = two_essays.page("01-first.html")
    assert '<section class="cell cell-ok" id="counter" data-cell="0"' in page
    assert '<span class="output-label">count:</span><pre>3</pre>' in page
    assert "printed &lt;b&gt;bold&lt;/b&gt;" in page  # printed text is escaped
    assert 'id="a-section"' in page and 'href="#counter"' in page
    assert '<span class="n">never_run</span>' in page  # fenced code highlighted, not run
    assert 'rel="next" href="02-second.html"' in page and 'rel="prev"' not in page
    second = two_essays.page("02-second.html")
    assert 'rel="prev" href="01-first.html"' in second
    assert "ValueError: boom" in second and '<span class="output-label">after:</span><pre>12</pre>' in second


def test_links_are_relative(two_essays):
    two_essays.build()
    for name in ("index.html", "01-first.html", "02-second.html"):
        for url in re.findall(r'(?:href|src)="([^"]*)"', two_essays.page(name)):
            assert not url.startswith(("/", "http:", "https:", "//")), (name, url)


def test_report_json(two_essays, tmp_path):
    report = tmp_path / "out" / "report.json"
    two_essays.build(report=report)
    data = json.loads(report.read_text())
    assert data["seconds"] > 0
    first, second = data["essays"]
    assert first["source"].endswith("01-first.md") and first["page"] == "01-first.html"
    assert first["title"] == "First steps" and first["status"] == "ok"
    assert first["cells"] == [
        {
            "index": 0,
            "id": "counter",
            "line": 12,
            "status": "ok",
            "seconds": first["cells"][0]["seconds"],
            "cached": False,
        }
    ]
    assert [c["status"] for c in second["cells"]] == ["ok", "error", "ok"]


def test_broken_essay_never_stops_the_others(project):
    project.write("01-bad.md", "<script>\nx = 1\n")
    project.write("02-good.md", "# Good\n\n<script>\ny = 2\n</script>\n")
    result = project.build()
    assert [e.status for e in result.essays] == ["invalid", "ok"]
    assert "&lt;script&gt; is never closed" in project.page("01-bad.html")
    assert "y:</span><pre>2</pre>" in project.page("02-good.html")
    assert result.failures == ["essays/01-bad.md:1: <script> is never closed"]  # relative to where we are


def test_broken_essay_keeps_its_last_good_page(project):
    path = project.write("01-a.md", "# A\n\n<script>\nx = 1\n</script>\n")
    project.build()
    good = project.page("01-a.html")
    path.write_text("# A\n\n<script>\nx = 2\n")
    project.build()
    assert project.page("01-a.html") == good


def test_failed_build_leaves_the_previous_site(two_essays, monkeypatch):
    two_essays.build()
    before = {p.relative_to(two_essays.site): p.read_bytes() for p in two_essays.site.rglob("*") if p.is_file()}

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build_module, "render_index", explode)
    with pytest.raises(RuntimeError):
        two_essays.build()
    after = {p.relative_to(two_essays.site): p.read_bytes() for p in two_essays.site.rglob("*") if p.is_file()}
    assert after == before
    leftovers = [p.name for p in two_essays.root.iterdir() if p.name.startswith(".site-")]
    assert leftovers == []


def test_templates_folder_overrides_builtin(two_essays):
    two_essays.write("templates/index.html", "CUSTOM {{ nav|length }}")
    two_essays.build()
    assert two_essays.page("index.html") == "CUSTOM 2"


def page_config(page: str) -> dict:
    return json.loads(re.search(r'id="essay-config">(.*?)</script>', page).group(1))


def test_chart_pages_load_plotly_and_others_do_not(project):
    project.write("01-chart.md", '<script>\nshow({"data": [{"y": [1, 2]}]}, "chart")\n</script>\n')
    project.write("02-plain.md", "<script>\nx = 1\n</script>\n")
    project.build()
    chart = project.page("01-chart.html")
    assert page_config(chart)["plotly"]["page"] in ("plotly-cartesian.min.js", "plotly.min.js")
    assert page_config(project.page("02-plain.html"))["plotly"]["page"] is None
    # figures.js loads it when a chart comes near the screen: no <script> fetches it up front
    assert '<script src="_static/plotly' not in chart
    assert "data-figure-json" in chart


needs_cartesian = pytest.mark.skipif(
    not static_files.CARTESIAN_FILE.is_file(), reason="node_modules/plotly.js-cartesian-dist-min is missing: run npm ci"
)


@needs_cartesian
def test_a_page_of_cartesian_charts_loads_the_small_plotly_bundle(project):
    project.write(
        "01-chart.md",
        '<script>\nshow({"data": [{"y": [1, 2]}, {"type": "heatmap", "z": [[1]]}, {"type": "bar", "y": [3]}]}, "c")\n</script>\n',
    )
    project.write(
        "02-3d.md", '<script>\nshow({"data": [{"type": "scatter3d", "x": [1], "y": [1], "z": [1]}]})\n</script>\n'
    )
    project.build()
    config = page_config(project.page("01-chart.html"))
    assert config["plotly"]["page"] == "plotly-cartesian.min.js"
    # a trace type the small bundle cannot draw: the full one
    assert page_config(project.page("02-3d.html"))["plotly"]["page"] == "plotly.min.js"
    # both are in the site: a reader's edit may need the full one on the first page
    static = project.site / "_static"
    assert (static / "plotly-cartesian.min.js").stat().st_size < (static / "plotly.min.js").stat().st_size / 2
    assert config["plotly"]["small"] == "plotly-cartesian.min.js" and "scatter" in config["plotly"]["covers"]
    assert config["plotly"]["full"] == "plotly.min.js"


@needs_cartesian
def test_the_small_plotly_bundle_is_the_version_the_python_package_ships():
    """Figures are made by plotly.py for its own plotly.js; the small bundle must be that one."""

    def version(path):
        return re.search(rb"plotly\.js[^\n]*? v(\d+\.\d+\.\d+)", path.read_bytes()[:2000]).group(1)

    assert version(static_files.CARTESIAN_FILE) == version(static_files.plotly_js())


def test_trace_types_default_to_scatter_and_ignore_what_is_not_a_trace():
    figures = [{"data": [{"y": [1]}, {"type": "pie"}, "junk"]}, {"layout": {}}, None, {"data": {"type": "bar"}}]
    assert static_files.trace_types(figures) == {"scatter", "pie"}


def test_notebooks_beside_the_essays_are_not_published(project):
    project.write("01-a.md", "# A\n")
    project.write("data/source.ipynb", "{}")
    project.write("data/numbers.csv", "1,2\n")
    project.build()
    assert (project.site / "data" / "numbers.csv").is_file()
    assert not (project.site / "data" / "source.ipynb").exists()


def test_no_essays_folder_is_an_error(tmp_path):
    from builder.build import build
    from builder.config import Config
    from builder.paths import PathError

    with pytest.raises(PathError, match="no such folder"):
        build(Config(source=tmp_path / "missing", output=tmp_path / "site"))


def test_a_cell_whose_html_has_a_pre_publishes_it_and_the_prose_after(project):
    # CommonMark ends a <script> HTML block at </pre>: a cell must run on to its </script>
    project.write(
        "01-repr.md",
        """\
        # Repr

        <script>
        class Boxed:
            def __init__(self, x):
                self.x = x

            def _repr_html_(self):
                return "<pre>" + str(self.x) + "</pre>"

        Boxed(41)
        </script>

        Prose after the cell.

        <script>
        Boxed(42)
        </script>
        """,
    )
    result = project.build()
    assert [e.status for e in result.essays] == ["ok"]
    page = project.page("01-repr.html")
    shown = cell_outputs(page)
    assert [[(o.kind, o.text) for o in outputs if o.label is None] for outputs in shown] == [
        [("html", "41")],
        [("html", "42")],
    ]
    assert "<p>Prose after the cell.</p>" in page


def test_show_and_hide_reach_the_worker_and_the_page(project):
    project.write(
        "01-styles.md",
        """\
        ---
        show: last
        ---
        # Styles

        <script data-hide="code">
        from IPython.display import HTML
        x = 5
        display(HTML("<i>shown</i>"))
        x + 1
        </script>

        <script data-show="names" data-hide="output">
        y = x * 2
        </script>
        """,
    )
    result = project.build()
    assert not result.diagnostics.errors(), [str(d) for d in result.diagnostics.errors()]
    page = project.page("01-styles.html")
    first, second = cell_outputs(page)
    assert [(o.kind, o.label) for o in first] == [("html", None), ("value", None)]
    assert first[1].text == "6"
    assert [(o.label, o.text) for o in second] == [("y", "10")]
    assert re.search(r'<section class="cell cell-ok cell-hide-code"[^>]* data-show="last"', page)
    assert re.search(r'<section class="cell cell-ok cell-hide-output"[^>]*>', page)
    assert 'data-show="names"' not in page  # the default is not written


def test_a_failed_cells_summary_names_the_line_of_the_error_and_the_exporting_essay(project):
    project.write("01-walks.md", "# Walks\n\n<script data-export>\ndef many_walks(n):\n    return n\n</script>\n")
    project.write("02-use.md", "# Use\n\n<script>\nx = 1\nfrom walks import many_walk\n</script>\n")
    result = project.build()
    (problem,) = [str(d) for d in result.diagnostics.errors()]
    assert problem == (
        "essays/02-use.md:5: cell 1: ImportError: cannot import name 'many_walk' from 'walks' "
        "(the module of 01-walks.md): did you mean 'many_walks'?"
    )


def test_every_site_has_a_nojekyll_file_so_github_pages_keeps_static(project):
    project.write("01-a.md", "# A\n")
    project.build()
    assert (project.site / ".nojekyll").read_bytes() == b""
    assert (project.site / "_static" / "style.css").is_file()
