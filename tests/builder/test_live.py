"""What a dev server adds to its builds (builder/live.py) and its progress lines
(progress.ServeReporter), without a server: shared runs, retirement, the running cell named."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from support import wait_for

from builder.execution.cancel import Cancelled
from builder.live import SharedRuns
from builder.pipeline.parse import parse_text
from builder.progress import ServeReporter

A = Path("01-a.md")


def test_two_builds_needing_the_same_run_share_it():
    runs = SharedRuns()
    gate, calls, answers = threading.Event(), [], []

    def start(token):
        calls.append(token)
        gate.wait(30)
        return ["results"]

    first = threading.Thread(target=lambda: answers.append(runs.run(A, "same", start)))
    first.start()
    wait_for(lambda: runs.in_flight("same"), what="the first run to begin")
    second = threading.Thread(target=lambda: answers.append(runs.run(A, "same", start)))
    second.start()
    gate.set()
    first.join(30)
    second.join(30)
    assert len(calls) == 1 and answers == [["results"], ["results"]]
    assert not runs.in_flight("same")


def test_a_run_whose_essay_changed_is_stopped_and_answers_none():
    runs = SharedRuns()
    answers = []

    def start(token):
        while not token.cancelled:
            threading.Event().wait(0.01)
        token.check()  # as a worker's start does: Cancelled
        return []

    thread = threading.Thread(target=lambda: answers.append(runs.run(A, "old", start)))
    thread.start()
    wait_for(lambda: runs.in_flight("old"), what="the run to begin")
    runs.retire({A: "old", Path("02-b.md"): "other"})  # the same essay, the same cells: kept
    assert runs.in_flight("old")
    runs.retire({A: "new"})
    thread.join(30)
    assert answers == [None] and not runs.in_flight("old")


def test_stopping_the_server_cancels_runs_rather_than_retiring_them():
    runs = SharedRuns()
    errors = []

    def start(token):
        while not token.cancelled:
            threading.Event().wait(0.01)
        token.check()
        return []

    def run():
        try:
            runs.run(A, "x", start)
        except Cancelled as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    wait_for(lambda: runs.in_flight("x"), what="the run to begin")
    runs.stop()
    thread.join(30)
    assert len(errors) == 1


@pytest.mark.parametrize("after", [0.0, 600.0])
def test_serve_names_a_cell_only_once_it_has_run_a_while_and_says_when_its_essay_is_done(after):
    essay = parse_text("# A\n\n<script>\nx = 1\n</script>\n\n<script>\ny = 2\n</script>\n", A)
    lines: list[str] = []
    reporter = ServeReporter(after=after, say=lines.append)
    reporter.cell_started(essay, essay.cells[1])
    if after == 0.0:
        wait_for(lambda: lines, what="the running line")
        assert lines == ["running 01-a.md: cell 2 of 2 (line 8)"]
    reporter.essay_done(essay, [], 1.25)
    if after == 0.0:
        assert lines[1] == "done 01-a.md: 0 of 0 cells run in 1.2 s"
    else:
        assert lines == []  # a quick cell: nothing said
