"""What `essays serve` adds to a build: its essays published as each is done, the essay just
edited first, and runs shared between builds.

`essays build` writes the whole site into a temporary folder and swaps it in at the end: a
failed build leaves the previous site as it was. The dev server builds the same way, but
while one essay's slow cell runs, an edit to another essay should show at once. So a dev
server's build (`build(..., live=LiveBuild(...))`):

- publishes each essay's page into the served folder as soon as its cells are done and
  other essays are still running (one file, written beside it and renamed over it under the
  server's lock), and the index when a title changed; the whole site is swapped in at the
  end, as before;
- runs the essays just edited first;
- shares an essay's run with the builds that follow it: a save made while a slow cell runs
  starts a new build at once, which waits for that essay's run (same cells, same keys)
  instead of starting it again, and which alone may publish from then on. A run whose essay
  changed under it is stopped, since no build wants its results any more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Interrupted
from .execution.cancel import Cancelled, CancelToken
from .execution.timeouts import Timeouts
from .records import CellResult

RunFn = Callable[[CancelToken], list[CellResult]]


class Superseded(Interrupted):
    """A newer build of the dev server's is running: this one publishes nothing."""


class SharedRuns:
    """The essays running for a dev server's builds, by identity: the essay's path and its
    cells' cache keys (with the time limit), so two builds that need the same run share it.
    Each run has a CancelToken of its own, not its build's, as a later build may be waiting
    for it when the build that started it is over."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stopped = False  # the server is stopping: a cancelled run is no retirement
        self._runs: dict[Hashable, tuple[Path, Future[list[CellResult]], CancelToken]] = {}

    def run(self, path: Path, identity: Hashable, start: RunFn) -> list[CellResult] | None:
        """The essay's results: from the run in flight with this identity, else from
        `start(token)`, run here. None when the run was stopped because its essay changed
        (retire) and no build wants it; Cancelled when the server is stopping."""
        with self._lock:
            found = self._runs.get(identity)
            if found is None:
                future: Future[list[CellResult]] = Future()
                token = CancelToken()
                self._runs[identity] = (path, future, token)
        if found is not None:
            _, shared, token = found
            try:
                return shared.result()
            except Cancelled:
                if token.cancelled and not self.stopped:
                    return None
                raise
        try:
            results = start(token)
        except BaseException as exc:
            future.set_exception(exc)
            if isinstance(exc, Cancelled) and not self.stopped:
                return None  # retired: its essay changed, and a newer build runs it
            raise
        else:
            future.set_result(results)
            return results
        finally:
            with self._lock:
                if self._runs.get(identity, (None, future))[1] is future:
                    del self._runs[identity]

    def retire(self, wanted: Mapping[Path, Hashable]) -> None:
        """A new build wants these runs: stop the ones in flight for the same essays with
        other cells (edited since they began), whose results no build will publish."""
        with self._lock:
            stale = [
                token for identity, (path, _, token) in self._runs.items() if wanted.get(path, identity) != identity
            ]
        for token in stale:
            token.cancel()

    def stop(self) -> None:
        """The server is stopping: every run ends now."""
        with self._lock:
            self.stopped = True
            tokens = [token for _, _, token in self._runs.values()]
        for token in tokens:
            token.cancel()

    def in_flight(self, identity: Hashable) -> bool:
        with self._lock:
            return identity in self._runs


@dataclass
class LiveBuild:
    """A dev server's build. `publish(pages)` writes pages of the site (name -> HTML) into
    the served folder and says whether it did (a newer build, or a stopping server, refuses;
    pages as they are already are not written again);
    `timeouts` holds the server's timed-out cells (execution/timeouts.py); `first`, the
    essays just edited."""

    publish: Callable[[dict[str, str]], bool]
    runs: SharedRuns = field(default_factory=SharedRuns)
    timeouts: Timeouts | None = None
    first: frozenset[Path] = frozenset()
    # whether a newer build began (or the server is stopping): this one then stops early
    superseded: Callable[[], bool] = lambda: False
    # pages published while the build ran, for the terminal
    published: list[str] = field(default_factory=list)
