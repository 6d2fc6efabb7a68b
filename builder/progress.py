"""Progress in the terminal: a line per essay (cells run and cached, seconds) and, while
the build runs, a live line per running essay with a bar for its iterated cells.

Quiet unless enabled: the CLI enables it when stdout is a terminal, so library use, tests
and piped output stay silent. Essays execute in a thread pool, so every method may be
called from several threads at once. rich is imported only when enabled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from .pipeline.parse import Cell, Essay
    from .records import CellResult


class Reporter:
    """Use as a context manager around a build's execute step; between enter and exit the
    live display runs, and each finished essay prints its line above it."""

    def __init__(self, enabled: bool = False, console: Console | None = None) -> None:
        self.enabled = enabled
        self._console = console
        self._lock = threading.RLock()
        self._progress: Any = None  # rich.progress.Progress while a build runs
        self._depth = 0
        self._essays: dict[Path, Any] = {}  # essay path -> task id of its running line
        self._cells: dict[Path, Any] = {}  # essay path -> task id of its iterated cell's bar

    # -- the live display ----------------------------------------------------------------

    def __enter__(self) -> Reporter:
        if not self.enabled:
            return self
        with self._lock:
            self._depth += 1
            if self._progress is None:
                from rich.console import Console
                from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

                console = self._console or Console()
                self._progress = Progress(
                    SpinnerColumn(),
                    TextColumn("{task.description}"),
                    BarColumn(bar_width=30),
                    TextColumn("{task.fields[detail]}"),
                    TimeElapsedColumn(),
                    console=console,
                    transient=True,  # the bars go; the essays' lines stay
                    redirect_stdout=False,  # other threads (the dev server) print too
                    redirect_stderr=False,
                )
                self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._progress is not None:
                self._progress.stop()
                self._progress = None
                self._essays.clear()
                self._cells.clear()

    def _print(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, highlight=False)
        else:
            from rich.console import Console

            (self._console or Console()).print(text, highlight=False)

    # -- events --------------------------------------------------------------------------

    def essay_started(self, essay: Essay) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._progress is not None:
                self._essays[essay.path] = self._progress.add_task(
                    essay.path.name, total=None, detail=f"{len(essay.cells)} cells"
                )

    def cell_started(self, essay: Essay, cell: Cell) -> None:
        """A cell begins to run (the cache did not answer it): the essay's line names it."""
        if not self.enabled:
            return
        with self._lock:
            task = self._essays.get(essay.path)
            if self._progress is not None and task is not None:
                self._progress.update(task, detail=f"cell {cell.index + 1} of {len(essay.cells)} (line {cell.line})")

    def cell_progress(self, essay: Essay, cell: Cell, i: int, n: int) -> None:
        """Iteration i of n of an iterated cell finished."""
        if not self.enabled:
            return
        with self._lock:
            progress = self._progress
            if progress is None:
                return
            detail = f"cell {cell.index + 1} (line {cell.line}): {i}/{n}"
            task = self._cells.get(essay.path)
            if task is None:
                task = self._cells[essay.path] = progress.add_task(f"  {essay.path.name}", total=n, detail=detail)
            progress.update(task, total=n, completed=i, detail=detail)
            if i >= n:
                progress.remove_task(self._cells.pop(essay.path))

    def essay_done(self, essay: Essay, results: Sequence[CellResult], seconds: float) -> None:
        if not self.enabled:
            return
        with self._lock:
            for tasks in (self._essays, self._cells):
                task = tasks.pop(essay.path, None)
                if task is not None and self._progress is not None:
                    self._progress.remove_task(task)
            self._print(essay_line(essay, results, seconds))


def essay_line(essay: Essay, results: Sequence[CellResult], seconds: float) -> str:
    """`01-bigram.md  12 cells: 3 run, 9 cached, 1 failed  4.21 s` (rich markup)."""
    cached = sum(1 for r in results if r.cached)
    # a failure as the build counts it: an expected error is none, a missing one is
    failed = sum(
        1
        for c, r in zip(essay.cells, results, strict=True)
        if (r.status == "error") != c.expects_error or r.status not in ("ok", "error")
    )
    parts = [f"{len(results) - cached} run", f"{cached} cached"]
    if failed:
        parts.append(f"[red]{failed} failed[/red]")
    mark = "[red]✗[/red]" if failed else "[green]✓[/green]"
    cells = "cell" if len(results) == 1 else "cells"
    return f"{mark} {essay.path.name}  {len(results)} {cells}: {', '.join(parts)}  {seconds:.2f} s"


class ServeReporter(Reporter):
    """`essays serve`'s progress, as plain lines beside the server's own: which essay is
    running which cell, once that cell has run for `after` seconds (a quick cell says
    nothing), and when that essay is done. The live display of `inner` (enabled when stdout
    is a terminal) goes on as in `essays build`. `say`: where a line goes."""

    def __init__(self, inner: Reporter | None = None, after: float = 2.0, say: Callable[[str], None] | None = None):
        super().__init__(enabled=False)
        self.inner = inner or Reporter(enabled=False)
        self.after = after
        self.say = say or (lambda line: print(line, flush=True))
        self._lock = threading.RLock()
        self._timers: dict[Path, threading.Timer] = {}
        self._announced: set[Path] = set()  # essays whose running cell was named
        self._closed = False

    def __enter__(self) -> ServeReporter:
        self.inner.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.inner.__exit__(*exc_info)

    def essay_started(self, essay: Essay) -> None:
        self.inner.essay_started(essay)

    def cell_progress(self, essay: Essay, cell: Cell, i: int, n: int) -> None:
        self.inner.cell_progress(essay, cell, i, n)

    def cell_started(self, essay: Essay, cell: Cell) -> None:
        self.inner.cell_started(essay, cell)
        line = f"running {essay.path.name}: cell {cell.index + 1} of {len(essay.cells)} (line {cell.line})"
        with self._lock:
            self._cancel(essay.path)
            if self._closed:
                return
            timer = threading.Timer(self.after, self._announce, (essay.path, line))
            timer.daemon = True
            self._timers[essay.path] = timer
            timer.start()

    def _announce(self, path: Path, line: str) -> None:
        with self._lock:
            if path not in self._timers:  # the cell ended as the timer fired
                return
            del self._timers[path]
            self._announced.add(path)
        self.say(line)

    def close(self) -> None:
        """The server stops: no cell is named after this."""
        with self._lock:
            self._closed = True
            for path in list(self._timers):
                self._cancel(path)

    def _cancel(self, path: Path) -> None:
        timer = self._timers.pop(path, None)
        if timer is not None:
            timer.cancel()

    def essay_done(self, essay: Essay, results: Sequence[CellResult], seconds: float) -> None:
        self.inner.essay_done(essay, results, seconds)
        with self._lock:
            self._cancel(essay.path)
            announced = essay.path in self._announced
            self._announced.discard(essay.path)
        if announced:  # its slow cell was named: say that the wait is over
            ran = sum(1 for r in results if not r.cached)
            self.say(f"done {essay.path.name}: {ran} of {len(results)} cells run in {seconds:.1f} s")
