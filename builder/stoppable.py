"""`essays build` on a thread of its own, so that Ctrl+C can stop it cleanly.

The main thread only waits while the build runs, looking for Ctrl+C (interrupt.py), so
an interruption is taken there and never inside the build's own code. Stopping
kills the workers and refuses the swap: the previous site stays as it was. A build
already swapping its site in is past stopping: it finishes, and the new site stands whole.
The same gate as the dev server's (serve._SwapGate), for the same reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from typing import TYPE_CHECKING

from .errors import Interrupted
from .execution.cancel import CancelToken
from .interrupt import held, requested, settle

if TYPE_CHECKING:
    from .records import BuildResult

POLL = 0.05  # seconds between the main thread's looks at the build thread
STOP_GRACE = 15.0  # seconds a stopped build may take to wind down


class Stopped(Interrupted):
    """The build reached its swap after Ctrl+C: the new site is discarded."""


class StoppableBuild:
    """Runs `work(gate, cancel)` on a thread of its own, where `gate` is the swap lock to
    give the writer and `cancel` the build's token (build()'s `cancel`). `wait()` returns
    the build's result or raises what it raised; a KeyboardInterrupt out of `start()` or
    `wait()` comes from the main thread's sleep, and `stop()` then ends the build."""

    def __init__(self, work: Callable[[ContextManager[object], CancelToken], BuildResult]) -> None:
        self._work = work
        self.cancel = CancelToken()  # this build's workers, and no other's
        self._lock = threading.Lock()
        self._stopping = False
        self._swapping = False
        self._result: BuildResult | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="essays-build", daemon=True)

    def _run(self) -> None:
        try:
            self._result = self._work(self, self.cancel)
        except BaseException as exc:  # handed to the main thread, which reports it
            self._error = exc

    # -- the swap gate, as the writer sees it ---------------------------------------------

    def __enter__(self) -> StoppableBuild:
        with self._lock:
            if self._stopping:
                raise Stopped("the build was interrupted")
            self._swapping = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    # -- the main thread's side -----------------------------------------------------------

    def start(self) -> None:
        if requested():  # Ctrl+C while the command was starting
            raise KeyboardInterrupt
        with held():  # Thread.start() waits on a lock of its own
            self._thread.start()

    def wait(self) -> BuildResult:
        """The build's result. KeyboardInterrupt: Ctrl+C was pressed meanwhile (`requested`,
        or Python's own handler in the main thread's sleep): call `stop()`."""
        while self._thread.is_alive():
            self._check()
            time.sleep(POLL)  # not join(): a join cut short can leave its lock released
        self._check()  # a Ctrl+C in the last moments: the build may have swapped all the same
        settle()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def _check(self) -> None:
        if requested() and not self._stopping:
            raise KeyboardInterrupt

    def stop(self) -> bool:
        """End the build now. True when it stopped before its swap (the previous site
        stays); False when the swap had begun, so the build is left to finish and `wait()`
        gives its result."""
        with self._lock:
            self._stopping = True
            if self._swapping:
                return False
        self.cancel.cancel(lambda: not self._thread.is_alive(), STOP_GRACE)
        return True
