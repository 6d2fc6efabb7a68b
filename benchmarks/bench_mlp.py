"""One training step of the MLP essay (essays/03-mlp.md), and the essay's build time.

- numpy: the essay's own `train_step` (chapter 2's Tensor, batch of 64), after running the
  essay's cells up to its definition with runtime.kernel.Kernel; the median over many steps,
  with the default BLAS threads and in a child process limited to one BLAS thread;
- JavaScript: benchmarks/mlp_naive.js under node, the same step written the way a naive
  notebook does it (triple-loop products over Float32Array), timed inside node;
- the build: `essays build --strict` of chapters 1 to 3 in a temporary folder (the MLP
  imports the modules of the first two), with the report's seconds per essay and the
  MLP's slowest cells.

Run: python benchmarks/bench_mlp.py
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "essays"))

import essay_modules
from common import in_one_blas_thread, run_node

from builder.pipeline.parse import parse_essay
from runtime.kernel import Kernel

ESSAYS = ROOT / "essays"
ESSAY = ESSAYS / "03-mlp.md"
CHAPTERS = ("01-bigram.md", "02-autograd.md", "03-mlp.md")
NAIVE_JS = Path(__file__).resolve().parent / "mlp_naive.js"
NUMPY_STEPS = 2000
JS_STEPS = 40
TARGET = 20  # numpy's step should be at least this many times faster than the JS one
BUILD_LIMIT = 60  # seconds: the budget for building the MLP essay on 2 cores


def load_essay() -> Kernel:
    """Run the essay's cells up to the definition of train_step; return the kernel."""
    essay_modules.load_series("01-bigram", "02-autograd")
    kernel = Kernel()
    old = Path.cwd()
    os.chdir(ESSAYS)
    try:
        for cell in parse_essay(ESSAY).cells:
            if "draw(" in cell.source and "def " not in cell.source:
                continue  # a diagram: not needed for timing
            outputs = kernel.execute(cell.source, str(ESSAY), cell.line).outputs
            errors = [o.text for o in outputs if o.kind == "error"]
            if errors:
                raise RuntimeError(f"{ESSAY.name}:{cell.line}: the cell failed:\n{errors[0]}")
            if "def train_step" in cell.source:
                return kernel
    finally:
        os.chdir(old)
    raise RuntimeError("no train_step in the essay")


def numpy_step_seconds() -> float:
    """Median seconds of one train_step of the essay, over NUMPY_STEPS steps."""
    ns = load_essay().namespace
    np = ns["np"]
    params = ns["make_parameters"](ns["embedding_size"], ns["hidden_size"])
    rng = np.random.default_rng(1)
    train_step = ns["train_step"]
    for _ in range(100):  # warm-up
        train_step(params, 0.1, rng)
    times = []
    for _ in range(NUMPY_STEPS):
        start = time.perf_counter()
        train_step(params, 0.1, rng)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def numpy_one_thread() -> float:
    """numpy_compute_seconds with BLAS on one thread (in a child process)."""
    return in_one_blas_thread(__file__, "--numpy-one-thread")


