"""The page starts from the build's state under Pyodide (npm `pyodide` in Node): values of
the standard library's types, an essay's function and class and an object of that class
come back from the files the build writes, and the last cell runs on them as it would
after every cell above."""

import json
import sys
from pathlib import Path

import pytest
from support import run_node_harness

from builder.execution.state import StateRecorder
from builder.records import CellResult
from builder.state import plan_state, read_from
from runtime import page
from runtime.imports import MODULE_HEADER
from runtime.kernel import Kernel

pytestmark = pytest.mark.slow  # Node and Pyodide start in seconds

ROOT = Path(__file__).resolve().parents[2]

CELLS = [
    "import math\nfrom collections import Counter, OrderedDict\nimport datetime\n"
    "words = Counter('the cat and the hat'.split())\nwhen = datetime.date(2024, 5, 1)\n"
    "data = {'xs': [1.5, 2, 3], 'pair': (1, 'a'), 'kinds': {1, 2}, 'z': 1 + 2j, 'o': OrderedDict(a=1)}",
    "class Walker:\n    step = 2\n\n    def __init__(self, start):\n        self.at = start\n\n"
    "    def walk(self, n):\n        return [self.at + self.step * i for i in range(n)]\n\n\n"
    "def total(xs):\n    return math.fsum(xs)\n\n\nw = Walker(10)\nw.at = 11\nfns = [total]",
    "gen = (i for i in range(3))",
    "(total(data['xs']), fns[0]([1, 2]), w.walk(3), sorted(words.items()), when.isoformat(),"
    " data['z'] * 2, sorted(data['kinds']), type(w).__name__, data['o'])",
]


def build_state(folder: Path, cells: list[str] = CELLS) -> None:
    """What the build's worker and builder/state.py write for `cells` (the last left to
    run), into `folder`."""
    kernel = Kernel()
    recorder = StateRecorder("essay.md")
    results = []
    line = 1
    for index, source in enumerate(cells[:-1]):
        assert kernel.execute(source, "essay.md", line).ok
        recorder.add(index, line, source)
        state, blobs = recorder.record(kernel.namespace, folder)
        results.append(CellResult("ok", seconds=1.0, state=state, state_blobs=blobs))
        line += len(source.splitlines()) + 3
    plan = plan_state(results, 10_000_000)
    assert plan is not None
    read = read_from(folder)
    for digest, ext in plan.files:
        data = read(digest)
        assert data is not None
        (folder / f"{digest}.{ext}").write_bytes(data)
    (folder / "essay.json").write_text(json.dumps(plan.manifest), encoding="utf-8")


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("state")
    build_state(folder)

    def run(latest: int, sources: list[str] = CELLS, state: Path = folder, modules: dict | None = None) -> dict:
        job = {"state": str(state), "sources": sources, "latest": latest, "modules": modules or {}}
        return run_node_harness("node_resume.mjs", stdin=json.dumps(job))

    return run


def every_cell_in_cpython(cells: list[str] = CELLS) -> dict:
    page._kernel = None
    results = [json.loads(page.run(source, f"cell {i + 1}")) for i, source in enumerate(cells)]
    page._kernel = None
    return results[-1]


def test_the_last_cell_runs_on_the_restored_state_as_after_every_cell(resumed):
    got = resumed(3)
    assert got["plan"]["boundary"] == 3
    assert got["restored"] == {"values": 5, "definitions": 2}  # data, words, when, w, fns; Walker, total
    assert got["result"]["ok"], got["result"]["html"]
    assert got["result"] == every_cell_in_cpython()


def test_a_generator_the_cell_reads_sends_the_page_to_an_earlier_state(resumed):
    sources = [*CELLS[:-1], "list(gen), total([1.0])"]
    got = resumed(3, sources)
    assert got["plan"]["boundary"] == 2  # cell 3, which makes the generator, runs in the page
    assert got["plan"]["why"] == "`gen` (a generator) cannot be restored"


TALLY = (
    MODULE_HEADER.format(source="02-tally.md")
    + """
from collections import Counter


class Tally:
    def __init__(self, words):
        self.counts = Counter(words)
        self.seen = {w: len(w) for w in words}

    def top(self, n):
        return self.counts.most_common(n) + sorted(self.seen.items())
"""
)
TALLY_CELLS = [
    "from tally import Tally\nt = Tally('a bb a ccc a bb'.split())\nboth = {'x': t, 'y': t}",
    "t.top(2), both['x'] is both['y'] is t, type(t).__module__, type(t).__name__",
]


def test_an_object_of_an_exported_modules_class_comes_back_in_the_page(resumed, tmp_path, monkeypatch):
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "tally.py").write_text(TALLY, encoding="utf-8")
    monkeypatch.syspath_prepend(str(modules))
    state = tmp_path / "state"
    state.mkdir()
    try:
        build_state(state, TALLY_CELLS)
        expected = every_cell_in_cpython(TALLY_CELLS)
    finally:
        sys.modules.pop("tally", None)
    manifest = json.loads((state / "essay.json").read_text(encoding="utf-8"))
    t = manifest["entries"][manifest["boundaries"][0]["t"]]
    assert t["kind"] == "json" and t["modules"] == ["tally"]
    got = resumed(1, TALLY_CELLS, state=state, modules={"tally": TALLY})
    assert got["plan"]["boundary"] == 1 and got["restored"]["values"] == 2
    assert "import tally" in got["plan"]["packages_code"] and "class Tally" in got["plan"]["packages_code"]
    assert got["result"]["ok"], got["result"]["html"]
    assert got["result"] == expected


RANDOM_CELLS = ["import random\nr = random.Random(5)\nfirst = r.random()", "r.random(), r.randint(1, 10**6)"]


def test_a_random_generator_goes_on_in_the_page_where_the_build_left_it(resumed, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    build_state(state, RANDOM_CELLS)
    got = resumed(1, RANDOM_CELLS, state=state)
    assert got["plan"]["boundary"] == 1
    assert got["result"]["ok"], got["result"]["html"]
    assert got["result"] == every_cell_in_cpython(RANDOM_CELLS)
