"""GFLOP/s of runtime.gpu's matmul kernels against numpy's float32 matmul, side by side.

Run as ``python benchmarks/bench_matmul.py [n ...]`` (square sizes for the last rows;
1024 by default). The rows are chapter 8's products (64 sequences x heads, context 32,
head size 16; 2048 rows of 64-wide embeddings through a 256-wide layer) and square ones.
Each row runs both matmul kernels in the same process, one after the other, so a shared,
noisy machine slows them alike: ``matmul`` (tiles in workgroup memory, for GPUs) and
``matmul_cpu`` (a register block per invocation, for CPU adapters; the adapter's pick
is marked *). Columns:
  transfer  from numpy arrays: upload A and B, compute, download C (``gpu.matmul`` on 2-D
            numpy arrays does the same)
  resident  operands already GpuArrays: a chain of products read back once at its end,
            per product: what each link of a chain costs when the data stays put
  numpy     ``a @ b`` on the CPU
Medians after one warm-up; ratios are resident over numpy and resident over transfer.
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
from runtime.gpu_backend import MATMUL_TILES

SIZES = (1024,)
# (label, A's shape, B's shape): a 2-D B is shared by the whole batch, as a layer's weights are
CHAPTER = [
    ("q @ k^T (64,32,16)@(64,16,32)", (64, 32, 16), (64, 16, 32)),
    ("att @ v (64,32,32)@(64,32,16)", (64, 32, 32), (64, 32, 16)),
    ("MLP up (2048,64)@(64,256)", (2048, 64), (64, 256)),
]


def median_seconds(fn: Callable[[], object], seconds: float = 2.0, most: int = 30) -> float:
    """The median time of ``fn`` after one warm-up, over as many runs as fit in about
    ``seconds`` (at least 3, at most ``most``)."""
    start = time.perf_counter()
    fn()  # warm-up: builds the pipeline and buffers for the shape
    first = time.perf_counter() - start
    runs = max(3, min(most, int(seconds / max(first, 1e-6))))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def chain(a: gpu.GpuArray, b: gpu.GpuArray, links: int) -> None:
    """``links`` products on the device, then one read back (which waits for them all)."""
    out = None
    for _ in range(links):
        out = gpu.matmul(a, b)
    out.numpy()  # type: ignore[union-attr]


def rows(label: str, a: np.ndarray, b: np.ndarray, chosen: str) -> list[str]:
    flop = 2 * np.matmul(a[..., :1, :], b[..., :1]).size * a.shape[-2] * b.shape[-1] * a.shape[-1]
    t_np = median_seconds(lambda: a @ b, most=1000)
    backend = gpu._backend()
    da, db = gpu.asarray(a), gpu.asarray(b)
    links = 1 if flop > 1e9 else 10
    lines = []
    for kernel in sorted(MATMUL_TILES):
        backend.matmul_kernel = lambda kernel=kernel: kernel  # type: ignore[method-assign, union-attr]
        try:
            t_transfer = median_seconds(lambda: gpu.matmul(gpu.asarray(a), gpu.asarray(b)).numpy())  # type: ignore[union-attr]
            t_resident = median_seconds(lambda: chain(da, db, links)) / links  # type: ignore[arg-type]
        finally:
            del backend.matmul_kernel  # type: ignore[union-attr]
        name = kernel + ("*" if kernel == chosen else "")
        lines.append(
            f"{label:<30} {name:<11} {1000 * t_transfer:>9.2f} {flop / t_transfer / 1e9:>7.2f} "
            f"{1000 * t_resident:>9.2f} {flop / t_resident / 1e9:>7.2f} {1000 * t_np:>8.3f} "
            f"{flop / t_np / 1e9:>7.1f} {t_np / t_resident:>8.3f} {t_transfer / t_resident:>8.2f}"
        )
    return lines


def main(sizes: tuple[int, ...] = SIZES) -> None:
    start = time.perf_counter()
    if not gpu.available():
        print("no GPU adapter: wgpu is missing or found no Vulkan/Metal/DX12 driver")
        return
    setup = time.perf_counter() - start
    info = gpu.adapter_info() or {}
    chosen = gpu._backend().matmul_kernel()  # type: ignore[union-attr]
    print(f"adapter: {info['name']} ({info['type']}, {info['backend']}); device + pipeline setup {setup:.2f} s")
    print("ms per product and GFLOP/s; numpy/res: how many times faster numpy is than the resident")
    print("GPU product (<1: the GPU wins); xfer/res: what staying on the device saves.")
    print(
        f"{'product':<30} {'kernel':<11} {'xfer ms':>9} {'GFLOP/s':>7} {'res ms':>9} {'GFLOP/s':>7} "
        f"{'numpy ms':>8} {'GFLOP/s':>7} {'numpy/res':>8} {'xfer/res':>8}"
    )
    rng = np.random.default_rng(0)
    shapes = [*CHAPTER, *((f"square {n}^3", (n, n), (n, n)) for n in sizes)]
    for label, a_shape, b_shape in shapes:
        a = rng.standard_normal(a_shape, dtype=np.float32)
        b = rng.standard_normal(b_shape, dtype=np.float32)
        for line in rows(label, a, b, chosen):
            print(line, flush=True)


if __name__ == "__main__":
    main(tuple(int(arg) for arg in sys.argv[1:]) or SIZES)
