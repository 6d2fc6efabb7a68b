"""Stopping one build: the workers it started, and whether it is being stopped.

Each build makes its own `CancelToken` and hands it down to where workers start, so Ctrl+C
in `essays build`, or the dev server stopping, ends that build's workers and no one
else's: two builds in one process (a server's rebuild beside a test's, a library caller's)
never share a stop flag.

Imported by the builder only; the worker process never is (child.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from builder.errors import Interrupted

CANCEL_POLL = 0.02  # seconds between sweeps while a stopped build winds down


class Cancelled(Interrupted):
    """The build is being stopped (Ctrl+C): no worker may start to rebuild state."""


class Killable(Protocol):
    def kill(self) -> None: ...


class CancelToken:
    """One build's live workers and its cancelled flag. A worker registers as it starts
    (`adopt`) and leaves as it ends (`release`); once `cancel` is called no worker may
    start under this token again: the build is over, not paused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._live: set[Killable] = set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def check(self) -> None:
        """Raise Cancelled once the build is being stopped: before a worker is started."""
        if self._cancelled:
            raise Cancelled("the build is stopping")

    def adopt(self, worker: Killable) -> None:
        """Hold a worker just started. Checked under the lock that `cancel` takes, so a
        worker started while the build is being stopped is killed here rather than missed."""
        with self._lock:
            if not self._cancelled:
                self._live.add(worker)
                return
        worker.kill()
        raise Cancelled("the build is stopping")

    def release(self, worker: Killable) -> None:
        with self._lock:
            self._live.discard(worker)

    def live(self) -> list[Killable]:
        with self._lock:
            return list(self._live)

    def cancel(self, done: Callable[[], bool] = lambda: True, grace: float = 15.0) -> None:
        """Stop the build now: end each of its workers, and keep ending any it starts to
        recover an essay's state (one between `check` and `adopt`), until `done()` (the
        build's threads have finished) or `grace` seconds."""
        with self._lock:
            self._cancelled = True
        deadline = time.monotonic() + grace
        while True:
            for worker in self.live():
                try:
                    worker.kill()
                except Exception:  # one that will not die must not keep the others alive
                    pass
            if done() or time.monotonic() > deadline:
                return
            time.sleep(CANCEL_POLL)
