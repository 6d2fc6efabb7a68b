"""Past one machine (issue 22): N essays whose one cell waits S seconds each, built on the
local executor (one essay per core) and on a Dask LocalCluster of N workers; then a cold
build into a shared file:// cache against the first build of a second checkout that shares
it. One table, with each time's ratio to the first row.

The cells sleep rather than spin, so the table measures how many essays run at once and
what the executor costs around them, not how many cores this machine lends.

Run: python benchmarks/bench_cluster.py [N] [S]  (or `make bench`)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.build import build
from builder.config import Config
from builder.execution.cluster import dask_client
from builder.records import BuildResult

N = int(sys.argv[1]) if len(sys.argv) > 1 else 4
S = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0


def write_essays(folder: Path) -> Path:
    essays = folder / "essays"
    essays.mkdir(parents=True)
    for i in range(N):
        (essays / f"{i + 1:02d}-wait.md").write_text(
            f"# Essay {i + 1}\n\n<script>\nimport time\ntime.sleep({S})\nanswer = {i} * 2\nanswer\n</script>\n",
            encoding="utf-8",
        )
    return essays


def timed(config: Config) -> tuple[float, BuildResult]:
    start = time.perf_counter()
    result = build(config)
    return time.perf_counter() - start, result


def ran(result: BuildResult) -> str:
    cells = [r for b in result.essays for r in b.results]
    assert all(r.status == "ok" for r in cells), "a cell failed"
    return f"{sum(not r.cached for r in cells)}/{len(cells)}"


def main() -> None:
    try:
        import distributed  # noqa: F401
        import fsspec  # noqa: F401
    except ImportError:
        print("skipped: needs the `cluster` extra (dask[distributed], fsspec)")
        return
    import logging

    logging.getLogger("distributed").setLevel(logging.WARNING)
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        root = Path(tmp)
        essays = write_essays(root / "alice")
        seconds, result = timed(Config(essays, root / "site-local", use_cache=False))
        rows.append((f"local executor, {os.cpu_count()} cores", seconds, ran(result)))
        seconds, result = timed(Config(essays, root / "site-cluster", use_cache=False, executor=f"local-cluster:{N}"))
        rows.append((f"LocalCluster, {N} workers (start included)", seconds, ran(result)))

        start = time.perf_counter()
        with dask_client(f"local-cluster:{N}"):
            pass
        rows.append(("  a LocalCluster alone, started and closed", time.perf_counter() - start, "-"))

        shared = (root / "shared").as_uri()
        seconds, result = timed(Config(essays, root / "site-a", cache_url=shared))
        rows.append(("shared cache: first build (cold, uploads)", seconds, ran(result)))
        other = write_essays(root / "bob")  # another checkout, the same essays
        seconds, result = timed(Config(other, root / "site-b", cache_url=shared))
        rows.append(("shared cache: second checkout's first build", seconds, ran(result)))
        seconds, result = timed(Config(other, root / "site-b", cache_url=shared))
        rows.append(("second checkout, warm rebuild (local copy)", seconds, ran(result)))

    print(f"{N} essays of one cell that waits {S:g} s each\n")
    print(f"| {'build':<46} | {'seconds':>7} | {'cells run':>9} | {'ratio':>6} |")
    print(f"|{'-' * 48}|{'-' * 8}:|{'-' * 10}:|{'-' * 7}:|")
    local, cold = rows[0][1], rows[3][1]
    for i, (name, seconds, cells) in enumerate(rows):
        base = local if i < 3 else cold  # executors against the local one; cache rows against the cold build
        print(f"| {name:<46} | {seconds:7.2f} | {cells:>9} | {seconds / base:6.2f} |")
    print("\nratio: the executors against the local executor; the cache rows against the cold build")


if __name__ == "__main__":
    main()
