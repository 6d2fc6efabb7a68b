"""The worker process that runs one essay's cells, and the builder's handle on it.

This module is what the spawned child imports, so it stays light: the standard library
and runtime/, nothing of the builder's Markdown or templating.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from runtime.display import Output

if TYPE_CHECKING:
    from .parse import Cell

# A fresh interpreter (`python -m builder.worker`), not a fork: the builder may hold threads
# (the dev server's watcher) whose locks a fork would copy half-taken, and unlike
# multiprocessing's spawn it never re-imports the caller's __main__.
ROOT = Path(__file__).resolve().parent.parent
_LIVE: set["Worker"] = set()  # every worker not yet closed, so a server can end them all
_LIVE_LOCK = threading.Lock()
PROGRESS_INTERVAL = 0.1  # seconds between progress messages from an iterated cell


@dataclass
class CellResult:
    status: str  # "ok" | "error" | "timeout" | "skipped"
    outputs: list[Output] = field(default_factory=list)
    seconds: float = 0.0
    cached: bool = False
    note: str | None = None  # for the report: why state was rebuilt, or not snapshotted
    # names the snapshot after this cell lacks (they did not pickle); None: no snapshot
    lost: list[str] | None = None
    snapshot_seconds: float = 0.0  # time spent saving the snapshot, not in `seconds`
    blobs: list[str] = field(default_factory=list)  # array blobs the snapshot refers to


ProgressFn = Callable[["Cell", int, int], None]


def _worker_main(conn: Connection, cwd: str) -> None:
    """Runs in the child: a kernel serving run requests until told to stop."""
    # The builder stops workers itself. A Ctrl+C in the terminal reaches the whole process
    # group; caught by a cell it would look like the cell's own error, and be cached.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
        if message[0] == "restore":
            conn.send(("restored", _restore(kernel, Path(message[1]), Path(message[2]))))
            continue
        _, source, filename, line, iterations, snapshot_to = message
        last = 0.0

        def progress(i: int, n: int) -> None:
            nonlocal last
            now = time.monotonic()
            if n > 1 and (now - last >= PROGRESS_INTERVAL or i == n):
                last = now
                conn.send(("progress", i, n))

        outputs = kernel.run(source, filename, line, iterations, on_iteration=progress)
        ok = not any(o.kind == "error" for o in outputs)
        saved, saving = None, None  # saving: seconds the snapshot took; None when none was taken
        if snapshot_to is not None:
            from . import snapshot

            started = time.monotonic()
            saved = snapshot.save(kernel.namespace, Path(snapshot_to[0]), Path(snapshot_to[1]))
            saving = time.monotonic() - started
        conn.send(("done", outputs, ok, saved, saving))


def _restore(kernel, path: Path, blobs: Path) -> str | None:
    from . import snapshot

    try:
        namespace = snapshot.load(path, blobs)
    except Exception as exc:  # a corrupt or missing entry means "no snapshot", never a crash
        return f"{type(exc).__name__}: {exc}"
    namespace["__builtins__"] = kernel.namespace["__builtins__"]
    kernel.namespace = namespace
    return None


class Worker:
    """The builder's handle on one worker process."""

    def __init__(self, cwd: Path) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "builder.worker", str(theirs.fileno()), str(cwd)],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            env=env,
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        with _LIVE_LOCK:
            _LIVE.add(self)

    def restore(self, path: Path, blobs: Path) -> str | None:
        """Load a snapshot into the worker's kernel; returns why it failed, or None."""
        self.conn.send(("restore", str(path), str(blobs)))
        try:
            return self.conn.recv()[1]
        except (EOFError, OSError) as exc:
            return f"the worker exited while loading the snapshot ({exc})"

    def run(
        self,
        cell: "Cell",
        filename: str,
        timeout: float,
        progress: ProgressFn | None = None,
        snapshot_to: tuple[Path, Path] | None = None,
    ) -> CellResult:
        """Run a cell; with snapshot_to=(path, blobs), save the namespace after it."""
        start = time.monotonic()
        deadline = start + timeout
        where = (str(snapshot_to[0]), str(snapshot_to[1])) if snapshot_to else None
        self.conn.send(("run", cell.source, filename, cell.line, cell.iterations, where))
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
            _, outputs, ok, saved, saving = message  # saved: (names left out, blobs) or None
            result = CellResult("ok" if ok else "error", outputs, time.monotonic() - start - (saving or 0.0))
            result.snapshot_seconds = saving or 0.0
            if saving is not None:
                lost, result.blobs = saved if saved is not None else (None, [])
                result.lost = sorted(lost) if lost is not None else None
                if lost is None:
                    result.note = "no snapshot after this cell: the namespace does not pickle"
                elif lost:
                    result.note = "not in the snapshot after this cell: " + "; ".join(
                        f"'{name}' ({why})" for name, why in sorted(lost.items()))
            return result

    def alive(self) -> bool:
        return self.process.poll() is None

    def _exit_code(self) -> int | None:
        try:
            return self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=5)
        self.conn.close()
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def close(self) -> None:
        try:
            self.conn.send(("stop",))
        except (OSError, ValueError):
            pass
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        if self.alive():
            self.kill()
        else:
            self.conn.close()
            with _LIVE_LOCK:
                _LIVE.discard(self)


def kill_all() -> None:
    """End every worker process still running (the dev server on Ctrl+C)."""
    with _LIVE_LOCK:
        workers = list(_LIVE)
    for worker in workers:
        try:
            worker.kill()
        except Exception:
            pass


if __name__ == "__main__":
    _worker_main(Connection(int(sys.argv[1])), sys.argv[2])
