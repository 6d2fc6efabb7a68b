"""The one place the build writes files: a temporary folder beside the output, swapped in
at the end, so a failed or interrupted build leaves the previous site as it was.

The temporary folders are named `.SITE-building-PID-…` and `.SITE-old-PID-…`, so the next
build can tell which ones a build that was killed left behind (paths.clean_leftovers).
"""

from __future__ import annotations

import os
import secrets
import shutil
from contextlib import AbstractContextManager as ContextManager
from contextlib import nullcontext
from pathlib import Path

from .paths import MARKER_TEXT, SITE_MARKER


def _sibling(output: Path, kind: str) -> Path:
    return output.parent / f".{output.name}-{kind}-{os.getpid()}-{secrets.token_hex(4)}"


class SiteWriter:
    def __init__(self, output: Path, swap_lock: ContextManager | None = None) -> None:
        self.output = output
        self.swap_lock = swap_lock or nullcontext()
        output.parent.mkdir(parents=True, exist_ok=True)
        self.root = _sibling(output, "building")
        # os.mkdir honours the umask (mkdtemp would make it 0700, unreadable to a web server
        # running as another user)
        os.mkdir(self.root)
        self.write_text(SITE_MARKER, MARKER_TEXT)

    def _target(self, rel: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write_text(self, rel: str, text: str) -> None:
        self._target(rel).write_text(text, encoding="utf-8")

    def write_bytes(self, rel: str, data: bytes) -> None:
        self._target(rel).write_bytes(data)

    def copy_file(self, src: Path, rel: str) -> None:
        shutil.copyfile(src, self._target(rel))

    def commit(self) -> None:
        """Swap the new site in. Two renames: the old site is gone only once the new one
        stands in its place; if the second fails, the first is undone."""
        old = None
        with self.swap_lock:  # the dev server holds it while opening a file to serve
            if self.output.exists():
                old = _sibling(self.output, "old")
                os.rename(self.output, old)
            try:
                os.rename(self.root, self.output)
            except BaseException:
                if old is not None:
                    os.rename(old, self.output)
                raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
