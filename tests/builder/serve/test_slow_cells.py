"""`essays serve` while a slow cell runs (issue 24, item 13; builder/live.py): another essay's
edit is published without waiting for it, the essay just saved runs first, the terminal
names the running cell, and a cell that timed out is said once and not run again while it
is unchanged.

The slow cell waits on a gate, a file outside the essays that the test creates when it is
done looking: nothing here depends on how long anything takes, only on the order of
events. Waits are generous (the machine may be busy).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from live_client import get, wait_for

from builder.serve.watch import DevServer

pytestmark = pytest.mark.slow  # real builds, a real watcher, worker processes


def slow_essay(root: Path, round_: int) -> str:
    """One cell that notes each run in runs.log, says it started, and waits for the gate."""
    return f"""\
# Slow

<script>
import os, time
open({str(root / "runs.log")!r}, "a").write("run\\n")
open({str(root / "started")!r}, "w").close()
while not os.path.exists({str(root / "gate")!r}):
    time.sleep(0.02)
f"round {round_}"
</script>
"""


def fast_essay(word: str, title: str = "Fast") -> str:
    return f"# {title}\n\nThe word is {word}.\n\n<script>\ny = 2\n</script>\n"


def page(dev: DevServer, name: str) -> str:
    status, body = get(dev, f"/{name}")
    assert status == 200
    return body.decode()


@pytest.fixture
def slow_project(project):
    """A slow essay and a fast one, built once with the gate open."""
    (project.root / "gate").touch()
    project.write("01-slow.md", slow_essay(project.root, 1))
    project.write("02-fast.md", fast_essay("alpha"))
    return project


def start(project, **config) -> tuple[DevServer, list[str]]:
    said: list[str] = []
    dev = DevServer(project.config(quiet=True, **config), "127.0.0.1", 0, watch=[project.essays])
    dev.say = said.append
    dev.progress_after = 0.0  # name every cell that runs: the test waits for the line, not for time
    dev.start()
    return dev, said


def close_gate_and_edit_slow(project, round_: int) -> None:
    (project.root / "gate").unlink()
    (project.root / "started").unlink(missing_ok=True)
    project.write("01-slow.md", slow_essay(project.root, round_))
    wait_for((project.root / "started").exists, what="the slow cell to start")


def runs(project) -> int:
    return (project.root / "runs.log").read_text().count("run")


def test_another_essays_edit_is_published_while_a_slow_cell_runs(slow_project):
    project = slow_project
    dev, said = start(project)
    try:
        assert "round 1" in page(dev, "01-slow.html") and runs(project) == 1
        close_gate_and_edit_slow(project, 2)
        wait_for(
            lambda: any(line.startswith("running 01-slow.md: cell 1 of 1 (line 4)") for line in said),
            what="the terminal to name the running cell",
        )
        project.write("02-fast.md", fast_essay("beta", title="Faster"))
        wait_for(lambda: "The word is beta." in page(dev, "02-fast.html"), what="the fast essay's edit to be served")
        # meanwhile the slow cell still waits, and its page is the last good one
        assert not (project.root / "gate").exists()
        assert ">Faster</a>" in page(dev, "index.html")  # the index, with the new title
        assert "round 1" in page(dev, "01-slow.html")
        assert "round 2" not in page(dev, "01-slow.html")
        (project.root / "gate").touch()
        wait_for(lambda: "round 2" in page(dev, "01-slow.html"), what="the slow essay's page")
        wait_for(dev.idle, what="the builds to end")
        # the build the fast edit started waited for the slow essay's run: it did not start it again
        assert runs(project) == 2
        assert "The word is beta." in page(dev, "02-fast.html")
        assert any(line.startswith("done 01-slow.md: 1 of 1 cells run") for line in said)
        assert any(line.startswith("published 02-fast.html") for line in said)
    finally:
        dev.stop()


def test_the_essay_just_saved_runs_before_the_others(slow_project):
    """One essay at a time (jobs=1), and a data file beside the essays changes every cell's
    key, so both essays run: the fast one, saved in the same burst, goes first and is
    published while the slow one waits on its gate."""
    project = slow_project
    project.write("data/numbers.txt", "1\n")
    dev, _ = start(project, jobs=1)
    try:
        dev.debounce = 0.5  # both saves in one build
        (project.root / "gate").unlink()
        (project.root / "started").unlink(missing_ok=True)
        project.write("data/numbers.txt", "2\n")
        project.write("02-fast.md", fast_essay("first"))
        wait_for(lambda: "The word is first." in page(dev, "02-fast.html"), what="the saved essay to be served")
        wait_for((project.root / "started").exists, what="the slow cell to start")  # after it, on the one thread
        (project.root / "gate").touch()
        wait_for(dev.idle, what="the build to end")
        assert runs(project) == 2
    finally:
        dev.stop()


def test_a_timed_out_cell_is_said_once_and_not_run_again_until_it_changes(project):
    log = project.root / "timeouts.log"

    def essay(limit: int, prose: str = "") -> str:
        return (
            f'# Limits\n\n{prose}\n\n<script data-timeout="{limit}">\n'
            f"open({str(log)!r}, 'a').write('run\\n')\nimport time\ntime.sleep(600)\n</script>\n\n"
            "<script>\nafter = 1\n</script>\n"
        )

    project.write("01-limits.md", essay(1))
    dev, said = start(project)
    try:
        timed_out = [line for line in said if "timed out" in line]
        assert len(timed_out) == 1
        assert re.match(
            r"01-limits\.md:5: cell 1 timed out after 1 s; .*data-timeout=\"10\" on its <script> tag$", timed_out[0]
        )
        for word in ("one", "two"):  # prose edits: the cell stays as it was
            rebuilt = dev.epoch + 1
            project.write("01-limits.md", essay(1, f"Prose {word}."))
            wait_for(lambda n=rebuilt: dev.epoch >= n and dev.idle(), what="the rebuild")
            assert f"Prose {word}." in page(dev, "01-limits.html")
            assert "Not run again" in page(dev, "01-limits.html")
        assert log.read_text().count("run") == 1
        assert len([line for line in said if "timed out" in line]) == 1  # said once
        epoch = dev.epoch
        project.write("01-limits.md", essay(2))  # a new limit: a new key, and it runs
        wait_for(lambda: dev.epoch > epoch and dev.idle(), what="the rebuild")
        assert log.read_text().count("run") == 2
        assert len([line for line in said if "timed out" in line]) == 2
    finally:
        dev.stop()
