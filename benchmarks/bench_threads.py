"""Essays built side by side, and their numerical libraries' threads: `essays build` runs
one worker per core, and each worker's OpenBLAS would start a thread per core too. This
times the products a chapter makes (the transformer's shapes) in as many processes as the
machine has cores, all at once, with the libraries' default threads and with each worker's
share (builder/execution/worker.threads_per_worker), side by side in one run.

Run: python benchmarks/bench_threads.py  (or `make bench`)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.execution.worker import THREAD_VARIABLES, library_threads, threads_per_worker

ROUNDS = 3
WORK = """
import numpy as np, time
rng = np.random.default_rng(0)
x, w = rng.random((2048, 64)), rng.random((64, 256))
q, k = rng.random((64, 32, 16)), rng.random((64, 16, 32))
start = time.perf_counter()
for _ in range(200):
    h = x @ w
    q @ k
    h.T @ x
print(time.perf_counter() - start)
"""


def side_by_side(workers: int, threads: int | None) -> float:
    """Seconds until all `workers` processes have done their products (the slowest one)."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    if threads is not None:
        env.update(library_threads(threads))
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", WORK], env=env, stdout=subprocess.DEVNULL) for _ in range(workers)]
    for p in procs:
        p.wait(timeout=900)
    return time.perf_counter() - start


if __name__ == "__main__":
    cores = os.cpu_count() or 1
    workers = max(2, cores)
    share = threads_per_worker(workers, cores)
    default, shared = [], []
    for _ in range(ROUNDS):  # interleaved, so a change in the machine's load hits both
        default.append(side_by_side(workers, None))
        shared.append(side_by_side(workers, share))
    best_default, best_shared = min(default), min(shared)
    print(f"{workers} workers at once on {cores} cores, numpy products at the transformer's shapes (best of {ROUNDS})")
    print(f"{'threads per worker':<28}{'seconds':>10}{'ratio':>8}")
    print(f"{'library default':<28}{best_default:>10.2f}{1.0:>8.2f}")
    print(f"{f'{share} (the build’s share)':<28}{best_shared:>10.2f}{best_shared / best_default:>8.2f}")
