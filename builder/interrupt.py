"""Ctrl+C in `essays build`: one line, never a traceback.

A KeyboardInterrupt is raised wherever the main thread happens to be, and some places do
not survive it: a lock taken but not yet handed back (`cannot release un-acquired lock`),
a thread half started, rich's display half stopped, a swap between its two renames, or a
weakref callback of the import system, which prints it as "Exception ignored" and carries
on as if no one had pressed anything. So the `essays build` process (`install`, the first
thing `__main__.run` does) raises nothing: the first SIGINT is recorded, the ones after it
are ignored, and the command asks `requested()` where it can act on it: before the build
starts, and while it waits for the build, which runs on a thread of its own
(`stoppable.py`).

Imported before anything else, while the command starts: the standard library's `signal`
and `contextlib` only.
"""

from __future__ import annotations

import signal
import types
from collections.abc import Iterator
from contextlib import contextmanager

# what Ctrl+C leaves, said in one line (after "essays: ") by command: errors.Interrupted's message
INTERRUPTED = {"build": "interrupted; the previous site was kept"}
_requested: list[int] = []  # the SIGINT that came, once install()'s handler caught it


def command(argv: list[str]) -> str:
    return next((arg for arg in argv if not arg.startswith("-")), "")


def interrupted(argv: list[str]) -> str:
    """The line for a Ctrl+C that came before the command could handle it itself."""
    return INTERRUPTED.get(command(argv), "interrupted")


def install() -> None:
    """For the `essays build` process, never a library's caller: from now on the first
    SIGINT is recorded for `requested()` and the ones after it are ignored. Left alone
    when SIGINT is ignored already (a background job of a script)."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _record)


def _record(signum: int, frame: types.FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the clean-up that follows is never cut short
    _requested.append(signum)


def requested() -> bool:
    """Ctrl+C was pressed (under `install`; otherwise Python raises KeyboardInterrupt)."""
    return bool(_requested)


def settle() -> None:
    """The command's outcome is decided: from now on Ctrl+C is ignored, so that it cannot
    kill the interpreter while it exits (which restores the default handler of a signal
    with a handler in Python) and lose the command's exit status."""
    try:
        if signal.getsignal(signal.SIGINT) is _record:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread, which alone is interrupted
        pass


@contextmanager
def held() -> Iterator[None]:
    """Hold a Ctrl+C that comes inside the block until its end, where the handler that was
    in place acts on it: for library code that a KeyboardInterrupt would leave half done
    (Thread.start() waits on a lock) when Python's own handler is in place."""
    came: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
    except ValueError:  # not the main thread, which alone is interrupted
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if came and callable(previous):
            previous(signal.SIGINT, None)
