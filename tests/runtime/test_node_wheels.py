"""The site's wheels install in Pyodide (npm `pyodide` under Node) the way the page's worker
installs them (runtime/js/worker/wheels.js): fetched when a cell's imports need them, with
what they require first, once, and named with the address tried when one cannot be had."""

import json
from pathlib import Path

import pytest
from distributions import make_distribution
from support import run_node_harness

from builder.pipeline.page_packages import PagePackages
from builder.pipeline.wheels import build_wheel

pytestmark = pytest.mark.slow  # Node and Pyodide start in seconds, not milliseconds

ROOT = Path(__file__).resolve().parents[2]


def run_in_node(folder: Path, cells: list[str]) -> list[dict]:
    return run_node_harness("node_wheels.mjs", str(folder), stdin=json.dumps(cells))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    installed = tmp_path_factory.mktemp("site-packages")
    folder = tmp_path_factory.mktemp("wheels")
    demo = make_distribution(
        installed,
        "demo-pkg",
        files={"demo_pkg/__init__.py": 'import helper_dep\nVALUE = "demo with " + helper_dep.NAME\n'},
        requires=("helper-dep",),
    )
    helper = make_distribution(installed, "helper-dep", "2.0", files={"helper_dep/__init__.py": 'NAME = "helper"\n'})
    wheels = [build_wheel(demo), build_wheel(helper)]
    for wheel in wheels:
        (folder / wheel.filename).write_bytes(wheel.data)
    # one that cells reach only through a helper module beside the essays
    via = build_wheel(make_distribution(installed, "via-pkg", files={"via_pkg/__init__.py": 'NAME = "via"\n'}))
    (folder / via.filename).write_bytes(via.data)
    # a wheel the manifest names but the site lacks (a partial upload)
    gone = build_wheel(make_distribution(installed, "gone-pkg"))
    packages = PagePackages(
        shipped=[*wheels, via, gone], requires={"demo-pkg": ["helper-dep"]}, via={"via_helper": {"via_pkg"}}
    )
    (folder / "manifest.json").write_text(json.dumps(packages.manifest()))
    cells = [
        "import json\njson.dumps(1)",
        "import demo_pkg\ndemo_pkg.VALUE",
        "from importlib.metadata import version\nversion('demo-pkg') + ' ' + version('helper-dep')",
        "import demo_pkg, helper_dep\nhelper_dep.NAME",
        "import gone_pkg",
        "import sys\nopen('/home/pyodide/via_helper.py', 'w').write('import via_pkg\\nNAME = via_pkg.NAME\\n')\n"
        "sys.path.insert(0, '/home/pyodide')",
        "import via_helper\nvia_helper.NAME",
    ]
    return run_in_node(folder, cells)


def test_a_cell_that_imports_no_shipped_package_fetches_nothing(results):
    assert results[0] == {"failed": [], "value": "1", "fetched": 0}


def test_a_shipped_wheel_installs_with_what_it_requires(results):
    assert results[1]["failed"] == []
    assert results[1]["value"] == "demo with helper"
    assert results[1]["fetched"] == 2


def test_the_installed_wheel_has_its_metadata(results):
    assert results[2]["value"] == "1.2 2.0"


def test_a_wheel_is_fetched_once(results):
    assert results[3]["value"] == "helper" and results[3]["fetched"] == 2


def test_a_missing_wheel_is_named_with_its_address(results):
    [failed] = results[4]["failed"]
    assert failed["name"] == "gone-pkg" and failed["site"] is True
    assert failed["url"].endswith("/gone_pkg-1.2-py3-none-any.whl")
    assert "HTTP 404" in failed["reason"]


def test_a_wheel_a_helper_module_imports_installs_for_the_cell_importing_the_helper(results):
    assert results[5]["failed"] == [] and results[5]["fetched"] == 2
    assert results[6] == {"failed": [], "value": "via", "fetched": 3}
