"""Time per training iteration of the bigram essay (essays/01-bigram.md) on the full data.

One process, one table, ratios side by side:

- Python loops: the essay's matmul_loops for both products, timed on a slice of rows and
  extrapolated to all of them, plus the measured rest of a numpy iteration;
- numpy: the essay's own `#iteration` cell, run by runtime.kernel.Kernel, once with its
  chart replaced by a stub (compute only: forward, loss, backward, update) and once as is;
  then compute only again in a child process limited to one BLAS thread, which is the fair
  match for node's single thread and the number that holds up when the machine is busy
  (a BLAS that wants every core stalls when another process holds one of them);
- wgpu: the same cell with `matmul` set to the essay's matmul_gpu (when there is an adapter);
- JavaScript: benchmarks/bigram_naive.js under node, the same iteration written the way a
  naive notebook does it (triple-loop products over Float32Array), timed inside node.

The essay's cells are run with the kernel up to the definitions the iteration needs, so the
benchmark measures what the essay does. Run: python benchmarks/bench_bigram.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import in_one_blas_thread, run_node

from builder.pipeline.parse import Cell, parse_essay
from runtime.kernel import Kernel

ESSAY = ROOT / "essays" / "01-bigram.md"
NAIVE_JS = Path(__file__).resolve().parent / "bigram_naive.js"
SLICE_ROWS = 300  # rows the Python loops are timed on
NUMPY_RUNS = 15
GPU_RUNS = 2
JS_ITERATIONS = 3
TARGET = 20  # numpy's iteration should be at least this many times faster than the JS one


@contextmanager
def chdir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def load_essay(gpu_cell: bool = True) -> tuple[Kernel, Cell]:
    """Run every cell of the essay that runs once (not the training or sampling cells) and
    return the kernel holding its definitions, with the `#iteration` cell."""
    essay = parse_essay(ESSAY)
    kernel = Kernel()
    training = next(c for c in essay.cells if c.anchor == "iteration")
    with chdir(ESSAY.parent):
        for cell in essay.cells:
            if cell.iterations > 1 or (not gpu_cell and "from runtime import gpu" in cell.source):
                continue
            outputs = kernel.execute(cell.source, str(ESSAY), cell.line).outputs
            errors = [o.text for o in outputs if o.kind == "error"]
            if errors:
                raise RuntimeError(f"{ESSAY.name}:{cell.line}: the cell failed:\n{errors[0]}")
    return kernel, training


def time_cell(kernel: Kernel, cell: Cell, runs: int) -> float:
    """Median seconds of one run of a cell, over `runs` runs (one warm-up first)."""
    compiled = kernel.compile(cell.source, str(ESSAY), cell.line)
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        _, ok = kernel.run_compiled(compiled)
        elapsed = time.perf_counter() - start
        if not ok:
            raise RuntimeError("the training cell failed")
        if i:
            times.append(elapsed)
    return statistics.median(times)


def best(fn: Any, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def numpy_compute_seconds(kernel: Kernel, training: Cell) -> float:
    """The essay's iteration cell with numpy products and no chart: compute only."""
    ns = kernel.namespace
    chart = ns["training_chart"]
    ns["matmul"] = ns["matmul_numpy"]
    ns["training_chart"] = lambda losses, W: None
    try:
        return time_cell(kernel, training, NUMPY_RUNS)
    finally:
        ns["training_chart"] = chart


def numpy_one_thread() -> float:
    """numpy_compute_seconds with BLAS on one thread (in a child process)."""
    return in_one_blas_thread(__file__, "--numpy-one-thread")


