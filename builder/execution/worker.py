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
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from builder.cache.places import Places
from builder.leftovers import MODULES_PREFIX, WORKER_PREFIX, make_scratch, release_scratch, remove_if_abandoned
from builder.records import CellResult
from runtime.display import Output
from runtime.kernel import CellRun, Kernel, scrub_paths

from . import procs
from .capture import CaptureError
from .protocol import Done, Placed, Progress, Request, Restore, Restored, Run, SnapshotInfo, Stop

if TYPE_CHECKING:
    from builder.cache.depends import Recorder
    from builder.pipeline.parse import Cell

# A fresh interpreter (`python -m builder.execution.worker`), not a fork: the builder may hold threads
# (the dev server's watcher) whose locks a fork would copy half-taken, and unlike
# multiprocessing's spawn it never re-imports the caller's __main__.
ROOT = Path(__file__).resolve().parents[2]
_LIVE: set[Worker] = set()  # every worker not yet closed, so a server can end them all
_LIVE_LOCK = threading.Lock()
PROGRESS_INTERVAL = 0.1  # seconds between progress messages from an iterated cell
PARENT_POLL = 0.2  # seconds between the worker's checks that its builder is still there
CRASH_TAIL = 2000  # characters of a dead worker's last output shown with its exit code


ProgressFn = Callable[["Cell", int, int], None]
_CANCELLED = threading.Event()  # set while a build is being stopped: no new worker starts


class Cancelled(Exception):
    """The build is being stopped (Ctrl+C): no worker may start to rebuild state."""


