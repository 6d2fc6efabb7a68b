"""Where each package the page needs comes from (builder/pipeline/page_packages.py)."""

from __future__ import annotations

import json
import textwrap

import pytest
from distributions import make_distribution

from builder.cache.depends import Depends
from builder.diagnostics import Diagnostics
from builder.pipeline.page_packages import plan
from builder.pipeline.parse import parse_essay
from builder.records import CellResult, EssayBuild


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A site-packages folder on sys.path, where importlib.metadata finds what tests install."""
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def lock(tmp_path):
    """A pyodide-lock.json that distributes numpy and packaging, and nothing else."""
    path = tmp_path / "pyodide-lock.json"
    packages = {
        "numpy": {"name": "numpy", "imports": ["numpy"], "file_name": "numpy.whl", "depends": []},
        "packaging": {"name": "packaging", "imports": ["packaging"], "file_name": "packaging.whl", "depends": []},
    }
    path.write_text(json.dumps({"packages": packages}))
    return path


def essay_build(tmp_path, *cells: str, results: list[CellResult] | None = None) -> EssayBuild:
    text = "# Essay\n\n" + "\n\n".join(f"<script>\n{textwrap.dedent(c).strip()}\n</script>" for c in cells) + "\n"
    path = tmp_path / "01-essay.md"
    path.write_text(text)
    return EssayBuild(path, essay=parse_essay(path), results=results or [])


def test_a_pure_package_pyodide_lacks_is_shipped_with_what_it_requires(tmp_path, site, lock):
    make_distribution(site, "demo-pkg", requires=("helper-dep>=1", "packaging", "fast-extra; extra == 'fast'"))
    make_distribution(site, "helper-dep", "2.0")
    make_distribution(site, "fast-extra", "1.0")
    diagnostics = Diagnostics()
    packages = plan([essay_build(tmp_path, "import demo_pkg.sub as d", "import numpy")], lock, None, diagnostics)
    assert [w.filename for w in packages.shipped] == [
        "demo_pkg-1.2-py3-none-any.whl",
        "helper_dep-2.0-py3-none-any.whl",
    ], "an extra's requirement is not shipped"
    assert packages.manifest() == [
        {
            "name": "demo-pkg",
            "file": "demo_pkg-1.2-py3-none-any.whl",
            "imports": ["demo_pkg"],
            "requires": ["helper-dep", "packaging"],
            "via": [],
        },
        {
            "name": "helper-dep",
            "file": "helper_dep-2.0-py3-none-any.whl",
            "imports": ["helper_dep"],
            "requires": [],
            "via": [],
        },
    ]
    assert "numpy" in packages.pyodide
    assert not packages.unavailable and not list(diagnostics)


def test_a_compiled_package_pyodide_lacks_is_a_warning_at_the_cell_that_imports_it(tmp_path, site, lock):
    make_distribution(site, "democ", files={"democ/__init__.py": "", "democ/_c.so": b"\x7fELF"})
    diagnostics = Diagnostics()
    b = essay_build(tmp_path, "x = 1", "import democ")
    packages = plan([b], lock, None, diagnostics)
    assert not packages.shipped
    assert packages.unavailable == {"democ": "it has compiled code (democ/_c.so)"}
    [warning] = diagnostics.warnings()
    assert (warning.path, warning.line) == (b.source, b.essay.cells[1].line)
    assert "democ cannot be installed in the page: it has compiled code" in warning.message
    assert "this cell cannot run in the page" in warning.message


def test_a_package_loaded_on_the_side_is_not_shipped_but_is_listed_when_pyodide_has_it(tmp_path, site, lock):
    make_distribution(site, "side-pkg")
    depends = Depends(distributions={"side-pkg": "1.2", "numpy": "2.0"})
    b = essay_build(tmp_path, "import json", results=[CellResult("ok", depends=depends)])
    diagnostics = Diagnostics()
    packages = plan([b], lock, None, diagnostics)
    assert not packages.shipped, "no cell imports it, so the page would never install it"
    assert packages.pyodide == ["numpy"]
    assert not list(diagnostics)


def test_without_pyodide_nothing_is_decided(tmp_path, site):
    make_distribution(site, "demo-pkg")
    packages = plan([essay_build(tmp_path, "import demo_pkg")], tmp_path / "missing.json", None, Diagnostics())
    assert packages.summary() is None and not packages.shipped


def test_the_runtime_and_the_packages_the_page_has_are_not_shipped(tmp_path, site, lock):
    make_distribution(site, "latex2mathml-like", files={"latex2mathml_like/__init__.py": ""})
    diagnostics = Diagnostics()
    b = essay_build(tmp_path, "from runtime.html import outputs_html", "import latex2mathml_like")
    packages = plan([b], lock, None, diagnostics, skip=("latex2mathml-like",))
    assert not packages.shipped and not packages.unavailable and not list(diagnostics)


def test_the_summary_names_what_ships_and_what_pyodide_gives(tmp_path, site, lock):
    make_distribution(site, "demo-pkg", requires=("packaging",))
    packages = plan([essay_build(tmp_path, "import demo_pkg")], lock, None, Diagnostics())
    assert packages.summary() == "the page's packages: ships demo-pkg 1.2 (0.0 MB); from Pyodide: packaging"
    report = packages.to_dict()
    assert report["shipped"][0]["file"] == "_static/wheels/demo_pkg-1.2-py3-none-any.whl"
    assert report["pyodide"] == ["packaging"]


def test_a_package_installed_between_two_builds_is_seen_by_the_second(tmp_path, site, lock):
    b = essay_build(tmp_path, "import later_pkg")
    assert not plan([b], lock, None, Diagnostics()).shipped
    make_distribution(site, "later-pkg")  # the dev server runs on; the author installs a package
    assert [w.name for w in plan([b], lock, None, Diagnostics()).shipped] == ["later-pkg"]


def test_a_package_imported_through_an_essays_module_is_shipped_for_the_cells_that_import_it(tmp_path, site, lock):
    make_distribution(site, "demo-pkg")
    sources = {"charts": "import tools\n", "tools": "import demo_pkg\nimport numpy\n", "plain": "import json\n"}
    b = essay_build(tmp_path, "from charts import draw")
    packages = plan([b], lock, None, Diagnostics(), sources=sources)
    [entry] = packages.manifest()
    assert entry["name"] == "demo-pkg"
    assert entry["via"] == ["charts", "tools"], "a cell importing either needs the wheel"
    assert "numpy" in packages.pyodide
