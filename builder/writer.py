"""The one place the build writes files: a temporary folder beside the output, swapped in
at the end, so a failed or interrupted build leaves the previous site as it was."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import ContextManager


class SiteWriter:
    def __init__(self, output: Path, swap_lock: ContextManager | None = None) -> None:
        self.output = output
        self.swap_lock = swap_lock or nullcontext()
        output.parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f".{output.name}-building-", dir=output.parent))

    def _target(self, rel: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write_text(self, rel: str, text: str) -> None:
        self._target(rel).write_text(text, encoding="utf-8")

    def copy_file(self, src: Path, rel: str) -> None:
        shutil.copyfile(src, self._target(rel))

    def commit(self) -> None:
        """Swap the new site in. Two renames: the old site is gone only once the new one
        stands in its place."""
        old = None
        with self.swap_lock:  # the dev server holds it while opening a file to serve
            if self.output.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{self.output.name}-old-", dir=self.output.parent))
                os.rename(self.output, old / "site")
            os.rename(self.root, self.output)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
