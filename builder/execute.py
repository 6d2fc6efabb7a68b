"""Run an essay's cells in a worker process, through runtime.kernel.

Isolation is a process: each essay gets its own, so a crash, os._exit, a runaway loop or a
leaked name never reaches the builder or another essay. A cell past its timeout kills the
worker; a new one rebuilds the essay's state by running the cells that had succeeded.
"""

from __future__ import annotations

from pathlib import Path

from runtime.display import Output

from .parse import Cell, Essay
from .worker import CellResult, ProgressFn, Worker

# ----- an essay --------------------------------------------------------------------------


def display_name(path: Path) -> str:
    """The essay's path as tracebacks name it: relative to where the build was started."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def execute_essay(
    essay: Essay, default_timeout: float, progress: ProgressFn | None = None
) -> list[CellResult]:
    """Run every cell of an essay in order, in a fresh worker process."""
    cwd = essay.path.resolve().parent
    filename = display_name(essay.path)
    results: list[CellResult] = []
    done_ok: list[Cell] = []
    worker = Worker(cwd)
    try:
        for cell in essay.cells:
            timeout = cell.timeout or default_timeout
            result = worker.run(cell, filename, timeout, progress)
            results.append(result)
            if result.status == "ok":
                done_ok.append(cell)
            if not worker.alive() or result.status == "timeout":
                worker, note = _rebuild(cwd, filename, done_ok, default_timeout)
                result.outputs.append(Output("note", text=note))
    finally:
        worker.close()
    return results


def _rebuild(cwd: Path, filename: str, cells: list[Cell], default_timeout: float) -> tuple[Worker, str]:
    """A new worker with the state of the cells that had succeeded, run again."""
    worker = Worker(cwd)
    if not cells:
        return worker, "the cells below run in a fresh process"
    for cell in cells:
        result = worker.run(cell, filename, cell.timeout or default_timeout)
        if result.status != "ok":
            if not worker.alive():
                worker = Worker(cwd)
            return worker, (
                f"the essay's earlier state was lost: re-running the cell at line {cell.line} "
                f"failed ({result.status}), so the cells below run without it"
            )
    lines = ", ".join(str(c.line) for c in cells)
    return worker, f"the essay's earlier state was rebuilt by running again the cells at lines {lines}"
