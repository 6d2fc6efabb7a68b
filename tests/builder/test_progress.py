"""Progress in the terminal: a line per essay and a bar for iterated cells, silent unless
enabled."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from rich.console import Console

from builder.build import build
from builder.pipeline.parse import Cell, Essay, parse_text
from builder.progress import Reporter
from builder.records import CellResult


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=120, color_system=None), out


def essay(name: str = "01-demo.md", cells: int = 3) -> Essay:
    text = "# Demo\n\n" + "\n".join(f"<script>\nx{i} = {i}\n</script>\n" for i in range(cells))
    return parse_text(text, Path(name))


def test_a_line_per_essay_with_cells_run_cached_and_seconds():
    con, out = console()
    e = essay(cells=3)
    results = [CellResult("ok", cached=True), CellResult("ok", cached=True), CellResult("ok", seconds=1.0)]
    with Reporter(enabled=True, console=con) as reporter:
        reporter.essay_started(e)
        reporter.essay_done(e, results, 1.234)
    text = out.getvalue()
    assert "01-demo.md  3 cells: 1 run, 2 cached  1.23 s" in text


def test_failed_cells_are_counted_and_expected_errors_are_not():
    con, out = console()
    text = "# X\n\n<script>\n1/0\n</script>\n\n<script data-expect-error>\n1/0\n</script>\n"
    e = parse_text(text, Path("02-x.md"))
    with Reporter(enabled=True, console=con) as reporter:
        reporter.essay_started(e)
        reporter.essay_done(e, [CellResult("error"), CellResult("error")], 0.5)
    assert "2 cells: 2 run, 0 cached, 1 failed" in out.getvalue()


def test_iterated_cell_shows_a_bar_while_it_runs():
    con, out = console()
    e = essay(cells=1)
    cell: Cell = e.cells[0]
    reporter = Reporter(enabled=True, console=con)
    with reporter:
        reporter.essay_started(e)
        reporter.cell_progress(e, cell, 3, 10)
        reporter._progress.refresh()  # draw now, not on the refresh thread's schedule
        drawn = out.getvalue()
        reporter.cell_progress(e, cell, 10, 10)
        reporter.essay_done(e, [CellResult("ok")], 0.1)
    assert "cell 1 (line 4): 3/10" in drawn
    assert "01-demo.md" in drawn
    assert "1 cell: 1 run, 0 cached" in out.getvalue()


def test_the_running_essays_line_names_the_cell_that_runs():
    con, out = console()
    e = essay(cells=3)
    reporter = Reporter(enabled=True, console=con)
    with reporter:
        reporter.essay_started(e)
        reporter.cell_started(e, e.cells[1])
        reporter._progress.refresh()
        drawn = out.getvalue()
        reporter.essay_done(e, [CellResult("ok")] * 3, 0.1)
    assert "01-demo.md" in drawn and "cell 2 of 3 (line 8)" in drawn


def test_threads_report_at_once():
    con, out = console()
    essays = [essay(f"{i:02d}-e.md", cells=2) for i in range(8)]

    def run(e: Essay) -> None:
        reporter.essay_started(e)
        for i in range(1, 51):
            reporter.cell_progress(e, e.cells[0], i, 50)
        reporter.essay_done(e, [CellResult("ok"), CellResult("ok", cached=True)], 0.01)

    with Reporter(enabled=True, console=con) as reporter:
        threads = [threading.Thread(target=run, args=(e,)) for e in essays]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not reporter._essays and not reporter._cells
    text = out.getvalue()
    for i in range(8):
        assert f"{i:02d}-e.md  2 cells: 1 run, 1 cached" in text


def test_disabled_reporter_is_silent_and_never_imports_rich_state():
    con, out = console()
    e = essay()
    with Reporter(enabled=False, console=con) as reporter:
        reporter.essay_started(e)
        reporter.cell_progress(e, e.cells[0], 1, 2)
        reporter.essay_done(e, [], 0.0)
        assert reporter._progress is None
    assert out.getvalue() == ""


def test_build_reports_each_essay_and_iterations(project):
    project.write(
        "01-loop.md",
        """\
        # Loop

        <script data-iterations="5">
        import time
        time.sleep(0.15)
        </script>
        """,
    )
    project.write("02-plain.md", "# Plain\n\n<script>\ny = 2\n</script>\n")
    calls: list[tuple] = []

    class Recording(Reporter):
        def essay_started(self, essay):
            calls.append(("started", essay.path.name))

        def cell_progress(self, essay, cell, i, n):
            calls.append(("progress", essay.path.name, i, n))

        def essay_done(self, essay, results, seconds):
            calls.append(("done", essay.path.name, [r.cached for r in results]))

    build(project.config(), reporter=Recording(enabled=True))
    assert ("started", "01-loop.md") in calls and ("started", "02-plain.md") in calls
    assert ("progress", "01-loop.md", 5, 5) in calls  # the last iteration is always reported
    assert ("done", "01-loop.md", [False]) in calls
    calls.clear()
    build(project.config(), reporter=Recording(enabled=True))
    assert ("done", "01-loop.md", [True]) in calls and ("done", "02-plain.md", [True]) in calls
    assert not any(c[0] == "progress" for c in calls)  # cached: nothing ran


def test_build_through_a_real_console(project):
    project.write("01-a.md", "# A\n\n<script>\nx = 1\n</script>\n")
    con, out = console()
    build(project.config(), reporter=Reporter(enabled=True, console=con))
    assert "01-a.md  1 cell: 1 run, 0 cached" in out.getvalue()


def test_cli_is_quiet_when_stdout_is_not_a_tty(project, capsys):
    from builder.cli import main

    project.write("01-a.md", "# A\n\n<script>\nx = 1\n</script>\n")
    assert main(["build", str(project.essays), "-o", str(project.site)]) == 0
    out = capsys.readouterr().out
    assert "01-a.md" not in out and out.startswith("built 1 essay")
