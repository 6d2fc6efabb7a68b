"""Run an essay's cells in a worker process, through runtime.kernel.

Isolation is a process: each essay gets its own, so a crash, os._exit, a runaway loop or a
leaked name never reaches the builder or another essay. A cell past its timeout kills the
worker; a new one rebuilds the essay's state, from a snapshot when the cache has one,
otherwise by running again the cells that had succeeded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from builder.cache.depends import Checker
from builder.cache.entries import Cache
from builder.cache.keys import content_keys
from builder.cache.places import Places
from builder.pipeline.parse import Cell, Essay
from builder.records import CellResult
from runtime.analysis import read_names
from runtime.display import Output

from .cancel import CancelToken
from .protocol import FailureKind
from .timeouts import Timeouts
from .worker import ProgressFn, Worker


def display_name(path: Path) -> str:
    """The essay's file as published tracebacks name it: relative to the essays folder,
    where the worker runs, so no page shows the author's folders."""
    return path.name


def execute_essay(
    essay: Essay,
    default_timeout: float,
    progress: ProgressFn | None = None,
    cache: Cache | None = None,
    modules: Path | None = None,
    *,
    keys: Sequence[str] | None = None,
    cancel: CancelToken | None = None,
    timeouts: Timeouts | None = None,
    started: Callable[[Cell], None] | None = None,
    state: Path | None = None,
    threads: int | None = None,
) -> list[CellResult]:
    """Run an essay's cells in order in a fresh worker process, taking from the cache
    every cell it can and starting from the latest snapshot before the first that changed.
    `modules`: the folder of the essays' exported modules, put on the worker's path.
    `keys`: the cells' content keys (cache/keys.py); None: the essay's alone, as for an
    essay that imports no other's module. `cancel`: the build's token, which stops its
    workers (Cancelled out of here). `timeouts`: the dev server's timed-out cells, which
    it does not run again while their keys stand (timeouts.py); `started`: told of each
    cell as it begins to run (not of those the cache answers). `state`: where the portable
    state after each cell goes when the cache cannot keep it (execution/state.py); with
    neither, none is recorded. `threads`: the worker's share of the cores for its numerical
    libraries (worker.threads_per_worker)."""
    run = EssayRun(
        essay,
        default_timeout,
        progress,
        cache,
        modules,
        keys=keys,
        cancel=cancel,
        timeouts=timeouts,
        state=state,
        threads=threads,
    )
    run.started = started
    return run.run()


def cached_essay(
    essay: Essay, default_timeout: float, cache: Cache, modules: Path | None, *, keys: Sequence[str] | None = None
) -> list[CellResult] | None:
    """The essay's results when the cache answers every cell, as execute_essay() would
    return them without starting a process; None when a cell must run. A cluster executor
    asks first, so a warm rebuild sends no task (and starts no cluster)."""
    run = EssayRun(essay, default_timeout, None, cache, modules, keys=keys)
    return run.results if run._take_cached() == len(run.cells) else None


