"""The cache's size and cost (issue 15): what a cold build of the bigram essay leaves in the
cache, and what filling the cache costs against a build without one and against plain
`python` running the same cells; and the snapshots of a synthetic essay of 11 cells that
holds 38 MB of bytes and lists from its first cell on. In one process, on copies of the
essays (the repository's cache and site are never touched).

With `--before REV` (a commit from before the change, such as the branch point), the same
sizes are measured for the cache format of REV too, in a child process building with
REV's builder/ and runtime/ (from `git archive`). Without it, the table shows the sizes
issue 15 recorded.

Run: python benchmarks/bench_cache.py [--runs N] [--before REV]  (or `make bench`)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIGRAM = "01-bigram.md"
# issue 15, before this format: 232 was du -h (MiB); the table is in MB (10^6 bytes)
RECORDED = {"bigram": 232 * 2**20, "synthetic": 419e6}

SYNTHETIC = (
    "# Kept\n\n"
    "<script>\n"
    "import random\n"
    "rng = random.Random(0)\n"
    "payload = rng.randbytes(16_000_000)  # 16 MB that no compressor shrinks\n"
    "readings = [rng.random() for _ in range(1_000_000)]  # 9 MB pickled\n"
    "counts = list(range(2_000_000))  # 10 MB pickled\n"
    'text = ("lorem ipsum dolor " * 170_000).encode()  # 3 MB\n'
    "</script>\n" + "".join(f"\n<script>\nstep_{i} = len(counts) + {i}\n</script>\n" for i in range(2, 12))
)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (the workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measured(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of fn()."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    fn()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def project(work: Path, name: str, essays: dict[str, str], data: bool) -> Path:
    folder = work / name / "essays"
    folder.mkdir(parents=True)
    for file, text in essays.items():
        (folder / file).write_text(text, encoding="utf-8")
    if data and (ROOT / "essays" / "data").is_dir():
        shutil.copytree(ROOT / "essays" / "data", folder / "data", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def build_once(essays: Path, cache: Path | None) -> float:
    """One build of `essays` (with a fresh cache at `cache`, or none), from its parent;
    returns the seconds its workers spent saving snapshots."""
    from builder.build import build
    from builder.config import Config

    if cache is not None:
        shutil.rmtree(cache, ignore_errors=True)
    cwd = os.getcwd()
    os.chdir(essays.parent)  # cells name their files relative to here, as in a real build
    try:
        config = Config(
            source=essays,
            output=essays.parent / "site",
            cache_dir=cache,
            use_cache=cache is not None,
            quiet=True,
        )
        result = build(config)
    finally:
        os.chdir(cwd)
    failed = [r.status for e in result.essays for r in e.results if r.status != "ok"]
    if failed:
        raise RuntimeError(f"the build of {essays} had cells that did not run: {failed}")
    return sum(r.snapshot_seconds for e in result.essays for r in e.results)


def plain_python(essays: Path) -> None:
    """The essay's cells as one script under plain `python` (see bench_build.py)."""
    subprocess.run(
        [sys.executable, "script.py"],
        cwd=essays,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def sizes(essays: dict[str, Path]) -> dict[str, float]:
    """The bytes a cold build leaves in the cache (everything) and in its snapshots (the
    snapshot files and the blobs they refer to), and the seconds spent saving them, for
    each project."""
    out: dict[str, float] = {}
    for name, folder in essays.items():
        cache = folder.parent / "cache"
        out[f"{name} seconds"] = build_once(folder, cache)
        out[name] = folder_bytes(cache)
        out[f"{name} snapshots"] = folder_bytes(cache) - folder_bytes(cache / "cells")
    return out


def sizes_at(rev: str, essays: dict[str, Path], work: Path) -> dict[str, float]:
    """sizes() with the builder of commit `rev`, in a child process."""
    tree = work / f"rev-{rev}"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "builder", "runtime"], check=True, capture_output=True
    ).stdout
    tar = tree / "tree.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as f:
        f.extractall(tree, filter="data")
    folders = {k: str(v) for k, v in essays.items()}
    done = subprocess.run(
        [sys.executable, __file__, "--sizes-with", str(tree), json.dumps(folders)],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="timed builds of each kind (the fastest counts)")
    parser.add_argument("--before", metavar="REV", help="also measure the cache format of this commit")
    parser.add_argument("--sizes-with", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sizes_with:  # the child of sizes_at(): another commit's builder first on the path
        tree, folders = args.sizes_with
        sys.path.insert(0, tree)
        print(json.dumps(sizes({k: Path(v) for k, v in json.loads(folders).items()})))
        return
    sys.path.insert(0, str(ROOT))
    sys.path.insert(1, str(Path(__file__).resolve().parent))
    # one BLAS thread in every process (the workers inherit it): a BLAS that spins on both
    # cores of a busy machine makes CPU time measure the machine, not the build
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    from bench_build import plain_script

    bigram_text = (ROOT / "essays" / BIGRAM).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        work = Path(tmp)
        bigram = project(work, "bigram", {BIGRAM: bigram_text}, data=True)
        synthetic = project(work, "synthetic", {"01-kept.md": SYNTHETIC}, data=False)
        (bigram / "script.py").write_text(plain_script(bigram / BIGRAM), encoding="utf-8")
        build_once(project(work, "warm-up", {"01-a.md": "# A\n\n<script>\nx = 1\n</script>\n"}, False), None)

        after = sizes({"bigram": bigram, "synthetic": synthetic})
        before = sizes_at(args.before, {"bigram": bigram, "synthetic": synthetic}, work) if args.before else None

        kinds: dict[str, Callable[[], object]] = {
            "plain python, the cells as one script": lambda: plain_python(bigram),
            "build, --no-cache": lambda: build_once(bigram, None),
            "build, cold cache (fills it)": lambda: build_once(bigram, bigram.parent / "cache"),
        }
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
        for _ in range(args.runs):  # interleaved, so a busy spell on the machine hits all kinds
            for kind, fn in kinds.items():
                times[kind].append(measured(fn))

    mb = 1e6
    label = f"before ({args.before})" if args.before else "before (issue 15)"
    print("Cache size after a cold build (MB; snapshots = snapshot files and the blobs they use)")
    print(f"{'essay':<44}{label:>20}{'after':>10}{'ratio':>8}{'target':>9}")
    rows = [
        ("01-bigram: the whole cache", "bigram", "≤ 100"),
        ("synthetic, 11 cells holding 38 MB: snapshots", "synthetic snapshots", ""),
    ]
    for name, key, target in rows:
        old = before[key] if before else RECORDED[key.split()[0]]
        print(f"{name:<44}{old / mb:>20.1f}{after[key] / mb:>10.1f}{after[key] / old:>8.1%}{target:>9}")
    print("seconds the workers spent saving snapshots, same builds:")
    for name, key in (("01-bigram", "bigram seconds"), ("synthetic", "synthetic seconds")):
        old_s = f"{before[key]:.2f}" if before else "?"
        print(f"{'  ' + name:<44}{old_s:>20}{after[key]:>10.2f}")
    print()
    plain = {k: min(t[i] for t in times["plain python, the cells as one script"]) for k, i in (("wall", 0), ("cpu", 1))}
    bare = {k: min(t[i] for t in times["build, --no-cache"]) for k, i in (("wall", 0), ("cpu", 1))}
    print(f"01-bigram, cold builds (fastest of {args.runs}; CPU counts the workers)")
    print(f"{'run':<40}{'wall s':>8}{'CPU s':>8}{'wall ÷':>10}{'CPU ÷':>8}{'wall ÷':>10}{'CPU ÷':>8}")
    print(f"{'':<56}{'python':>18}{'--no-cache':>18}")
    for kind, runs in times.items():
        wall, cpu = min(t[0] for t in runs), min(t[1] for t in runs)
        print(
            f"{kind:<40}{wall:>8.2f}{cpu:>8.2f}{wall / plain['wall']:>10.2f}{cpu / plain['cpu']:>8.2f}"
            f"{wall / bare['wall']:>10.2f}{cpu / bare['cpu']:>8.2f}"
        )
    print("target: a cold build with the cache ≤ 1.15× plain python (before: 1.19× CPU, 1.34× wall)")


if __name__ == "__main__":
    main()
