"""pipeline/render.py's reactive_names: each cell's names, shipped to a page with a control
(issue 23) so a move re-runs what depends on it."""

from pathlib import Path

from builder.pipeline.parse import Cell, parse_text
from builder.pipeline.render import CellNames, reactive_names
from builder.records import CellResult
from runtime.display import Output

ESSAY = """# Names

<script>
import math
from runtime.ui import slider
rate = slider("rate", 0, 1)
</script>

<script>
def step(x):
    return x * rate * math.pi
y = step(2)
print(len(str(y)))
</script>

<script>
def (
</script>
"""


def cells_and_results(control: bool):
    essay = parse_text(ESSAY, Path("names.md"))
    cells = [b for b in essay.blocks if isinstance(b, Cell)]
    first = [Output("control", text="0.0", label="rate")] if control else []
    return cells, [CellResult("ok", first), CellResult("ok"), CellResult("error")]


def test_a_page_with_a_control_gets_each_cells_names():
    names = reactive_names(*cells_and_results(control=True))
    # imports never change, so the first cell defines `rate` only; builtins and modules'
    # attributes are no cell's names, so they are not reads
    assert names[0] == CellNames("rate", "")
    assert names[1] == CellNames("step y", "rate step y")
    assert names[2] == CellNames("", "*")  # it does not parse: it could read anything


def test_a_page_without_a_control_gets_none():
    assert reactive_names(*cells_and_results(control=False)) == {}
