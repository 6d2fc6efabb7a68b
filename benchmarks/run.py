"""`make bench`: every benchmark table, one after another."""

from __future__ import annotations

import runpy
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    names = sys.argv[1:] or sorted(p.stem for p in HERE.glob("bench_*.py"))
    failed = []
    for name in names:
        print(f"\n== {name} ==", flush=True)
        sys.argv = [str(HERE / f"{name}.py")]  # each script sees only its own arguments
        try:
            runpy.run_path(str(HERE / f"{name}.py"), run_name="__main__")
        except Exception:  # one broken benchmark should not hide the others' tables
            traceback.print_exc()
            failed.append(name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
