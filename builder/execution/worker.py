"""The builder's handle on a worker process: start it, send it cells, stop it.

The process itself runs builder/execution/child.py (`python -m builder.execution.child`),
which imports nothing of this module: the handle's side (subprocess, cancel tokens, the
records it returns) stays in the builder.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from builder.leftovers import WORKER_PREFIX, make_scratch, release_scratch
from builder.records import CellResult
from runtime.display import Output
from runtime.kernel import scrub_paths

from . import procs
from .cancel import CancelToken
from .protocol import Done, Failure, FailureKind, Placed, Progress, Restore, Restored, Run, Stop

if TYPE_CHECKING:
    from builder.pipeline.parse import Cell

# A fresh interpreter (`python -m builder.execution.child`), not a fork: the builder may hold threads
# (the dev server's watcher) whose locks a fork would copy half-taken, and unlike
# multiprocessing's spawn it never re-imports the caller's __main__.
ROOT = Path(__file__).resolve().parents[2]
CHILD = "builder.execution.child"
CRASH_TAIL = 2000  # characters of a dead worker's last output shown with its exit code


ProgressFn = Callable[["Cell", int, int], None]


# The variables by which BLAS and OpenMP builds (OpenBLAS, MKL, Accelerate, numexpr) size
# their thread pools. Essays built side by side each get their share of the cores: two
# workers whose OpenBLAS each spun two threads on two cores ran numpy's products 2.6 times
# slower than with one thread each (benchmarks/bench_threads.py): chapter 8's training cell
# went past its 30-minute limit in a busy build.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def library_threads(threads: int) -> dict[str, str]:
    """The environment that caps the numerical libraries of a worker at `threads` threads."""
    return {name: str(max(1, threads)) for name in THREAD_VARIABLES}


def threads_per_worker(jobs: int, cores: int | None = None) -> int | None:
    """Each of `jobs` workers' share of the machine's cores; None when one worker runs
    alone (its libraries then use every core, as they would outside a build)."""
    if jobs <= 1:
        return None
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, cores // jobs)


class Worker:
    """The builder's handle on one worker process."""

    def __init__(
        self, cwd: Path, modules: Path | None = None, cancel: CancelToken | None = None, threads: int | None = None
    ) -> None:
        """`cancel`: the build's token, which ends this worker when the build is stopped
        (Cancelled when it is stopped already); by default one of its own. `threads`: how
        many threads the cells' numerical libraries may use (None: their own default)."""
        self.cancel = cancel if cancel is not None else CancelToken()
        self.cancel.check()
        # a private folder: the cells' output files, and a runtime folder for libraries
        # that want one (Mesa prints "XDG_RUNTIME_DIR is invalid" without it)
        self.folder = make_scratch(WORKER_PREFIX)  # named and locked: see leftovers.py
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        env.setdefault("MPLBACKEND", "agg")  # figures are drawn to SVG, never to a window
        if threads is not None:
            for name, value in library_threads(threads).items():
                env.setdefault(name, value)  # an author's own setting wins
        if not os.path.isdir(env.get("XDG_RUNTIME_DIR") or "/nonexistent"):
            runtime_dir = self.folder / "xdg-runtime"
            runtime_dir.mkdir(mode=0o700)
            env["XDG_RUNTIME_DIR"] = str(runtime_dir)
        # the folders whose files published texts name relatively (scrub_paths)
        self.roots = [str(cwd), *([str(modules)] if modules else [])]
        args = [str(theirs.fileno()), str(cwd), str(self.folder), str(os.getpid()), str(modules or "")]
        self.process = subprocess.Popen(
            [sys.executable, "-m", CHILD, *args],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # a cell's output is captured; nothing else belongs on ours
            env=env,
            start_new_session=True,  # its own process group: ending it ends what its cells started
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        self.cancel.adopt(self)  # Cancelled, the worker killed, if the build stopped meanwhile

    def restore(self, path: Path, blobs: Path, filename: str = "", cells: list[Cell] | None = None) -> Failure | None:
        """Load a snapshot, taken after `cells`, into the worker's kernel; returns why it
        failed, or None."""
        placed = [Placed(c.index, c.line, c.source) for c in cells or []]
        self.conn.send(Restore(str(path), str(blobs), filename, placed))
        try:
            reply: Restored = self.conn.recv()
            return reply.error
        except (EOFError, OSError) as exc:
            return Failure(
                FailureKind.WORKER_EXITED, type(exc).__name__, f"the worker exited while loading the snapshot ({exc})"
            )

    def run(
        self,
        cell: Cell,
        filename: str,
        timeout: float,
        progress: ProgressFn | None = None,
        snapshot_to: tuple[Path, Path] | None = None,
        state_to: Path | None = None,
    ) -> CellResult:
        """Run a cell; with snapshot_to=(path, blobs), save the namespace after it; with
        `state_to`, record its portable state there (execution/state.py)."""
        return self._published(self._run(cell, filename, timeout, progress, snapshot_to, state_to))

    def _run(
        self,
        cell: Cell,
        filename: str,
        timeout: float,
        progress: ProgressFn | None,
        snapshot_to: tuple[Path, Path] | None,
        state_to: Path | None = None,
    ) -> CellResult:
        start = time.monotonic()
        deadline = start + timeout
        where = (str(snapshot_to[0]), str(snapshot_to[1])) if snapshot_to else (None, None)
        self.conn.send(
            Run(
                cell.source,
                filename,
                cell.line,
                cell.iterations,
                snapshot=where[0],
                blobs=where[1],
                index=cell.index,
                show=cell.show,
                state=str(state_to) if state_to is not None else None,
            )
        )
        while True:
            remaining = deadline - time.monotonic()
            try:
                ready = remaining > 0 and self.conn.poll(remaining)
                if not ready:
                    self.kill()
                    note = Output("error", text=f"timed out after {timeout:g} s")
                    return CellResult("timeout", [note], time.monotonic() - start)
                message: Progress | Done = self.conn.recv()
            except (EOFError, OSError):
                return self._crashed(time.monotonic() - start)
            if isinstance(message, Progress):
                if progress is not None:
                    progress(cell, message.done, message.total)
                continue
            return _result(message, time.monotonic() - start)

    def _crashed(self, seconds: float) -> CellResult:
        """The result of a cell whose worker died under it: how, and what it wrote last."""
        code = self._exit_code()
        text = f"the worker process running this cell exited ({procs.exit_reason(code)})"
        last = self._last_output()
        if last:
            text += f"; its last output:\n{last}"
        # summary: the exit, not the dump's last line
        return CellResult("error", [Output("error", text=text)], seconds, summary=procs.exit_summary(code))

    def _published(self, result: CellResult) -> CellResult:
        """The one place the builder makes a cell's error texts fit to publish: a crash's
        dump, a traceback, a message name no folder of the author's (the essays, the
        checkout, the Python installation, the home folder). The kernel does the same to
        its tracebacks, in both hosts; this also covers what only the builder sees."""
        for output in result.outputs:
            if output.kind in ("error", "note"):
                output.text = scrub_paths(output.text, *self.roots)
        return result

    def alive(self) -> bool:
        return self.process.poll() is None

    def _last_output(self) -> str:
        """What the cell that killed the worker wrote last (a crash's own message)."""
        files = sorted(self.folder.glob("cell-*.out"), key=lambda p: int(p.stem.split("-")[1]))
        if not files:
            return ""
        try:
            with open(files[-1], "rb") as f:
                f.seek(max(0, files[-1].stat().st_size - CRASH_TAIL))
                return f.read().decode("utf-8", "replace").strip()
        except OSError:  # a cancelled build removes the folder as its worker dies: nothing to say
            return ""

    def _end_group(self) -> None:
        """Kill what the worker's cells started and left in its process group, once the
        guard has ended (and ended, on Linux, every process below it)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _exit_code(self) -> int | None:
        try:
            return self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """End the worker now, whatever its cell is doing, with every process below it
        (forks and subprocesses, in its process group or in sessions of their own)."""
        if self.process.returncode is None:  # not reaped: its pid is still the guard's
            procs.end_tree(self.process.pid)
        self.process.wait(timeout=5)
        self._closed()

    def _closed(self) -> None:
        self.conn.close()
        release_scratch(self.folder)
        self.cancel.release(self)

    def close(self) -> None:
        try:
            self.conn.send(Stop())
        except (OSError, ValueError):
            pass
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        if self.alive():
            self.kill()
        else:
            self._end_group()
            self._closed()


def _result(done: Done, seconds: float) -> CellResult:
    """A cell's result from the worker's reply; `seconds` without the snapshot's time."""
    saving = done.snapshot_seconds
    lost: list[str] | None = None
    blobs: list[str] = []
    note = None
    if saving is not None:
        info = done.snapshot
        lost = sorted(info.lost) if info is not None else None
        blobs = info.blobs if info is not None else []
        if info is None:
            note = f"no snapshot after this cell: {done.no_snapshot or 'the namespace does not pickle'}"
        elif info.lost:
            note = "not in the snapshot after this cell: " + "; ".join(
                f"'{name}' ({why})" for name, why in sorted(info.lost.items())
            )
    return CellResult(
        "ok" if done.ok else "error",
        done.outputs,
        seconds - (saving or 0.0) - done.state_seconds,
        note=note,
        lost=lost,
        snapshot_seconds=saving or 0.0,
        blobs=blobs,
        cache_error=done.cache_error,
        depends=done.depends,
        state=done.state,
        state_blobs=done.state_blobs,
    )
