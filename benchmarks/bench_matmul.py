"""GFLOP/s of runtime.gpu's batched matmul against numpy's float32 matmul, side by side.

Run as ``python benchmarks/bench_matmul.py [n ...]`` (square sizes for the last rows;
1024 by default). The rows are the products of a small transformer (chapter 8's shape:
4 sequences x 4 heads, context 32, head size 16, 64-wide embeddings, a 256-wide MLP) and
square products. "on device" times a product whose operands are already GpuArrays, plus
the read back of its result (which waits for the pass): what a chain of kernels costs per
link. "from numpy" is ``gpu.matmul`` on numpy arrays, the upload and download included, as
chapters 1 and 3 call it. Each row is warmed up once, then timed; the table shows medians.
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

SIZES = (1024,)
HEADS, CONTEXT, HEAD, WIDTH = 16, 32, 16, 64  # 4 sequences x 4 heads; context; head size; embedding
# (label, A's shape, B's shape): a 2-D B is shared by the whole batch, as a layer's weights are
TRANSFORMER = [
    ("attention q @ k^T", (HEADS, CONTEXT, HEAD), (HEADS, HEAD, CONTEXT)),
    ("attention weights @ v", (HEADS, CONTEXT, CONTEXT), (HEADS, CONTEXT, HEAD)),
    ("qkv projection", (4 * CONTEXT, WIDTH), (WIDTH, 3 * WIDTH)),
    ("MLP up (B*T,64)@(64,256)", (4 * CONTEXT, WIDTH), (WIDTH, 4 * WIDTH)),
    ("MLP down (B*T,256)@(256,64)", (4 * CONTEXT, 4 * WIDTH), (4 * WIDTH, WIDTH)),
    ("batched linear (4,32,64)@(64,256)", (4, CONTEXT, WIDTH), (WIDTH, 4 * WIDTH)),
]


def median_seconds(fn: Callable[[], object], seconds: float = 2.0, most: int = 50) -> tuple[float, int]:
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
    return statistics.median(times), runs


def row(label: str, a: np.ndarray, b: np.ndarray, on_device: bool) -> str:
    flop = 2 * np.matmul(a[..., :1, :], b[..., :1]).size * a.shape[-2] * b.shape[-1] * a.shape[-1]
    if on_device:
        da, db = gpu.asarray(a), gpu.asarray(b)
        t_gpu, runs = median_seconds(lambda: gpu.matmul(da, db).numpy())  # type: ignore[union-attr]
    else:
        t_gpu, runs = median_seconds(lambda: gpu.matmul(a, b))
    t_np, _ = median_seconds(lambda: a @ b, most=1000)
    g_gpu, g_np = flop / t_gpu / 1e9, flop / t_np / 1e9
    where = "on device" if on_device else "from numpy"
    return (
        f"{label:<34} {where:<10} {runs:>4} {1000 * t_gpu:>9.3f} {g_gpu:>8.2f} "
        f"{1000 * t_np:>9.3f} {g_np:>8.2f} {g_gpu / g_np:>9.3f}"
    )


def main(sizes: tuple[int, ...] = SIZES) -> None:
    start = time.perf_counter()
    if not gpu.available():
        print("no GPU adapter: wgpu is missing or found no Vulkan/Metal/DX12 driver")
        return
    setup = time.perf_counter() - start
    info = gpu.adapter_info() or {}
    print(f"adapter: {info['name']} ({info['type']}, {info['backend']}); device + pipeline setup {setup:.2f} s")
    print("GPU time: on device = operands already GpuArrays, compute + read back of C;")
    print("from numpy = upload A and B, compute, download C. Medians after one warm-up.")
    print(
        f"{'product':<34} {'gpu from':<10} {'runs':>4} {'gpu ms':>9} {'GFLOP/s':>8} "
        f"{'numpy ms':>9} {'GFLOP/s':>8} {'gpu/numpy':>9}"
    )
    rng = np.random.default_rng(0)
    for label, a_shape, b_shape in TRANSFORMER:
        a = rng.standard_normal(a_shape, dtype=np.float32)
        b = rng.standard_normal(b_shape, dtype=np.float32)
        print(row(label, a, b, on_device=True), flush=True)
    for n in sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        for on_device in (True, False):
            print(row(f"square {n}^3", a, b, on_device), flush=True)


if __name__ == "__main__":
    main(tuple(int(arg) for arg in sys.argv[1:]) or SIZES)