class EssayRun:
    """One essay's run: its cells and their cache keys, the worker, and the results so far."""

    def __init__(
        self,
        essay: Essay,
        default_timeout: float,
        progress: ProgressFn | None,
        cache: Cache | None,
        modules: Path | None = None,
        *,
        keys: Sequence[str] | None = None,
        cancel: CancelToken | None = None,
        timeouts: Timeouts | None = None,
        state: Path | None = None,
        threads: int | None = None,
    ) -> None:
        self.modules = modules
        self.threads = threads  # the numerical libraries' threads (None: their default)
        self.state = state
        self.cancel = cancel if cancel is not None else CancelToken()
        self.cells = essay.cells
        self.default_timeout = default_timeout
        self.progress = progress
        self.cache = cache
        content = keys if keys is not None else content_keys(self.cells)
        self.keys = [cache.key(k) for k in content] if cache else []
        self.cwd = essay.path.resolve().parent
        self.path = essay.path
        self.filename = display_name(essay.path)
        self.results: list[CellResult] = []
        # cells 0..k, where they are now: what cell k's cached outputs are moved to
        self.places: list[Places] = []
        for cell in self.cells:
            places = Places(self.filename, dict(self.places[-1].cells) if self.places else {})
            places.add(cell.index, cell.line, cell.source)
            self.places.append(places)
        self.reads = _reads_from(self.cells)
        self.stale: str | None = None  # why a cached result could not serve, for the report
        self.worker: Worker | None = None
        # the dev server's memory of cells that timed out; needs the cache's keys, which
        # cover what the cell depends on (without a cache, every cell runs)
        self.timeouts = timeouts if cache is not None else None
        self.started: Callable[[Cell], None] | None = None
        self._iterations: dict[int, tuple[int, int]] = {}  # cell index -> (done, total) last reported

    def run(self) -> list[CellResult]:
        first_miss = self._take_cached()
        if first_miss == len(self.cells):
            return self.results  # nothing changed: no process is started at all
        self.worker = self._new_worker()
        try:
            start = self._resume_point(first_miss)
            why = None
            if start < first_miss:
                why = f"the state after cell {first_miss} had no usable snapshot, so cells {start + 1}–{first_miss} ran again"
                del self.results[start:]
            # the cells whose effects the state holds: what a rebuild after a timeout re-runs
            done_ok = [c for c, r in zip(self.cells[:start], self.results, strict=True) if r.status == "ok"]
            for cell in self.cells[start:]:
                if (recalled := self._recall(cell)) is not None:
                    # it timed out before with this key: the state stays as it is before it,
                    # as the worker's rebuild after that timeout left it
                    self.results.append(recalled)
                    continue
                result = self._run_cell(cell)
                # what the report and the page add to the cell's own result: its record is
                # replaced, the one the cache stored stays as the cell made it
                note = result.note
                if why and cell.index < first_miss:
                    note = "; ".join(n for n in (why, note) if n)
                if self.stale and cell.index == first_miss:
                    note = "; ".join(n for n in (self.stale, note) if n)
                outputs = result.outputs
                if result.status == "ok":
                    done_ok.append(cell)
                if not self.worker.alive() or result.status == "timeout":
                    self.worker.close()
                    self.worker, rebuilt = self._rebuild(cell.index, done_ok)
                    outputs = [*outputs, Output("note", text=rebuilt)]
                if note != result.note or outputs is not result.outputs:
                    self.results[-1] = replace(result, note=note, outputs=outputs)
        finally:
            if self.worker is not None:
                self.worker.close()
        return self.results

    # -- steps ---------------------------------------------------------------------------

    def _take_cached(self) -> int:
        """Take results from the cache up to the first cell that must run; its index.
        A cached result serves only while what its cell read beyond its key (a package's
        version, a module, a file, a variable: see depends.py) is as it was, and what it
        wrote into the essays folder is still there as the last cell to write it left it."""
        if not self.cache:
            return 0
        checker = Checker(self.cwd, self.modules)
        for key, places in zip(self.keys, self.places, strict=True):
            hit = self.cache.load(key, places)
            if hit is None:
                hit = self._recall(self.cells[len(self.results)])
            if hit is None:
                break
            if hit.depends is not None and (why := checker.changed(hit.depends)):
                self.stale = f"cell {len(self.results) + 1} ran again: {why}"
                break
            self.results.append(hit)
        written: dict[str, tuple[int, str | None]] = {}  # file -> (first cell to write it, digest last written)
        for index, result in enumerate(self.results):
            for path, digest in (result.depends.writes if result.depends else {}).items():
                written[path] = (written.get(path, (index, None))[0], digest)
        gone = [(first, path) for path, (first, digest) in written.items() if checker.written_changed(path, digest)]
        if gone:
            first, path = min(gone)
            self.stale = f"cell {first + 1} ran again: {path}, which it writes, is gone or changed"
            del self.results[first:]
        return len(self.results)

    def _recall(self, cell: Cell) -> CellResult | None:
        return self.timeouts.recall(self.keys[cell.index]) if self.timeouts is not None else None

    def _progress(self, cell: Cell, done: int, total: int) -> None:
        self._iterations[cell.index] = (done, total)
        if self.progress is not None:
            self.progress(cell, done, total)

    def _run_cell(self, cell: Cell) -> CellResult:
        assert self.worker is not None
        cache = self.cache
        snapshot_to = (cache.snapshot(self.keys[cell.index]), cache.blobs) if cache and cache.writable else None
        if self.started is not None:
            self.started(cell)
        # the portable state goes with the cache entry (a warm build publishes it too)
        state_to = cache.state if cache and cache.writable else self.state
        limit = cell.timeout or self.default_timeout
        result = self.worker.run(cell, self.filename, limit, self._progress, snapshot_to, state_to)
        if result.status == "timeout" and self.timeouts is not None:
            self.timeouts.remember(
                self.keys[cell.index], self.path, cell, result, limit, self._iterations.get(cell.index)
            )
        if cache and result.cache_error:
            cache.write_failed(result.cache_error)
        previous = self.results[-1].lost if self.results else None
        if result.lost and previous is not None and set(result.lost) <= set(previous) and result.note:
            result = replace(result, note=None)  # said once, where the name was left out first
        self.results.append(result)
        if cache and self._cacheable(cell, result) and self.worker.alive():
            cache.store(self.keys[cell.index], result, self.places[cell.index])
        return result

    @staticmethod
    def _cacheable(cell: Cell, result: CellResult) -> bool:
        """Only what the cell's code alone decides: a success, or the error its author
        meant it to show. Any other failure (a tool being installed, a full disk, a
        network hiccup) is run again by the next build, never replayed from the cache."""
        return result.status == "ok" or (result.status == "error" and cell.expects_error)

    def _restore(self, worker: Worker, index: int) -> bool:
        """Load the snapshot taken after cell index-1 into `worker`, if it can stand in for
        running cells 0..index-1 before cells index, index+1, ... run."""
        cache = self.cache
        if cache is None:
            return False
        before = index - 1
        result = self.results[before] if before < len(self.results) else None
        if not cache.usable_snapshot(self.keys[before], result, self.reads[index]):
            return False
        why = worker.restore(cache.snapshot(self.keys[before]), cache.blobs, self.filename, self.cells[:index])
        if why is not None and why.kind is FailureKind.CORRUPT_SNAPSHOT:
            cache.found_corrupt(why.message)
        return why is None

    def _resume_point(self, first_miss: int) -> int:
        """Load the latest usable snapshot before the first cell that must run; return the
        index of the cell to run from (0 when no snapshot serves)."""
        assert self.worker is not None
        for index in range(first_miss, 0, -1):
            if self._restore(self.worker, index):
                return index
            if self.cache is not None and self.cache.usable_snapshot(
                self.keys[index - 1], self._result(index - 1), self.reads[index]
            ):
                # a snapshot that failed to load may have set part of the interpreter's
                # state: the next one, or the run from the top, starts in a clean process
                self.worker.close()
                self.worker = self._new_worker()
        return 0

    def _new_worker(self) -> Worker:
        return Worker(self.cwd, self.modules, self.cancel, self.threads)

    def _result(self, index: int) -> CellResult | None:
        return self.results[index] if index < len(self.results) else None

    def _rebuild(self, failed: int, cells: list[Cell]) -> tuple[Worker, str]:
        """A new worker with the state from before the failed cell: from its snapshot when
        the cache has one, otherwise by running again the cells that had succeeded."""
        worker = self._new_worker()
        if failed > 0 and self._restore(worker, failed):
            return worker, f"the essay's state was restored from the snapshot taken after cell {failed}"
        if not cells:
            return worker, "the cells below run in a fresh process"
        for cell in cells:
            result = worker.run(cell, self.filename, cell.timeout or self.default_timeout)
            if result.status != "ok":
                if not worker.alive():
                    worker.close()
                    worker = self._new_worker()
                return worker, (
                    f"the essay's earlier state was lost: re-running the cell at line {cell.line} "
                    f"failed ({result.status}), so the cells below run without it"
                )
        lines = ", ".join(str(c.line) for c in cells)
        return worker, f"the essay's earlier state was rebuilt by running again the cells at lines {lines}"


def _reads_from(cells: list[Cell]) -> list[set[str] | None]:
    """reads[i]: every name that cells i, i+1, ... read (None: unknown, a syntax error)."""
    reads: list[set[str] | None] = [set()]
    for cell in reversed(cells):
        mine, later = read_names(cell.source), reads[0]
        reads.insert(0, None if mine is None or later is None else mine | later)
    return reads
