"""What a build killed with `kill -9` leaves behind, and how the next one tells it apart from
what a build still running is using.

Beside the output, the writer's folders carry the builder's PID (`paths.clean_leftovers`).
In the system's temporary folder, the workers' folders (`essays-worker-PID-…`, their cells'
output files) and the essays' modules (`essays-modules-PID-…`) carry it too, and each
holds a lock file that its builder keeps locked (flock) for as long as it lives. The kernel
drops that lock when the builder dies, however it dies, and a lock is not fooled by a PID
that another process has taken since; so a folder whose lock can be taken was abandoned.

This module is imported by the worker process too: the standard library only.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

WORKER_PREFIX = "essays-worker-"
MODULES_PREFIX = "essays-modules-"
STATE_PREFIX = "essays-state-"  # a build's portable state when it has no cache to keep it in
LOCK_NAME = ".essays-owner.lock"
_HELD: dict[Path, int] = {}  # folder -> the descriptor whose lock says its builder is alive


def alive(pid: int) -> bool:
    """Whether process `pid` exists; a zombie (killed, not yet reaped) is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: assume the worst, which is to keep its folders
    return state != "Z"


def owner(name: str, prefix: str) -> int | None:
    """The PID in a leftover's name, `PREFIX` + `PID-…`; None when it has none."""
    if not name.startswith(prefix):
        return None
    pid, dash, _ = name[len(prefix) :].partition("-")
    return int(pid) if pid.isdigit() and dash else None


def make_scratch(prefix: str) -> Path:
    """A private folder in the temporary folder, named for this process and locked by it
    until `release_scratch`."""
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))
    fd = os.open(folder / LOCK_NAME, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _HELD[folder] = fd
    return folder


def release_scratch(folder: Path) -> None:
    """Remove a folder of `make_scratch`'s; the lock goes last, so a sweep never takes a
    folder that is still being removed for one left behind."""
    shutil.rmtree(folder, ignore_errors=True)
    fd = _HELD.pop(folder, None)
    if fd is not None:
        os.close(fd)


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    folder = make_scratch(prefix)
    try:
        yield folder
    finally:
        release_scratch(folder)


def remove_if_abandoned(folder: Path, prefix: str) -> bool:
    """Remove `folder` if it is a scratch folder whose builder is gone: its lock can be
    taken, or (made before it had one, or between its making and its locking) its PID is
    no longer alive. Never a link, another user's folder, or one named otherwise."""
    pid = owner(folder.name, prefix)
    if pid is None or folder in _HELD:
        return False
    try:
        info = folder.lstat()
    except OSError:
        return False
    if not os.path.isdir(folder) or folder.is_symlink() or info.st_uid != os.getuid():
        return False
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        if alive(pid) or pid == os.getpid():
            return False  # perhaps being made right now
        shutil.rmtree(folder, ignore_errors=True)
        return True
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # its builder holds the lock: in use
    else:
        shutil.rmtree(folder, ignore_errors=True)
        return True
    finally:
        os.close(fd)


def sweep_scratch(tmp: Path | None = None) -> list[Path]:
    """Remove the workers' and modules' folders that killed builds left in the temporary
    folder. Returns what was removed."""
    tmp = tmp or Path(tempfile.gettempdir())
    removed = []
    for prefix in (WORKER_PREFIX, MODULES_PREFIX, STATE_PREFIX):
        for folder in sorted(tmp.glob(f"{prefix}*")):
            if remove_if_abandoned(folder, prefix):
                removed.append(folder)
    return removed
