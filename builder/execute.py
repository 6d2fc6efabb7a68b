"""Run an essay's cells in a worker process, through runtime.kernel.

Isolation is a process: each essay gets its own, so a crash, os._exit, a runaway loop or a
leaked name never reaches the builder or another essay. A cell past its timeout kills the
worker; a new one rebuilds the essay's state by running the cells that had succeeded.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable

from runtime.display import Output

from .parse import Cell, Essay

# spawn, not fork: the builder may hold threads (the dev server's watcher), and a forked
# child would inherit their locks half-taken.
_CTX = mp.get_context("spawn")
PROGRESS_INTERVAL = 0.1  # seconds between progress messages from an iterated cell


@dataclass
class CellResult:
    status: str  # "ok" | "error" | "timeout" | "skipped"
    outputs: list[Output] = field(default_factory=list)
    seconds: float = 0.0
    cached: bool = False


ProgressFn = Callable[[Cell, int, int], None]


# ----- the worker process ----------------------------------------------------------------


def _worker_main(conn: Connection, cwd: str) -> None:
    """Runs in the child: a kernel serving run requests until told to stop."""
    os.chdir(cwd)
    sys.path.insert(0, cwd)  # an essay may import helper modules kept beside it
    from runtime.kernel import Kernel

    kernel = Kernel()
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] == "stop":
            return
        _, source, filename, line, iterations = message
        last = 0.0

        def progress(i: int, n: int) -> None:
            nonlocal last
            now = time.monotonic()
            if n > 1 and (now - last >= PROGRESS_INTERVAL or i == n):
                last = now
                conn.send(("progress", i, n))

        outputs = kernel.run(source, filename, line, iterations, on_iteration=progress)
        ok = not any(o.kind == "error" for o in outputs)
        conn.send(("done", outputs, ok))


class Worker:
    """The builder's handle on one worker process."""

    def __init__(self, cwd: Path) -> None:
        self.conn, child = _CTX.Pipe()
        self.process = _CTX.Process(target=_worker_main, args=(child, str(cwd)), daemon=True)
        self.process.start()
        child.close()

    def run(
        self, cell: Cell, filename: str, timeout: float, progress: ProgressFn | None = None
    ) -> CellResult:
        start = time.monotonic()
        deadline = start + timeout
        self.conn.send(("run", cell.source, filename, cell.line, cell.iterations))
        while True:
            remaining = deadline - time.monotonic()
            try:
                ready = remaining > 0 and self.conn.poll(remaining)
                if not ready:
                    self.kill()
                    note = Output("error", text=f"timed out after {timeout:g} s")
                    return CellResult("timeout", [note], time.monotonic() - start)
                message = self.conn.recv()
            except (EOFError, OSError):
                code = self._exit_code()
                text = f"the worker process running this cell exited (exit code {code})"
                return CellResult("error", [Output("error", text=text)], time.monotonic() - start)
            if message[0] == "progress":
                if progress is not None:
                    progress(cell, message[1], message[2])
                continue
            _, outputs, ok = message
            return CellResult("ok" if ok else "error", outputs, time.monotonic() - start)

    def alive(self) -> bool:
        return self.process.is_alive()

    def _exit_code(self) -> int | None:
        self.process.join(timeout=2)
        return self.process.exitcode

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()

    def close(self) -> None:
        try:
            self.conn.send(("stop",))
        except (OSError, ValueError):
            pass
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.kill()


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
