"""Messages between the builder and a worker process, over a socket (pickled).

Small dataclasses, so each side names what it sends. The worker imports this module, so it
stays light: the standard library and runtime.display's Output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from builder.cache.depends import Depends
from runtime.display import Output

# ----- builder -> worker -----------------------------------------------------------------


@dataclass
class Run:
    """Run a cell; with snapshot/blobs set, save the namespace after it."""

    source: str
    filename: str  # as tracebacks name the essay: relative to the essays folder
    line: int  # the essay line of the cell's first line of code
    iterations: int
    snapshot: str | None = None
    blobs: str | None = None
    index: int = 0  # the cell's position among the essay's cells
    show: str = "names"  # how the cell shows its values: runtime.kernel.SHOW_STYLES
    state: str | None = None  # a folder: record the portable state after the cell there (execution/state.py)


@dataclass
class Placed:
    """One cell whose effects a snapshot holds: where it is now, and its code (so that
    tracebacks through what it defined quote and name its lines)."""

    index: int
    line: int
    source: str


@dataclass
class Restore:
    """Replace the namespace by a snapshot, taken after the cells in `cells`."""

    snapshot: str
    blobs: str
    filename: str = ""
    cells: list[Placed] = field(default_factory=list)


@dataclass
class Stop:
    """Exit."""


# ----- worker -> builder -----------------------------------------------------------------


@dataclass
class Progress:
    """An iterated cell finished `done` of its `total` iterations."""

    done: int
    total: int


@dataclass
class SnapshotInfo:
    """What the snapshot after a cell holds: every name but `lost` (name -> why it did not
    pickle), with the blobs it refers to."""

    lost: dict[str, str]
    blobs: list[str]


@dataclass
class Done:
    """A cell ran. `snapshot`: None when none was asked for or none could be made
    (`no_snapshot` then says why, when it knows); `snapshot_seconds`: None when none was
    asked for; `cache_error`: why it could not be written (a full or read-only cache)."""

    outputs: list[Output]
    ok: bool
    snapshot: SnapshotInfo | None = None
    snapshot_seconds: float | None = None
    cache_error: str | None = None
    no_snapshot: str | None = None
    depends: Depends | None = None  # what it read or wrote beyond its key
    # the portable state after the cell (name -> entry, execution/state.py), the blobs it
    # wrote, and the time that took (not the cell's); None when none was asked for
    state: dict[str, dict[str, object]] | None = None
    state_blobs: list[str] = field(default_factory=list)
    state_seconds: float = 0.0


class FailureKind(Enum):
    """What went wrong, decided where the exception was in hand, so the other side reads a
    field rather than a message's words."""

    CORRUPT_SNAPSHOT = "corrupt-snapshot"  # a cache file that does not match its digest (store.Corrupt)
    SNAPSHOT_FAILED = "snapshot-failed"  # any other reason a snapshot did not load: missing, state
    WORKER_EXITED = "worker-exited"  # the process died before it answered (the builder's side says it)


@dataclass
class Failure:
    """Why something failed, as data: its kind, the exception's class name, its message."""

    kind: FailureKind
    error_type: str
    message: str

    @classmethod
    def of(cls, kind: FailureKind, exc: BaseException) -> Failure:
        return cls(kind, type(exc).__name__, str(exc))

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"


@dataclass
class Restored:
    """A snapshot was loaded (error None) or could not be (error says why)."""

    error: Failure | None


Request = Run | Restore | Stop
Reply = Progress | Done | Restored
