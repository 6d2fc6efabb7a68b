"""In Pyodide (npm `pyodide` under Node), what a cell prints reaches the page's `emit` while
the cell still runs, and the outputs at its end are those of a run without it."""

from pathlib import Path

import pytest
from support import run_node_harness

pytestmark = pytest.mark.slow  # Node and Pyodide start in seconds, not milliseconds

ROOT = Path(__file__).resolve().parents[2]
CELL = "import time\nprint('first')\nt = time.time()\nwhile time.time() - t < 1.0:\n    pass\nprint('second')"


def test_the_first_line_arrives_before_the_cell_ends():
    ran = run_node_harness("node_stream.mjs", stdin=CELL)
    assert "".join(c["text"] for c in ran["chunks"]) == "first\nsecond\n"
    first = next(c for c in ran["chunks"] if c["text"] == "first")
    assert first["at"] < ran["ended"] - 900, "sent before the second of busy work, not at the end"
    assert ran["result"]["ok"] and "first\nsecond</pre>" in ran["result"]["html"]
