"""Cells that timed out, remembered by the dev server (builder/execution/timeouts.py): said
once, with a data-timeout that would let them finish; not run again while their key
stands; run again once it, or a cell above it, changes. Nothing of it reaches the cache."""

from __future__ import annotations

import pytest

from builder.cache.entries import Cache
from builder.execution.execute import execute_essay
from builder.execution.timeouts import Timeouts, suggested_limit
from builder.pipeline.parse import parse_essay

ESSAY = """\
# Slow

<script>
x = 2
</script>

<script data-timeout="1">
open("ran.txt", "a").write("slow ran\\n")
import time
time.sleep(60)
</script>

<script>
y = x * 21
</script>
"""


def test_the_suggestion_extrapolates_an_iterated_cell_and_is_generous_otherwise():
    assert suggested_limit(10, (1, 10)) == 180  # 100 s of work, half as much again, to the minute
    assert suggested_limit(10, None) == 40
    assert suggested_limit(10, (0, 10)) == 40  # no iteration done: nothing to extrapolate from
    assert suggested_limit(100, None) == 420


@pytest.mark.slow
def test_a_timed_out_cell_is_said_once_and_not_run_again_until_its_key_changes(project):
    said: list[str] = []
    timeouts = Timeouts(said.append)
    cache = Cache(project.root / ".cache", project.essays)
    path = project.write("01-slow.md", ESSAY)
    ran = project.essays / "ran.txt"

    def build() -> list:
        return execute_essay(parse_essay(path), 30.0, cache=cache, timeouts=timeouts)

    first = build()
    assert [r.status for r in first] == ["ok", "timeout", "ok"]
    assert first[2].outputs[0].text == "42"  # the cell below ran, in the state from before the slow one
    assert len(said) == 1 and said[0].startswith("01-slow.md:7: cell 2 timed out after 1 s")
    assert said[0].endswith('give it more time: data-timeout="10" on its <script> tag')
    assert ran.read_text() == "slow ran\n"

    started: list[int] = []
    again = execute_essay(
        parse_essay(path), 30.0, cache=cache, timeouts=timeouts, started=lambda c: started.append(c.index)
    )
    assert started == []  # no cell ran: the first and third from the cache, the second remembered
    assert [r.status for r in again] == ["ok", "timeout", "ok"] and again[2].outputs[0].text == "42"
    assert "Not run again" in again[1].outputs[-1].text and 'data-timeout="10"' in again[1].outputs[-1].text
    assert len(said) == 1  # said once
    assert ran.read_text() == "slow ran\n"

    # prose and a cell below change nothing above; the first cell's edit changes its key
    path.write_text(ESSAY.replace("y = x * 21", "y = x * 22").replace("# Slow", "# Slow, again"))
    assert [r.status for r in build()] == ["ok", "timeout", "ok"]
    assert ran.read_text() == "slow ran\n"
    path.write_text(ESSAY.replace("x = 2", "x = 3"))
    assert [r.status for r in build()] == ["ok", "timeout", "ok"]
    assert ran.read_text() == "slow ran\nslow ran\n" and len(said) == 2

    # essays build has no memory: the cell runs again
    assert [r.status for r in execute_essay(parse_essay(path), 30.0, cache=cache)][1] == "timeout"
    assert ran.read_text().count("slow ran") == 3
