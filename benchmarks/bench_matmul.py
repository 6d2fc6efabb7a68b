"""GFLOP/s of runtime.gpu's matmul kernels against numpy's float32 matmul, side by side.

Run as ``python benchmarks/bench_matmul.py [n ...]`` (square sizes for the last rows;
1024 by default). The rows are chapter 8's products (64 sequences x heads, context 32,
head size 16; 2048 rows of 64-wide embeddings through a 256-wide layer) and square ones.
Each row runs every matmul kernel in the same process, one after the other, so a shared,
noisy machine slows them alike: ``matmul`` (tiles in workgroup memory, for GPUs),
``matmul_cpu`` (a register block per invocation, reading the buffers) and
``matmul_texture`` (the operands packed into textures first, packing timed too), the
last two for CPU adapters; the adapter's pick is marked *. Columns:
  transfer  from numpy arrays: upload A and B, compute, download C (``gpu.matmul`` on 2-D
            numpy arrays does the same)
  resident  operands already GpuArrays: a chain of products read back once at its end,
            per product: what each link of a chain costs when the data stays put
  cpu-s     on a CPU adapter, the resident product's GFLOP per second of this process's
            CPU time (all its threads, llvmpipe's among them): on a machine other jobs
            share, what the kernel does with the CPU it gets; times the cores, what an
            idle machine would see at best
  numpy     ``a @ b`` on the CPU, and its GFLOP per CPU-second
Medians after one warm-up; ratios are resident over numpy and resident over transfer. A
last table gives each kernel's first product (its shader compiled then) and second.
"""

from __future__ import annotations

import os
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
    return timed(fn, seconds, most)[0]


def timed(fn: Callable[[], object], seconds: float = 2.0, most: int = 30) -> tuple[float, float]:
    """The median wall time of ``fn`` after one warm-up, over as many runs as fit in about
    ``seconds`` (at least 3, at most ``most``), and the median CPU time of this process
    (every thread) over the same runs."""
    start = time.perf_counter()
    fn()  # warm-up: builds the pipeline and buffers for the shape
    first = time.perf_counter() - start
    runs = max(3, min(most, int(seconds / max(first, 1e-6))))
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), cpu_seconds()
        fn()
        times.append(time.perf_counter() - start)
        cpu.append(cpu_seconds() - start_cpu)
    return statistics.median(times), statistics.median(cpu)


def cpu_seconds() -> float:
    """CPU time of this process so far, every thread's (llvmpipe's among them)."""
    return time.process_time()


def chain(a: gpu.GpuArray, b: gpu.GpuArray, links: int) -> None:
    """``links`` products on the device, then one read back (which waits for them all)."""
    out = None
    for _ in range(links):
        out = gpu.matmul(a, b)
    out.numpy()  # type: ignore[union-attr]


def rows(label: str, a: np.ndarray, b: np.ndarray, chosen: str, on_cpu: bool) -> list[str]:
    flop = 2 * np.matmul(a[..., :1, :], b[..., :1]).size * a.shape[-2] * b.shape[-1] * a.shape[-1]
    t_np, cpu_np = timed(lambda: a @ b, most=1000)
    backend = gpu._backend()
    da, db = gpu.asarray(a), gpu.asarray(b)
    links = 1 if flop > 1e9 else 10
    lines = []
    for kernel in sorted(MATMUL_TILES):
        backend.matmul_kernel = lambda kernel=kernel: kernel  # type: ignore[method-assign, union-attr]
        try:
            t_transfer = median_seconds(lambda: gpu.matmul(gpu.asarray(a), gpu.asarray(b)).numpy())  # type: ignore[union-attr]
            t_resident, cpu_resident = timed(lambda: chain(da, db, links))  # type: ignore[arg-type]
            t_resident, cpu_resident = t_resident / links, cpu_resident / links
        finally:
            del backend.matmul_kernel  # type: ignore[union-attr]
        name = kernel + ("*" if kernel == chosen else "")
        per_cpu = f"{flop / cpu_resident / 1e9:>7.2f}" if on_cpu and cpu_resident > 0 else f"{'-':>7}"
        lines.append(
            f"{label:<30} {name:<15} {1000 * t_transfer:>9.2f} {flop / t_transfer / 1e9:>7.2f} "
            f"{1000 * t_resident:>9.2f} {flop / t_resident / 1e9:>7.2f} {per_cpu} {1000 * t_np:>8.3f} "
            f"{flop / t_np / 1e9:>7.1f} {flop / max(cpu_np, 1e-9) / 1e9:>7.1f} "
            f"{t_np / t_resident:>8.3f} {t_transfer / t_resident:>8.2f}"
        )
    return lines


def first_products() -> list[str]:
    """Each kernel's shader compiled in a fresh process without Mesa's cache of compiled
    shaders (module and pipeline), then its first
    product (llvmpipe compiles again at the first dispatch, and matmul_texture builds its
    packing kernel then) and its second, on small operands."""
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); import numpy as np; from runtime import gpu\n"
        "gpu.available(); b = gpu._backend(); k = sys.argv[2]; b.matmul_kernel = lambda: k\n"
        "x = gpu.asarray(np.ones((33, 17), np.float32)); y = gpu.asarray(np.ones((17, 65), np.float32))\n"
        "t = time.perf_counter(); b._pipelines[k] = b._build(k); print(time.perf_counter() - t)\n"
        "for _ in range(2):\n"
        "    t = time.perf_counter(); gpu.matmul(x, y).numpy(); print(time.perf_counter() - t)\n"
    )
    import subprocess

    lines = []
    root = str(Path(__file__).resolve().parent.parent)
    # Mesa keeps compiled shaders in ~/.cache/mesa_shader_cache: a second run would time a
    # lookup, not a compile.
    uncached = {**os.environ, "MESA_SHADER_CACHE_DISABLE": "true"}
    for kernel in sorted(MATMUL_TILES):
        run = subprocess.run(
            [sys.executable, "-c", code, root, kernel], capture_output=True, text=True, check=False, env=uncached
        )
        times = [float(line) for line in run.stdout.split()]
        if len(times) == 3:
            build, first, second = times
            lines.append(
                f"{kernel:<15} pipeline {build:6.2f} s   first product {first:6.2f} s   second {second:6.3f} s"
            )
        else:
            lines.append(f"{kernel:<15} failed: {run.stderr.strip().splitlines()[-1:]}")
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
    on_cpu = info.get("type") == "CPU"
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("ms per product and GFLOP/s; cpu-s: GFLOP per CPU-second; numpy/res: how many times")
    print("faster numpy is than the resident GPU product (<1: the GPU wins); xfer/res: what")
    print("staying on the device saves.")
    print(
        f"{'product':<30} {'kernel':<15} {'xfer ms':>9} {'GFLOP/s':>7} {'res ms':>9} {'GFLOP/s':>7} {'cpu-s':>7} "
        f"{'numpy ms':>8} {'GFLOP/s':>7} {'cpu-s':>7} {'numpy/res':>8} {'xfer/res':>8}"
    )
    rng = np.random.default_rng(0)
    shapes = [*CHAPTER, *((f"square {n}^3", (n, n), (n, n)) for n in sizes)]
    for label, a_shape, b_shape in shapes:
        a = rng.standard_normal(a_shape, dtype=np.float32)
        b = rng.standard_normal(b_shape, dtype=np.float32)
        for line in rows(label, a, b, chosen, on_cpu):
            print(line, flush=True)
    print("compiling, in a fresh process: each kernel's pipeline, its first product and its second")
    for line in first_products():
        print(line, flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main(tuple(int(arg) for arg in sys.argv[1:]) or SIZES)
