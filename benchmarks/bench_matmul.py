"""GFLOP/s of runtime.gpu.matmul (wgpu) against numpy's float32 matmul, square sizes.

Run as ``python benchmarks/bench_matmul.py [sizes...]``. The wgpu time is one
number per call: upload of A and B, the compute pass, and the download of C,
as a cell would see it. Each size is warmed up once (which also builds the
buffers for that shape), then timed a few times; the table shows medians.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from runtime import gpu

SIZES = (256, 1024, 2048)


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(sizes: tuple[int, ...] = SIZES) -> None:
    start = time.perf_counter()
    if not gpu.available():
        print("no GPU adapter: wgpu is missing or found no Vulkan/Metal/DX12 driver")
        return
    setup = time.perf_counter() - start
    info = gpu.adapter_info()
    print(f"adapter: {info['name']} ({info['type']}, {info['backend']}); device + pipeline setup {setup:.2f} s")
    print("wgpu time = upload A, B + compute + download C; median of runs after one warm-up")
    print(
        f"{'n':>6} {'runs':>4} {'wgpu s':>9} {'wgpu GFLOP/s':>13} {'numpy s':>9} {'numpy GFLOP/s':>14} {'wgpu/numpy':>11}"
    )
    rng = np.random.default_rng(0)
    for n in sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        runs = 5 if n <= 1024 else 3
        flop = 2 * n**3
        t_gpu = median_seconds(lambda a=a, b=b: gpu.matmul(a, b), runs)
        t_np = median_seconds(lambda a=a, b=b: a @ b, runs)
        g_gpu, g_np = flop / t_gpu / 1e9, flop / t_np / 1e9
        print(f"{n:>6} {runs:>4} {t_gpu:>9.4f} {g_gpu:>13.2f} {t_np:>9.4f} {g_np:>14.2f} {g_gpu / g_np:>11.3f}")


if __name__ == "__main__":
    main(tuple(int(arg) for arg in sys.argv[1:]) or SIZES)
