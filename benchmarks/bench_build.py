"""Builder overhead: building an essay against plain `python` running the same cell code
as one script, and the build time of an essay of 200 trivial cells.

Run: python benchmarks/bench_build.py  (or `make bench`)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.pipeline.parse import parse_essay

WORK_ESSAY = """# Work

<script>
import numpy as np
rng = np.random.default_rng(0)
a = rng.standard_normal((400, 400))
</script>

<script>
total = 0.0
for i in range(3_000_000):
    total += (i % 7) * 0.5
</script>

<script>
b = a.copy()
for _ in range(150):
    b = np.tanh(b @ a / 20.0)
checksum = float(b.sum())
</script>

<script>
words = sorted(str(i * 7919 % 100003) for i in range(200_000))
</script>
"""


def trivial_essay(n: int) -> str:
    return "# Many cells\n\n" + "\n".join(f"<script>\nx{i} = {i}\n</script>\n" for i in range(n))


def time_command(args: list[str], cwd: Path, runs: int, before=None) -> float:
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        # the repository on the path, as the builder's worker has it (`from runtime import gpu`)
        subprocess.run(args, cwd=cwd, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        times.append(time.perf_counter() - start)
    return statistics.median(times)


PRELUDE = "def show(value, label=None):\n    pass\n\n"  # the one global the builder adds


def plain_script(essay_path: Path) -> str:
    """The essay's cells as one script, as a plain `python` run would see them: a cell with
    data-iterations="N" is its body in a loop of N."""
    parts = []
    for cell in parse_essay(essay_path).cells:
        if cell.iterations > 1:
            parts.append(f"for _iteration in range({cell.iterations}):\n" + textwrap.indent(cell.source, "    "))
        else:
            parts.append(cell.source)
    return PRELUDE + "\n".join(parts)


def compare(name: str, text: str, work: Path, runs: int) -> tuple[str, float, float, float]:
    project = work / name
    essays = project / "essays"
    essays.mkdir(parents=True)
    (essays / "01-essay.md").write_text(text)
    data = ROOT / "essays" / "data"
    if data.is_dir():
        shutil.copytree(data, essays / "data")
    (essays / "script.py").write_text(plain_script(essays / "01-essay.md"))
    plain = time_command([sys.executable, "script.py"], essays, runs)
    command = [sys.executable, "-m", "builder", "build", "essays", "-o", "site"]
    # a cold build: the cache starts empty, and the build fills it (snapshots included)
    cold = time_command(
        command, project, runs, before=lambda: shutil.rmtree(project / ".essays-cache", ignore_errors=True)
    )
    uncached = time_command([*command, "--no-cache"], project, runs)
    return name, plain, cold, uncached


def main() -> None:
    runs = 3
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows.append(compare("numpy + loops essay", WORK_ESSAY, work, runs))
        bigram = ROOT / "essays" / "01-bigram.md"
        if bigram.is_file():
            rows.append(compare("01-bigram essay", bigram.read_text(), work, 1))
        rows.append(compare("200 trivial cells", trivial_essay(200), work, runs))
    print("Builder overhead (median wall time of whole commands, cold processes; the plain")
    print("script is the essay's cells in one file, iterated cells in a loop)")
    print(f"{'essay':<22}{'python s':>10}{'build s':>10}{'overhead':>10}{'--no-cache s':>14}{'overhead':>10}")
    for name, plain, cold, uncached in rows:
        print(
            f"{name:<22}{plain:>10.2f}{cold:>10.2f}{(cold / plain - 1) * 100:>9.0f}%"
            f"{uncached:>14.2f}{(uncached / plain - 1) * 100:>9.0f}%"
        )
    print("targets: overhead under 30% on a working essay; 200 trivial cells built in under 2 s")


if __name__ == "__main__":
    main()