def main() -> dict:
    """Print the table; return its numbers (seconds per iteration, by path)."""
    kernel, training = load_essay()
    ns = kernel.namespace
    np = ns["np"]
    n, vocab = ns["n_pairs"], ns["vocab_size"]
    W, X, XT = ns["W"], ns["X"], ns["XT"]
    start_weights = W.data.copy()

    def reset() -> None:
        W.data[:] = start_weights
        ns["losses"].clear()

    load = os.getloadavg()[0]
    # numpy: the essay's iteration cell, compute only (chart stubbed out), then as it is.
    chart = ns["training_chart"]
    reset()
    numpy_compute = numpy_compute_seconds(kernel, training)
    reset()
    numpy_cell = time_cell(kernel, training, NUMPY_RUNS)
    numpy_single = numpy_one_thread()

    # Python loops: both products on a slice, extrapolated; the rest of the iteration as numpy.
    reset()
    kernel.run_compiled(kernel.compile(training.source, str(ESSAY), training.line))
    dW_numpy = ns["_dW"].array.copy()
    dZ = ns["_dZ"]
    FloatMatrix, matmul_numpy, matmul_loops = ns["FloatMatrix"], ns["matmul_numpy"], ns["matmul_loops"]
    x_slice = FloatMatrix(X.data[: SLICE_ROWS * vocab], (SLICE_ROWS, vocab))
    xt_slice = ns["transpose"](x_slice)
    dz_slice = FloatMatrix(dZ.data[: SLICE_ROWS * vocab], (SLICE_ROWS, vocab))
    loops_forward = best(lambda: matmul_loops(x_slice, W), 2) * n / SLICE_ROWS
    loops_backward = best(lambda: matmul_loops(xt_slice, dz_slice), 2) * n / SLICE_ROWS
    numpy_products = best(lambda: matmul_numpy(X, W)) + best(lambda: matmul_numpy(XT, dZ))
    loops = numpy_compute - numpy_products + loops_forward + loops_backward

    # wgpu: the same cell with the essay's GPU matmul, checked against numpy's gradient.
    gpu = ns["gpu"]
    gpu_seconds = gpu_error = None
    adapter = "no adapter"
    if gpu.available():
        info = gpu.adapter_info()
        adapter = f"{info['name'].split(' (')[0]}, {info['type']}"
        ns["matmul"] = ns["matmul_gpu"]
        ns["training_chart"] = lambda losses, W: None
        reset()
        kernel.run_compiled(kernel.compile(training.source, str(ESSAY), training.line))
        dW_gpu = ns["_dW"].array
        gpu_error = float(np.abs(dW_gpu - dW_numpy).max() / np.abs(dW_numpy).max())
        reset()
        gpu_seconds = time_cell(kernel, training, GPU_RUNS)
        ns["training_chart"] = chart
    ns["matmul"] = ns["matmul_numpy"]
    reset()

    js = run_node(NAIVE_JS, str(ESSAY.parent / "data" / "names.txt"), str(JS_ITERATIONS))
    js_seconds = statistics.median(js["seconds"]) if js else None

    rows = [
        (f"Python loops (extrapolated from {SLICE_ROWS} rows)", loops, ""),
        ("numpy, compute only", numpy_compute, f"median of {NUMPY_RUNS}; BLAS threads: default"),
        ("numpy, the essay's cell (chart included)", numpy_cell, f"median of {NUMPY_RUNS}; BLAS threads: default"),
        ("numpy, compute only, one BLAS thread", numpy_single, f"median of {NUMPY_RUNS}; child process"),
        (
            f"wgpu matmul ({adapter})",
            gpu_seconds,
            "" if gpu_error is None else f"median of {GPU_RUNS}; dW off by {gpu_error:.1e} of its max",
        ),
        (
            f"naive JavaScript, node {js['node']}" if js else "naive JavaScript (no node)",
            js_seconds,
            f"median of {JS_ITERATIONS}, timed in node" if js else "",
        ),
    ]
    print(
        f"bigram training iteration on the full data: {n:,} pairs, {vocab}x{vocab} weights; "
        f"{os.cpu_count()} CPUs, load average {load:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(f"{'path':<48} {'s/iteration':>12} {'/ numpy':>9} {'/ JS':>8}  note")
    for label, seconds, note in rows:
        if seconds is None:
            print(f"{label:<48} {'-':>12} {'-':>9} {'-':>8}  {note or 'not available'}")
            continue
        vs_js = f"{seconds / js_seconds:.3f}" if js_seconds else "-"
        print(f"{label:<48} {seconds:>12.4f} {seconds / numpy_compute:>9.2f} {vs_js:>8}  {note}")
    if js_seconds:
        for label, seconds in (("default BLAS threads", numpy_compute), ("one BLAS thread", numpy_single)):
            speedup = js_seconds / seconds
            verdict = "meets" if speedup >= TARGET else "misses"
            print(
                f"numpy speed-up over the naive JavaScript iteration, {label}: {speedup:.1f}x "
                f"({verdict} the {TARGET}x target)"
            )
    if gpu_error is not None and gpu_error > 1e-3:
        print(f"warning: the wgpu gradient differs from numpy's by {gpu_error:.1e} of its largest entry")
    return {
        "loops": loops,
        "numpy_compute": numpy_compute,
        "numpy_cell": numpy_cell,
        "numpy_one_thread": numpy_single,
        "wgpu": gpu_seconds,
        "wgpu_error": gpu_error,
        "javascript": js_seconds,
    }


if __name__ == "__main__":
    if sys.argv[1:] == ["--numpy-one-thread"]:
        print(numpy_compute_seconds(*load_essay(gpu_cell=False)))
    else:
        main()
