"""A cell's output captured at the file-descriptor level, inside the build's worker.

`print` is not the only way a cell writes: `os.system`, `subprocess.run`, C extensions and
`os.write(1, ...)` write to file descriptors 1 and 2 directly. While a cell runs, both
point at a file of its own, and Python's `sys.stdout`/`sys.stderr` write there too, line by
line, so everything appears in the order it was written and under the same caps as
`print`. A child process that outlives its cell keeps writing to that cell's file, which is
discarded: it never lands in the next cell, nor in the builder's terminal.

Python-level writes from threads started by earlier cells are dropped, for the same
reason. Standard library only: this runs in the worker.
"""

from __future__ import annotations

import io
import itertools
import os
import sys
import threading
from pathlib import Path

from runtime.display import MAX_BYTES, limit_output

_READ = MAX_BYTES + 64  # bytes of a cell's output read back; the rest is only counted


class CaptureError(OSError):
    """The cell's output could not be written whole (a full temporary folder): the cell's
    error, never a shorter output published, or cached, as if it were all."""


def _write_all(fd: int, data: bytes) -> OSError | None:
    """Write `data` to `fd`; returns what went wrong, if anything did."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except OSError as exc:
            # a full disk, or the cell closed or replaced the descriptor: the kernel lives on,
            # and the capture says the output is not whole
            return exc
    return None


class _Bytes(io.RawIOBase):
    """sys.stdout.buffer for code that writes bytes."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]  # narrower: what a cell writes
        if self.router.accepts():
            self.router.flush()
            self.router.failed(_write_all(1, bytes(data)))
        return len(data)


class Router(io.TextIOBase):
    """sys.stdout and sys.stderr of the worker. Line-buffered into descriptor 1, for the
    threads of the cell that is running; everything else is dropped."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self) -> None:
        self.open = False  # a cell is running
        self.dropped: set[int] = set()  # threads started before this cell
        self.error: OSError | None = None  # why some of this cell's output was not written
        self._pending: list[str] = []
        self._lock = threading.Lock()
        self.buffer = _Bytes(self)

    def accepts(self) -> bool:
        return self.open and threading.get_ident() not in self.dropped

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 1

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self.accepts():
            with self._lock:
                self._pending.append(text)
            if "\n" in text:
                self.flush()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if not self._pending:
                return
            data = "".join(self._pending).encode("utf-8", "replace")
            self._pending.clear()
        self.failed(_write_all(1, data))

    def failed(self, error: OSError | None) -> None:
        if error is not None and self.error is None:
            self.error = error

    def close(self) -> None:
        """A cell that closes sys.stdout must not take the kernel's capture with it."""


class FdCapture:
    """The kernel's capture for one cell (see runtime.kernel.Capture), at the descriptor
    level. Files go into `folder`, named by a counter, so that the builder can read what a
    cell printed before its worker died (a segfault's message, say)."""

    _numbers = itertools.count(1)

    def __init__(self, folder: Path, router: Router) -> None:
        self.folder = folder
        self.router = router

    def __enter__(self) -> FdCapture:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        self.path = self.folder / f"cell-{next(self._numbers)}.out"
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        self._saved_fds = os.dup(1), os.dup(2)
        os.dup2(self.fd, 1)
        os.dup2(self.fd, 2)
        me = threading.get_ident()
        self.router.dropped = {t.ident for t in threading.enumerate() if t.ident not in (None, me)}
        self.router.error = None
        self.router.open = True
        self._streams = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = self.router
        return self

    def reset(self) -> None:
        """Forget what was written so far: only the last iteration's output is shown."""
        self.router.flush()
        os.ftruncate(self.fd, 0)

    def text(self) -> str:
        """What the cell wrote; raises CaptureError when some of it could not be written."""
        self.router.flush()
        if (error := self.router.error) is not None:
            raise CaptureError(
                error.errno,
                f"this cell's output could not be written whole to {self.folder} "
                f"({error.strerror or error}), so it is not shown cut short",
            )
        size = os.fstat(self.fd).st_size
        data = os.pread(self.fd, min(size, _READ), 0)
        text = data.decode("utf-8", "replace").rstrip("\n")
        return limit_output(text, more_bytes=size - len(data))

    def __exit__(self, *exc_info: object) -> None:
        self.router.flush()
        self.router.open = False
        sys.stdout, sys.stderr = self._streams
        for target, saved in zip((1, 2), self._saved_fds, strict=True):
            os.dup2(saved, target)
            os.close(saved)
        os.close(self.fd)
        self.path.unlink(missing_ok=True)