def _build(source: Path, tmp: Path, report: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "builder",
            "build",
            str(source),
            "-o",
            str(tmp / "site"),
            "--strict",
            "--cache-dir",
            str(tmp / "cache"),
            "--report",
            str(report),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def build_seconds() -> tuple[dict[str, float], float | None, list[tuple[float, int]], str | None]:
    """Seconds per essay in a fresh build of chapters 1-3 (the sum of each essay's cells'
    seconds in the report; the essays build side by side), then the MLP's seconds alone: a
    rebuild after an edit of its first cell, with chapters 1 and 2 cached. Also the MLP's
    slowest cells (seconds, line) in that rebuild, and an error if a build failed."""
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        source = tmp / "essays"
        source.mkdir()
        for chapter in CHAPTERS:
            shutil.copy(ESSAYS / chapter, source / chapter)
        shutil.copytree(ESSAYS / "data", source / "data")
        per_essay: dict[str, float] = {}
        alone = None
        slowest: list[tuple[float, int]] = []
        for attempt in ("fresh", "alone"):
            report = tmp / f"{attempt}.json"
            done = _build(source, tmp, report)
            if done.returncode != 0 or not report.exists():
                return per_essay, alone, slowest, (done.stdout + done.stderr).strip().splitlines()[-1]
            entries = {Path(e["source"]).name: e for e in json.loads(report.read_text())["essays"]}
            if attempt == "fresh":
                per_essay = {k: sum(c["seconds"] for c in e["cells"]) for k, e in entries.items()}
                mlp = source / ESSAY.name
                mlp.write_text(mlp.read_text().replace("<script>\n", "<script>\n# rebuilt\n", 1))
            else:
                cells = entries[ESSAY.name]["cells"]
                alone = sum(c["seconds"] for c in cells)
                slowest = sorted(((c["seconds"], c["line"]) for c in cells), reverse=True)[:3]
        return per_essay, alone, slowest, None


def main() -> dict:
    load = os.getloadavg()[0]
    numpy_seconds = numpy_step_seconds()
    numpy_single = numpy_one_thread()
    js = run_node(NAIVE_JS, str(ESSAYS / "data" / "names.txt"), str(JS_STEPS))
    # node's first steps run before its JIT has compiled the loops: the median skips them
    js_seconds = statistics.median(js["seconds"]) if js else None

    print(
        f"MLP training step (batch 64, context 3, embedding 10, hidden 200): "
        f"{os.cpu_count()} CPUs, load average {load:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(f"{'path':<44} {'ms/step':>9} {'/ numpy':>9}  note")
    rows = [
        ("numpy (the essay's train_step)", numpy_seconds, f"median of {NUMPY_STEPS}; BLAS threads: default"),
        ("numpy, one BLAS thread", numpy_single, f"median of {NUMPY_STEPS}; child process"),
        (
            f"naive JavaScript, node {js['node']}" if js else "naive JavaScript (no node)",
            js_seconds,
            f"median of {JS_STEPS}, timed in node" if js else "not available",
        ),
    ]
    for label, seconds, note in rows:
        if seconds is None:
            print(f"{label:<44} {'-':>9} {'-':>9}  {note}")
        else:
            print(f"{label:<44} {1000 * seconds:>9.3f} {seconds / numpy_seconds:>9.1f}  {note}")
    if js_seconds:
        for label, seconds in (("default BLAS threads", numpy_seconds), ("one BLAS thread", numpy_single)):
            speedup = js_seconds / seconds
            verdict = "meets" if speedup >= TARGET else "misses"
            print(
                f"numpy speed-up over the naive JavaScript step, {label}: {speedup:.1f}x ({verdict} the {TARGET}x target)"
            )

    per_essay, alone, slowest, error = build_seconds()
    print("\nbuild of chapters 1-3 (--strict), seconds of each essay's cells, built side by side:")
    for name, seconds in per_essay.items():
        print(f"  {name:<20} {seconds:8.1f} s")
    if alone is not None:
        verdict = "meets" if alone <= BUILD_LIMIT else "misses"
        print(f"  {ESSAY.name} alone (1-2 cached): {alone:.1f} s ({verdict} the {BUILD_LIMIT} s limit)")
        print("  its slowest cells: " + ", ".join(f"line {line}: {s:.1f} s" for s, line in slowest))
    if error:
        print(f"  the build failed: {error}")
    return {
        "numpy": numpy_seconds,
        "numpy_one_thread": numpy_single,
        "javascript": js_seconds,
        "build": per_essay,
        "mlp_alone": alone,
    }


if __name__ == "__main__":
    if sys.argv[1:] == ["--numpy-one-thread"]:
        print(numpy_step_seconds())
    else:
        main()
