"""Cells that timed out, remembered by `essays serve` between its builds.

A timeout is not the code's own doing (a busy machine is slower), so the cache never stores
one and `essays build` always runs the cell again. The dev server rebuilds on every save,
though, and a cell that ran into its limit would cost that limit on each of them while
nothing it depends on changed. So the server remembers each timed-out cell for its
session, under the cell's cache key: that key covers the cell's source and attributes
(`data-timeout` among them), every cell above it, the modules it imports, the files beside
the essays and the runtime. While the key is the same, running the cell again could only
repeat the timeout unless the machine got faster; the server shows the timeout it saw, with
a note saying why the cell did not run, and the cells below run as they did after the
timeout: in the state from before it. Editing the cell, a cell above it, or its
`data-timeout` changes the key, and it runs again. Nothing is written to the cache.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from builder.pipeline.parse import Cell
from builder.records import CellResult
from runtime.display import Output


@dataclass(frozen=True)
class TimedOut:
    """A cell that ran into its limit: where, the limit, and a limit that would let it finish."""

    path: Path
    cell: Cell
    limit: float
    suggested: int
    progress: tuple[int, int] | None  # iterations done and in all, for an iterated cell

    def message(self) -> str:
        """One line for the terminal, `file:line: ...` (the line of the cell's <script> tag,
        where the attribute goes), naming the attribute to add."""
        done = ""
        if self.progress:
            i, n = self.progress
            done = f" ({i} of its {n} iterations done)"
        return (
            f"{self.path.name}:{self.cell.tag_line}: cell {self.cell.index + 1} timed out after {self.limit:g} s{done}; "
            "`essays serve` will not run it again until it, a cell above it or a file it reads changes. "
            f'To let it finish, give it more time: data-timeout="{self.suggested}" on its <script> tag'
        )

    def note(self) -> str:
        """What the cell's output says on the later builds that did not run it."""
        return (
            f"Not run again: this cell timed out after {self.limit:g} s in an earlier build of this `essays serve`, "
            "and neither it nor anything it depends on has changed since. "
            f'Give it more time with data-timeout="{self.suggested}", or edit it, to run it again.'
        )


def suggested_limit(limit: float, progress: tuple[int, int] | None) -> int:
    """A `data-timeout` that would let the cell finish. An iterated cell says how far it got,
    so its whole run is estimated from that (and half as much again, for a busy machine);
    any other cell gave no sign of how long it needs, so four times the limit it ran into."""
    if progress is not None and progress[0] > 0:
        done, total = progress
        estimate = limit * total / done * 1.5
    else:
        estimate = limit * 4
    # a round number: to 10 s below a minute, then to the minute
    step = 10 if estimate < 60 else 60
    return max(step, int(math.ceil(estimate / step) * step))


class Timeouts:
    """The dev server's memory of timed-out cells, by cache key; shared by its builds
    (threads), so guarded by a lock. `said`: called once per cell newly remembered, with
    the line to print."""

    def __init__(self, said: Callable[[str], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._cells: dict[str, tuple[TimedOut, CellResult]] = {}
        self.said = said

    def remember(
        self, key: str, path: Path, cell: Cell, result: CellResult, limit: float, progress: tuple[int, int] | None
    ) -> None:
        timed_out = TimedOut(path, cell, limit, suggested_limit(limit, progress), progress)
        with self._lock:
            new = key not in self._cells
            self._cells[key] = (timed_out, result)
        if new and self.said is not None:
            self.said(timed_out.message())

    def recall(self, key: str) -> CellResult | None:
        """The result to show for a cell remembered under `key` instead of running it; None
        when it must run."""
        with self._lock:
            found = self._cells.get(key)
        if found is None:
            return None
        timed_out, result = found
        return replace(
            result, outputs=[*result.outputs, Output("note", text=timed_out.note())], seconds=0.0, cached=True
        )

    def __len__(self) -> int:
        with self._lock:
            return len(self._cells)
