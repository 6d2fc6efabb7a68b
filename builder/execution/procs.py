"""A worker's family of processes, and ending all of it.

A cell can start processes that leave the worker's process group (`start_new_session=True`,
a double fork and `setsid`), so ending the group is not enough. And a cell can hold the GIL
for minutes (a regex that backtracks), so no thread of the worker can be relied on to act.

So the worker is two processes (see worker.py). Its first, the *guard*, runs no cell: it
forks the *kernel*, which runs them, and becomes a child subreaper (Linux), so every
process below it that loses its parent is re-parented to it and stays in its tree. When
the kernel exits (its essay done, a crash, a kill), or the builder is gone (even after
`kill -9`), the guard freezes and kills every process below it, then exits as the kernel
did. The kernel dies with the guard (PR_SET_PDEATHSIG), and the builder, to stop a worker,
does the same sweep from the guard down.

Elsewhere than Linux there is no subreaper and no /proc: the process group is what ends.
Standard library only: the worker imports this.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import NoReturn

LINUX = sys.platform.startswith("linux")
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PR_SET_CHILD_SUBREAPER = 36
GUARD_POLL = 0.2  # seconds between the guard's checks that its builder is still there
FREEZE_ROUNDS = 20  # freeze-and-kill rounds before giving up on a tree that keeps coming back
STOP_WAIT = 0.2  # seconds to wait for the processes sent SIGSTOP to stop (one in a system call may not at once)


def _prctl(option: int, value: int) -> bool:
    if not LINUX:
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(option, value, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Orphans below this process are re-parented to it, not to init (Linux)."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent(parent: int) -> bool:
    """Have the kernel SIGKILL this process when its parent dies: a signal needs no GIL, so
    it ends a process whose cell holds it. False when the parent is gone already (it died
    before the request took effect): the caller exits then."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    return os.getppid() == parent


def _processes() -> dict[int, tuple[int, str]]:
    """Every process's parent and state letter ("R", "S", "T" stopped, "Z" zombie, ...),
    from /proc."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # it ended while we looked
            continue
        # "pid (command) state ppid ...": the command may hold spaces and parentheses
        fields = stat[stat.rindex(b")") + 2 :].split()
        found[int(name)] = (int(fields[1]), fields[0].decode())
    return found


def descendants(root: int, states: dict[int, str] | None = None) -> list[int]:
    """Every process below `root` (none known without /proc); `states` gets their states."""
    if not os.path.isdir("/proc/self"):
        return []
    children: dict[int, list[int]] = {}
    processes = _processes()
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    if states is not None:
        states.update((pid, processes[pid][1]) for pid in found)
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


_GONE = ("Z", "X", "x")  # zombie or dead: can do nothing more
_STOPPED = ("T", "t", *_GONE)


def _tree(root: int) -> dict[int, str]:
    """Every process below `root`, with its state."""
    states: dict[int, str] = {}
    descendants(root, states)
    return states


def _wait_stopped(pids: set[int]) -> None:
    """Wait, briefly, until each of `pids` is stopped or gone. A process sent SIGSTOP in
    the middle of a fork stops only once the fork is done: its child shows then."""
    deadline = time.monotonic() + STOP_WAIT
    while time.monotonic() < deadline:
        states: dict[int, str] = {}
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            states[pid] = stat[stat.rindex(b")") + 2 :].split()[0].decode()
        if all(state in _STOPPED for state in states.values()):
            return
        time.sleep(0.001)


def _freeze(root: int) -> dict[int, str]:
    """Stop every process below `root`; returns them once two sweeps of /proc in a row
    find the same processes, all stopped. One sweep is not enough: /proc is listed first
    and read after, so a process that forks and exits in between shows as a zombie whose
    child is not listed yet."""
    previous: dict[int, str] | None = None
    tree: dict[int, str] = {}
    for _ in range(FREEZE_ROUNDS):
        tree = _tree(root)
        living = {pid for pid, state in tree.items() if state not in _GONE}
        if previous is not None and tree.keys() == previous.keys() and all(tree[p] in _STOPPED for p in living):
            break
        for pid in living:
            _signal(pid, signal.SIGSTOP)
        _wait_stopped(living)
        previous = tree
    return tree


def end_descendants(root: int) -> int:
    """SIGKILL every process below `root`, frozen first so that none can fork past the
    sweep; returns how many there were. Repeated until none is left, as a SIGKILL can
    wake another (an orphaned process group gets SIGCONT). With `root` a subreaper, what
    loses its parent meanwhile is still below it."""
    ended: set[int] = set()
    for _ in range(FREEZE_ROUNDS):
        living = {pid for pid, state in _freeze(root).items() if state not in _GONE}
        if not living:
            break
        for pid in living:
            _signal(pid, signal.SIGKILL)
        ended |= living
    return len(ended)


def end_tree(root: int) -> None:
    """End `root` (a worker's guard), everything below it and its process group. The
    builder's way to stop a worker, whatever its cell is doing."""
    end_descendants(root)  # while `root` lives, its tree is whole
    _signal(root, signal.SIGKILL)
    try:
        os.killpg(root, signal.SIGKILL)  # the group, everywhere; all there is without /proc
    except (ProcessLookupError, PermissionError):
        pass


# ----- how a worker ended ---------------------------------------------------------------


def exit_summary(code: int | None) -> str:
    """A dead worker in one line, for the terminal: "crashed: Segmentation fault (SIGSEGV)"."""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"crashed: {signal.strsignal(-code) or name} ({name})"
    return f"the worker process exited ({exit_reason(code)})"


def exit_reason(code: int | None) -> str:
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


# ----- the guard --------------------------------------------------------------------------


def guard(kernel: int, builder: int, orphaned: Callable[[], None] | None = None) -> NoReturn:
    """The worker's first process once it has forked `kernel`: reap what is re-parented
    here, and when the kernel exits, the builder is gone, or a SIGTERM or SIGHUP asks, end
    every process below and exit as the kernel did. `orphaned`: what to do once every
    process below has ended, when the builder is gone (remove the folders it left)."""
    wake, woken = os.pipe()  # signals wake the wait below (a signal's number is written)
    os.set_blocking(woken, False)
    signal.set_wakeup_fd(woken)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)
    status: int | None = None
    while True:
        status = _reap(kernel)
        if status is not None or os.getppid() != builder:
            break
        if select.select([wake], [], [], GUARD_POLL)[0]:
            got = os.read(wake, 64)
            if signal.SIGTERM in got or signal.SIGHUP in got:
                status = int(signal.SIGTERM)  # as a wait status: killed by SIGTERM
                break
    end_descendants(os.getpid())
    if os.getppid() != builder:
        if orphaned is not None:
            try:
                orphaned()
            except Exception:
                pass  # the next build sweeps what is left
        # nobody reads our status: end the group too (all there is without a subreaper)
        os.killpg(0, signal.SIGKILL)
    _exit_as(status if status is not None else int(signal.SIGKILL))


def _reap(kernel: int) -> int | None:
    """Reap every child that ended; the kernel's wait status once it is among them."""
    status = None
    while True:
        try:
            pid, code = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return status
        if pid == 0:
            return status
        if pid == kernel:
            status = code


def _exit_as(status: int) -> NoReturn:
    """Exit as a process with this wait status did: a crash's signal, or its exit code."""
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        os._exit(code)
    import faulthandler
    import resource

    faulthandler.disable()  # the kernel's crash was reported; the guard's own is not one
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # and leaves no core file
    signal.set_wakeup_fd(-1)
    if -code not in (signal.SIGKILL, signal.SIGSTOP):  # those two have no handler to reset
        signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
    os._exit(128 - code)
