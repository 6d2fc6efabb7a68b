"""Messages between the builder and a worker process, over a socket (pickled).

Small dataclasses, so each side names what it sends. The worker imports this module, so it
stays light: the standard library and runtime.display's Output.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class Restore:
    """Replace the namespace by a snapshot."""

    snapshot: str
    blobs: str


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
    """A cell ran. `snapshot`: None when none was asked for or none could be made;
    `snapshot_seconds`: None when none was asked for; `cache_error`: why it could not be
    written (a full or read-only cache)."""

    outputs: list[Output]
    ok: bool
    snapshot: SnapshotInfo | None = None
    snapshot_seconds: float | None = None
    cache_error: str | None = None


@dataclass
class Restored:
    """A snapshot was loaded (error None) or could not be (error says why)."""

    error: str | None


Request = Run | Restore | Stop
Reply = Progress | Done | Restored
