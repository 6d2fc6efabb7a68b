"""The worker process itself: `python -m builder.execution.child`.

`main` makes this process the worker's guard (procs.py), which runs no cell, and forks the
kernel, which serves the builder's requests (protocol.py) until told to stop. This module
is all the worker process runs, so it imports only what that needs: the standard library,
runtime/, and the execution and cache modules a cell's run uses; never the builder's side
of the process (worker.py: starting, stopping, cancelling workers), Markdown or templates.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from builder.cache.places import Places
from builder.leftovers import MODULES_PREFIX, WORKER_PREFIX, remove_if_abandoned
from runtime.display import Output
from runtime.kernel import CellRun, Kernel

from . import procs
from .capture import CaptureError
from .protocol import Done, Failure, FailureKind, Progress, Request, Restore, Restored, Run, SnapshotInfo, Stop

if TYPE_CHECKING:
    from builder.cache.depends import Recorder

    from .state import StateRecorder

ROOT = Path(__file__).resolve().parents[2]
PROGRESS_INTERVAL = 0.1  # seconds between progress messages from an iterated cell
PARENT_POLL = 0.2  # seconds between the worker's checks that its builder is still there


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

    # the tool's own files are in every key (the runtime's digest covers the shaders, which a
    # checkout keeps in a top-level shaders/ folder): reading them is no outside dependency
    tool = [str(ROOT / name) for name in ("builder", "runtime", "shaders")]
    recorder = Recorder(cwd, modules, [folder, *tool])
    recorder.install()
    interpreter.set_baseline([cwd, modules])  # snapshots record the interpreter's state relative to this
    router = Router()
    kernel = Kernel(capture=lambda: FdCapture(Path(folder), router))
    places = Places("")  # where the cells whose effects the namespace holds are
    from .state import StateRecorder

    state = StateRecorder("")  # the cells' code, for the definitions a portable state re-creates
    while True:
        try:
            message: Request = conn.recv()
        except EOFError:
            return
        if isinstance(message, Stop):
            return
        if isinstance(message, Restore):
            places = Places(message.filename)
            state = StateRecorder(message.filename)
            for cell in message.cells:
                state.add(cell.index, cell.line, cell.source)
            conn.send(Restored(_restore(kernel, message, places)))
        else:
            places.filename = state.filename = message.filename
            places.add(message.index, message.line, message.source)
            state.add(message.index, message.line, message.source)
            conn.send(_run(kernel, message, conn, places, recorder, os.getpid(), state=state))


def _run(
    kernel: Kernel,
    message: Run,
    conn: Connection,
    places: Places | None = None,
    recorder: Recorder | None = None,
    me: int | None = None,
    *,
    state: StateRecorder | None = None,
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
        ran = kernel.execute(
            message.source, message.filename, message.line, message.iterations, on_iteration=progress, show=message.show
        )
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
    if message.state is not None and state is not None:
        _record_state(kernel, Path(message.state), state, done)
    return done


def _record_state(kernel: Kernel, folder: Path, state: StateRecorder, done: Done) -> None:
    """The portable state after the cell (execution/state.py), into `done`. A store that
    cannot be written leaves the boundary unrecorded (the page then runs the cells above)."""
    started = time.monotonic()
    try:
        done.state, done.state_blobs = state.record(kernel.namespace, folder)
    except OSError as exc:
        done.cache_error = done.cache_error or exc.strerror or str(exc)
    done.state_seconds = time.monotonic() - started


def _restore(kernel: Kernel, message: Restore, places: Places) -> Failure | None:
    """Replace the kernel's namespace by the snapshot; why it could not be, or None."""
    from builder.cache import snapshot
    from builder.cache.store import Corrupt

    for cell in message.cells:
        places.add(cell.index, cell.line, cell.source)
        # tracebacks through what these cells defined quote their code, as in a clean build
        kernel.remember_source(cell.source, message.filename, cell.line)
    try:
        namespace = snapshot.load(Path(message.snapshot), Path(message.blobs), places)
    except Corrupt as exc:  # the builder counts these for its warning about the cache
        return Failure.of(FailureKind.CORRUPT_SNAPSHOT, exc)
    except Exception as exc:  # a missing entry or state that cannot be restored: "no snapshot", never a crash
        return Failure.of(FailureKind.SNAPSHOT_FAILED, exc)
    namespace["__builtins__"] = kernel.namespace["__builtins__"]
    kernel.namespace = namespace
    return None


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
