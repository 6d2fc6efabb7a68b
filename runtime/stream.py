"""Printed text handed on while a cell runs, so the page shows it as it comes (Pyodide).

At build time a cell's output appears in the terminal as it prints; in the page the worker
used to answer only when the cell ended. StreamCapture is the kernel's Capture with one more
duty: each write is also given to `emit` (in the page, a JavaScript function that posts it to
the page), in batches. The worker runs the cell on its only thread, so no timer can flush a
batch later: a write is sent at once unless `burst` chunks went out in the last `interval`
seconds, and what waits goes with the first write after that window. A cell printing a
line now and then shows each line at once; a loop printing thousands sends a few chunks a
window. The final outputs, formatted as the build formats them, replace the streamed text
when the cell ends, so nothing here changes what a cell's output is.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .display import MAX_BYTES
from .kernel import Capture, _Buffer


class _StreamBuffer(_Buffer):
    def __init__(self, on_write: Callable[[str], None]) -> None:
        super().__init__()
        self._on_write = on_write

    def write(self, text: str) -> int:
        written = super().write(text)
        self._on_write(text)
        return written


class StreamCapture(Capture):
    """A Capture that also hands what is written to `emit`, batched. `clock`: seconds, for
    tests."""

    def __init__(
        self,
        emit: Callable[[str], object],
        interval: float = 0.1,
        burst: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.buffer = _StreamBuffer(self._wrote)
        self.emit = emit
        self.interval = interval
        self.burst = burst
        self.clock = clock
        self.pending: list[str] = []
        self.window = -float("inf")  # when the current window began
        self.sent = 0  # chunks sent in it
        self.sent_bytes = 0  # past the output's limit the page would only cut it: stop there
        self.pending_bytes = 0

    def _wrote(self, text: str) -> None:
        if not text or self.sent_bytes + self.pending_bytes > MAX_BYTES:
            return
        self.pending.append(text)
        self.pending_bytes += len(text)
        now = self.clock()
        if now - self.window >= self.interval:
            self.window, self.sent = now, 0
        if self.sent < self.burst:
            self.flush()

    def flush(self) -> None:
        """Send what waits. A page that cannot take it (its function failed) costs the
        streamed text only: the cell runs on, and its outputs come at the end as ever."""
        if not self.pending:
            return
        text = "".join(self.pending)
        self.pending.clear()
        self.pending_bytes = 0
        self.sent += 1
        self.sent_bytes += len(text)
        try:
            self.emit(text)
        except Exception:
            self.sent_bytes = MAX_BYTES + 1  # stop trying for this cell

    def reset(self) -> None:
        super().reset()
        self.pending.clear()
        self.pending_bytes = 0
