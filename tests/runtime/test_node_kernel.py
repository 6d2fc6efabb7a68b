"""One kernel, two hosts: the same runtime/ files run under Pyodide in Node (npm `pyodide`,
no browser) give the same outputs as under CPython."""

import json
from pathlib import Path

import pytest
from support import run_node_harness

pytestmark = pytest.mark.slow  # Node and Pyodide start in seconds, not milliseconds

ROOT = Path(__file__).resolve().parents[2]

CONTROLS = (
    "from runtime.ui import checkbox, number, select, slider\n"
    't = slider("t", 0.1, 2.0, value=1.0, step=0.1)\n'
    'lr = slider("lr", 0.001, 1.0, value=0.1, scale="log")\n'
    'o = select("o", ["sgd", "adam"])\nc = checkbox("c")\nn = number("n", 5, min=1, max=10)\n'
    "print(t, lr, o, c, n)"
)
CELLS = [
    'print("hello", 1 + 1)\nx = 3',
    "y = [i * i for i in range(10)]\nz = {'a': x, 'b': 'text'}",
    "def f(n):\n    return n * 2\nf(x)",
    'show("<b>escaped</b>", "html")\ns = "x" * 150',
    'show({"data": [{"y": [1, 2]}], "layout": {}}, "chart")',
    "import math\nangle = math.pi / 4\nround(math.sin(angle), 6)",
    'from IPython.display import HTML, SVG\ndisplay(HTML("<i>hi</i>"), SVG("<svg></svg>"), 5)',
    # controls (runtime/ui.py): the build's defaults, then a reader's values, as the page sends them
    CONTROLS,
    [CONTROLS, json.dumps({"t": 0.7000000000000001, "lr": 0.0316, "o": 1, "c": True, "n": 99})],
    "1 / 0",
]


@pytest.fixture(scope="module")
def pyodide_results():
    return run_node_harness("node_kernel.mjs", stdin=json.dumps(CELLS))


def cpython_results():
    from runtime import page

    page._kernel = None  # a fresh kernel, as a new page has
    results = []
    for i, cell in enumerate(CELLS):
        source, values = cell if isinstance(cell, list) else (cell, "{}")
        results.append(json.loads(page.run(source, f"cell {i + 1}", "names", values)))
    return results


def test_pyodide_runs_a_newer_python(pyodide_results):
    assert pyodide_results["version"].startswith("3.1")


def test_outputs_are_identical_in_both_hosts(pyodide_results):
    ours = cpython_results()
    theirs = pyodide_results["results"]
    for i, (a, b) in enumerate(zip(ours[:-1], theirs[:-1], strict=True)):
        assert a == b, f"cell {i + 1} differs"


def test_controls_return_the_readers_values_in_both_hosts(pyodide_results):
    defaults, moved = pyodide_results["results"][-3:-1]
    assert "<pre>1.0 0.1 sgd False 5</pre>" in defaults["html"]
    assert "<pre>0.7 0.0316 adam True 10</pre>" in moved["html"]
    assert 'value="-1" aria-valuetext="0.1" aria-label="lr" disabled' in defaults["html"]


def test_errors_agree_on_type_place_and_message(pyodide_results):
    ours, theirs = cpython_results()[-1], pyodide_results["results"][-1]
    assert not ours["ok"] and not theirs["ok"]
    for html in (ours["html"], theirs["html"]):
        assert f"File &quot;cell {len(CELLS)}&quot;, line 1, in &lt;module&gt;" in html
        assert "ZeroDivisionError: division by zero</pre>" in html
