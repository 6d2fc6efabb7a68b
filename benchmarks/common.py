"""What several benchmarks share."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


def in_one_blas_thread(script: str, flag: str) -> float:
    """Run `script flag` in a child process whose BLAS may use one thread only; the last
    line it prints is a number of seconds."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, str(Path(script).resolve()), flag],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        env=env,
    )
    return float(done.stdout.strip().splitlines()[-1])


def run_node(script: Path, *args: str) -> dict | None:
    """A naive JavaScript benchmark under node: the JSON object its last line prints, or
    None where node is not installed."""
    node = shutil.which("node")
    if node is None:
        return None
    done = subprocess.run([node, str(script), *args], capture_output=True, text=True, check=True, timeout=300)
    return json.loads(done.stdout.strip().splitlines()[-1])