def _watch_parent(parent: int) -> None:
    """End the kernel and everything its cells started once its guard is gone: the
    kernel's own way where the guard's PR_SET_PDEATHSIG is missing (not Linux). A cell that
    holds the GIL stops this thread; the guard and the kernel's death signal do not need it."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL)
    os.killpg(0, signal.SIGKILL)


def _remove_leftovers(folder: str, modules: str) -> None:
    """Once the builder is gone, the folders it can no longer remove: this worker's, and
    the modules' once no builder holds their lock (leftovers.py); the next build sweeps
    whatever this misses."""
    remove_if_abandoned(Path(folder), WORKER_PREFIX)
    if modules:
        remove_if_abandoned(Path(modules), MODULES_PREFIX)


def _cut_line(fd: int) -> None:
    """In a process a cell forked: the builder's line becomes /dev/null, so the child can
    never answer for the kernel, nor keep the line open once the kernel is gone."""
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, fd, inheritable=False)
    os.close(null)


def _end_if_forked(kernel: int) -> None:
    """A process forked by a cell that returned into the kernel ends here, before it
    could say anything to the builder (its reply would stand for the next cell's)."""
    if os.getpid() != kernel:
        os._exit(0)


def _worker_main(conn: Connection, cwd: str, folder: str, parent: int, modules: str) -> None:
    """Runs in the kernel process: a kernel serving run requests until told to stop.
    `parent`: the worker's guard (see main)."""
    # The builder stops workers itself. A Ctrl+C in the terminal reaches the whole process
    # group; caught by a cell it would look like the cell's own error, and be cached.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.set_inheritable(conn.fileno(), False)  # a cell's subprocesses must not hold our line to the builder
    os.register_at_fork(after_in_child=lambda: _cut_line(conn.fileno()))  # nor its forks
    threading.Thread(target=_watch_parent, args=(parent,), name="essays-watch-parent", daemon=True).start()
    import faulthandler

    faulthandler.enable()  # a crash's traceback goes to descriptor 2: the cell's output file
    os.chdir(cwd)
    sys.path.insert(0, cwd)  # an essay may import helper modules kept beside it
    if modules:
        sys.path.insert(0, modules)  # the essays' exported modules (builder/pipeline/modules.py)
    from builder.cache import interpreter
    from builder.cache.depends import Recorder

    from .capture import FdCapture, Router

    recorder = Recorder(cwd, modules, [folder, str(ROOT / "builder"), str(ROOT / "runtime")])
    recorder.install()
    interpreter.set_baseline([cwd, modules])  # snapshots record the interpreter's state relative to this
    router = Router()
    kernel = Kernel(capture=lambda: FdCapture(Path(folder), router))
    places = Places("")  # where the cells whose effects the namespace holds are
    while True:
        try:
            message: Request = conn.recv()
        except EOFError:
            return
        if isinstance(message, Stop):
            return
        if isinstance(message, Restore):
            places = Places(message.filename)
            conn.send(Restored(_restore(kernel, message, places)))
        else:
            places.filename = message.filename
            places.add(message.index, message.line, message.source)
            conn.send(_run(kernel, message, conn, places, recorder, os.getpid()))


def _run(
    kernel: Kernel,
    message: Run,
    conn: Connection,
    places: Places | None = None,
    recorder: Recorder | None = None,
    me: int | None = None,
) -> Done:
    """Run a cell in `kernel`, the process `me` (a process the cell forks ends in here)."""
    last = 0.0
    me = os.getpid() if me is None else me

    def progress(i: int, n: int) -> None:
        nonlocal last
        _end_if_forked(me)
        now = time.monotonic()
        if n > 1 and (now - last >= PROGRESS_INTERVAL or i == n):
            last = now
            conn.send(Progress(i, n))

    if recorder is not None:
        recorder.start(message.filename)
    try:
        ran = kernel.execute(message.source, message.filename, message.line, message.iterations, on_iteration=progress)
    except CaptureError as exc:  # a full temporary folder: an error, never an output cut short
        ran = CellRun([Output("error", text=str(exc.strerror))], ok=False)
    except Exception as exc:  # the kernel's own failure: this cell's error, not a dead worker
        text = f"the kernel failed running this cell: {type(exc).__name__}: {exc}"
        ran = CellRun([Output("error", text=text)], ok=False)
    _end_if_forked(me)
    if any(o.kind == "dot" for o in ran.outputs):
        from .diagrams import draw

        outputs = draw(ran.outputs)
        ran = CellRun(outputs, ran.ok and not any(o.kind == "error" for o in outputs))
    done = Done(ran.outputs, ran.ok, depends=recorder.stop() if recorder is not None else None)
    if message.snapshot is not None and message.blobs is not None:
        from builder.cache import snapshot
        from builder.cache.interpreter import StateError

        started = time.monotonic()
        try:
            saved = snapshot.save(kernel.namespace, Path(message.snapshot), Path(message.blobs), places)
            done.snapshot = SnapshotInfo(*saved) if saved is not None else None
            done.snapshot_seconds = time.monotonic() - started
        except OSError as exc:  # a full or read-only cache costs speed, never the cell
            done.cache_error = exc.strerror or str(exc)
        except StateError as exc:
            done.no_snapshot = str(exc)
            done.snapshot_seconds = time.monotonic() - started
    return done


def _restore(kernel: Kernel, message: Restore, places: Places) -> str | None:
    from builder.cache import snapshot

    for cell in message.cells:
        places.add(cell.index, cell.line, cell.source)
        # tracebacks through what these cells defined quote their code, as in a clean build
        kernel.remember_source(cell.source, message.filename, cell.line)
    try:
        namespace = snapshot.load(Path(message.snapshot), Path(message.blobs), places)
    except Exception as exc:  # a corrupt or missing entry means "no snapshot", never a crash
        return f"{type(exc).__name__}: {exc}"
    namespace["__builtins__"] = kernel.namespace["__builtins__"]
    kernel.namespace = namespace
    return None


class Worker:
    """The builder's handle on one worker process."""

    def __init__(self, cwd: Path, modules: Path | None = None) -> None:
        if _CANCELLED.is_set():
            raise Cancelled("the build is stopping")
        # a private folder: the cells' output files, and a runtime folder for libraries
        # that want one (Mesa prints "XDG_RUNTIME_DIR is invalid" without it)
        self.folder = make_scratch(WORKER_PREFIX)  # named and locked: see leftovers.py
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        env.setdefault("MPLBACKEND", "agg")  # figures are drawn to SVG, never to a window
        if not os.path.isdir(env.get("XDG_RUNTIME_DIR") or "/nonexistent"):
            runtime_dir = self.folder / "xdg-runtime"
            runtime_dir.mkdir(mode=0o700)
            env["XDG_RUNTIME_DIR"] = str(runtime_dir)
        # the folders whose files published texts name relatively (scrub_paths)
        self.roots = [str(cwd), *([str(modules)] if modules else [])]
        args = [str(theirs.fileno()), str(cwd), str(self.folder), str(os.getpid()), str(modules or "")]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "builder.execution.worker", *args],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # a cell's output is captured; nothing else belongs on ours
            env=env,
            start_new_session=True,  # its own process group: ending it ends what its cells started
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        with _LIVE_LOCK:
            _LIVE.add(self)

    def restore(self, path: Path, blobs: Path, filename: str = "", cells: list[Cell] | None = None) -> str | None:
        """Load a snapshot, taken after `cells`, into the worker's kernel; returns why it
        failed, or None."""
        placed = [Placed(c.index, c.line, c.source) for c in cells or []]
        self.conn.send(Restore(str(path), str(blobs), filename, placed))
        try:
            reply: Restored = self.conn.recv()
            return reply.error
        except (EOFError, OSError) as exc:
            return f"the worker exited while loading the snapshot ({exc})"

    def run(
        self,
        cell: Cell,
        filename: str,
        timeout: float,
        progress: ProgressFn | None = None,
        snapshot_to: tuple[Path, Path] | None = None,
    ) -> CellResult:
        """Run a cell; with snapshot_to=(path, blobs), save the namespace after it."""
        return self._published(self._run(cell, filename, timeout, progress, snapshot_to))

    def _run(
        self,
        cell: Cell,
        filename: str,
        timeout: float,
        progress: ProgressFn | None,
        snapshot_to: tuple[Path, Path] | None,
    ) -> CellResult:
        start = time.monotonic()
        deadline = start + timeout
        where = (str(snapshot_to[0]), str(snapshot_to[1])) if snapshot_to else (None, None)
        self.conn.send(
            Run(cell.source, filename, cell.line, cell.iterations, snapshot=where[0], blobs=where[1], index=cell.index)
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
        with open(files[-1], "rb") as f:
            f.seek(max(0, files[-1].stat().st_size - CRASH_TAIL))
            return f.read().decode("utf-8", "replace").strip()

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
        with _LIVE_LOCK:
            _LIVE.discard(self)

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


def cancel_all(done: Callable[[], bool], grace: float = 15.0) -> None:
    """Stop a build now: end every worker, and keep ending any started to recover an
    essay's state, until `done()` (the essays' threads have finished) or `grace` seconds."""
    _CANCELLED.set()
    try:
        deadline = time.monotonic() + grace
        while True:
            kill_all()
            if done() or time.monotonic() > deadline:
                return
            time.sleep(0.02)
    finally:
        _CANCELLED.clear()


def kill_all() -> None:
    """End every worker process still running (the dev server on Ctrl+C)."""
    with _LIVE_LOCK:
        workers = list(_LIVE)
    for worker in workers:
        try:
            worker.kill()
        except Exception:
            pass


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
        seconds - (saving or 0.0),
        note=note,
        lost=lost,
        snapshot_seconds=saving or 0.0,
        blobs=blobs,
        cache_error=done.cache_error,
        depends=done.depends,
    )


def main(fd: int, cwd: str, folder: str, builder: int, modules: str) -> None:
    """The worker: this process becomes its guard (procs.guard), which runs no cell, and
    forks the kernel, which does. Forked now, while this process has one thread."""
    guard = os.getpid()
    procs.become_subreaper()
    kernel = os.fork()
    if kernel:
        os.close(fd)  # the line is the kernel's: the builder sees it close when the kernel ends
        procs.guard(kernel, builder, orphaned=lambda: _remove_leftovers(folder, modules))
    if not procs.die_with_parent(guard):
        os._exit(1)
    _worker_main(Connection(fd), cwd, folder, guard, modules)
    # at once: a thread a cell left running must not hold the essay's end (the guard ends
    # whatever the cells left behind)
    os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
