"""Run an essay's cells in a worker process, through runtime.kernel.

Isolation is a process: each essay gets its own, so a crash, os._exit, a runaway loop or a
leaked name never reaches the builder or another essay. A cell past its timeout kills the
worker; a new one rebuilds the essay's state by running the cells that had succeeded.
"""

from __future__ import annotations

from pathlib import Path

from runtime.analysis import read_names
from runtime.display import Output

from .cache import Cache
from .parse import Cell, Essay
from .worker import CellResult, ProgressFn, Worker

# ----- an essay --------------------------------------------------------------------------


def display_name(path: Path) -> str:
    """The essay's file as published tracebacks name it: relative to the essays folder,
    where the worker runs, so no page shows the author's folders."""
    return path.name


def execute_essay(
    essay: Essay,
    default_timeout: float,
    progress: ProgressFn | None = None,
    cache: Cache | None = None,
) -> list[CellResult]:
    """Run an essay's cells in order in a fresh worker process, taking from the cache
    every cell it can and starting from the latest snapshot before the first that changed."""
    cells = essay.cells
    keys = [cache.key(c) for c in cells] if cache else []
    results: list[CellResult] = []
    if cache:
        for key in keys:
            hit = cache.load(key)
            if hit is None:
                break
            results.append(hit)
    if len(results) == len(cells):
        return results  # nothing changed: no process is started at all

    cwd = essay.path.resolve().parent
    filename = display_name(essay.path)
    worker = Worker(cwd)
    try:
        first_miss = len(results)
        reads = _reads_from(cells)
        start = _resume_point(worker, cache, keys, results, reads, first_miss)
        if start < first_miss:
            why = f"the state after cell {first_miss} had no usable snapshot, so cells {start + 1}–{first_miss} ran again"
            del results[start:]
        else:
            why = None
        # the cells whose effects the state holds: what a rebuild after a timeout re-runs
        done_ok = [c for c, r in zip(cells[:start], results) if r.status == "ok"]
        for cell in cells[start:]:
            timeout = cell.timeout or default_timeout
            snapshot_to = (cache.snapshot(keys[cell.index]), cache.blobs) if cache and cache.writable else None
            result = worker.run(cell, filename, timeout, progress, snapshot_to)
            if cache and result.cache_error:
                cache.write_failed(result.cache_error)
            previous = results[-1].lost if results else None
            if result.lost and previous is not None and set(result.lost) <= set(previous) and result.note:
                result.note = None  # said once, where the name was left out first
            if why and cell.index < first_miss:
                result.note = "; ".join(n for n in (why, result.note) if n)
            results.append(result)
            if result.status == "ok":
                done_ok.append(cell)
            if cache and result.status in ("ok", "error") and worker.alive():
                cache.store(keys[cell.index], result)
            if not worker.alive() or result.status == "timeout":
                worker.close()
                worker, note = _rebuild(cwd, filename, cell.index, done_ok, default_timeout, cache, keys, results, reads)
                result.outputs.append(Output("note", text=note))
    finally:
        worker.close()
    return results


def _reads_from(cells: list[Cell]) -> list[set[str] | None]:
    """reads[i]: every name that cells i, i+1, ... read (None: unknown, a syntax error)."""
    reads: list[set[str] | None] = [set()]
    for cell in reversed(cells):
        mine, later = read_names(cell.source), reads[0]
        reads.insert(0, None if mine is None or later is None else mine | later)
    return reads


def _restore(worker: Worker, cache: Cache, keys: list[str], results: list[CellResult],
             reads: list[set[str] | None], index: int) -> bool:
    """Load the snapshot taken after cell index-1, if it can stand in for running cells
    0..index-1 before cells index, index+1, ... run."""
    before = index - 1
    result = results[before] if before < len(results) else None
    if not cache.usable_snapshot(keys[before], result, reads[index]):
        return False
    why = worker.restore(cache.snapshot(keys[before]), cache.blobs)
    if why is not None and why.startswith("Corrupt"):
        cache.found_corrupt(why.removeprefix("Corrupt: "))
    return why is None


def _resume_point(worker: Worker, cache: Cache | None, keys: list[str], results: list[CellResult],
                  reads: list[set[str] | None], first_miss: int) -> int:
    """Load the latest usable snapshot before the first cell that must run; return the
    index of the cell to run from (0 when no snapshot serves)."""
    if cache is None:
        return 0
    for index in range(first_miss, 0, -1):
        if _restore(worker, cache, keys, results, reads, index):
            return index
    return 0


def _rebuild(
    cwd: Path,
    filename: str,
    failed: int,
    cells: list[Cell],
    default_timeout: float,
    cache: Cache | None,
    keys: list[str],
    results: list[CellResult],
    reads: list[set[str] | None],
) -> tuple[Worker, str]:
    """A new worker with the state from before the failed cell: from its snapshot when
    the cache has one, otherwise by running again the cells that had succeeded."""
    worker = Worker(cwd)
    if failed > 0 and cache and _restore(worker, cache, keys, results, reads, failed):
        return worker, f"the essay's state was restored from the snapshot taken after cell {failed}"
    if not cells:
        return worker, "the cells below run in a fresh process"
    for cell in cells:
        result = worker.run(cell, filename, cell.timeout or default_timeout)
        if result.status != "ok":
            if not worker.alive():
                worker.close()
                worker = Worker(cwd)
            return worker, (
                f"the essay's earlier state was lost: re-running the cell at line {cell.line} "
                f"failed ({result.status}), so the cells below run without it"
            )
    lines = ", ".join(str(c.line) for c in cells)
    return worker, f"the essay's earlier state was rebuilt by running again the cells at lines {lines}"
