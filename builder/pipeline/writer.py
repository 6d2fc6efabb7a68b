"""The one place the build writes files: a temporary folder beside the output, swapped in
at the end, so a failed or interrupted build leaves the previous site as it was.

The temporary folders are named `.SITE-building-PID-…`, `.SITE-old-PID-…` and
`.SITE-trash-PID-…`, so the next build can tell which ones a build that was killed left
behind (paths.restore_previous, paths.clean_leftovers).
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from contextlib import nullcontext
from functools import cache
from pathlib import Path

from builder.paths import MARKER_TEXT, SITE_MARKER, check_output, remove_site


def _sibling(output: Path, kind: str) -> Path:
    return output.parent / f".{output.name}-{kind}-{os.getpid()}-{secrets.token_hex(4)}"


class SiteWriter:
    def __init__(self, output: Path, swap_lock: ContextManager[object] | None = None) -> None:
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
        """Swap the new site in. The output is checked again first: it may have become a
        folder of someone else's while the cells ran (PathError; the build then discards
        the new site). Where the system can, the swap is one atomic exchange; elsewhere,
        two renames, and the first is undone if the second fails."""
        with self.swap_lock:  # the dev server holds it while opening a file to serve
            check_output(self.output, during_build=True)
            old = self._swap()
        if old is not None:
            # renamed first: a deletion cut short is never taken for a previous site to restore
            trash = _sibling(self.output, "trash")
            try:
                os.rename(old, trash)
            except OSError:  # the new site is in place: removing the old one is best effort
                trash = old
            remove_site(trash)

    def _swap(self) -> Path | None:
        """Put the new site at the output; return where the previous one is now."""
        if not (self.output.exists() or self.output.is_symlink()):
            os.rename(self.root, self.output)
            return None
        if exchange(self.root, self.output):
            return self.root  # the previous site, under the new one's temporary name
        old = _sibling(self.output, "old")
        os.rename(self.output, old)
        try:
            os.rename(self.root, self.output)
        except BaseException:
            # undone by what is on disk, not by a flag: an interruption right after the
            # first rename must not leave the site only under its temporary name
            if old.exists() and not self.output.exists():
                os.rename(old, self.output)
            raise
        return old

    def abort(self) -> None:
        remove_site(self.root)


# ----- one atomic exchange ---------------------------------------------------------------

AT_FDCWD = -100
RENAME_EXCHANGE = 2  # linux/fs.h


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux's renameat2 with RENAME_EXCHANGE), so the output
    never stands absent, even for an instant a kill could land in. False where the system
    or the file system has no such call: the caller renames twice instead."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    import ctypes

    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


@cache
def _renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a C library older than glibc 2.28
        return None
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    return renameat2
