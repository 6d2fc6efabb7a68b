"""A worker's family of processes: found through /proc and ended, however it forks."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from support import alive, wait_for

from builder.execution import procs

linux = pytest.mark.skipif(not procs.LINUX, reason="/proc and child subreapers are Linux's")


@linux
def test_every_descendant_ends_even_while_forking(tmp_path, strays):
    pids = tmp_path / "pids"
    strays.append(pids)
    # a child in a session of its own and a grandchild, which keeps forking while we sweep
    script = f"setsid sh -c 'while true; do sleep 313 & sleep 0.01; done' & echo $! > {pids}; sleep 313"
    root = subprocess.Popen(["sh", "-c", script])
    try:
        wait_for(lambda: pids.exists() and pids.read_text().strip(), "the tree to grow")
        wait_for(lambda: len(procs.descendants(root.pid)) > 5, "the grandchildren to start")
        below = procs.descendants(root.pid)
        assert int(pids.read_text()) in below
        assert procs.end_descendants(root.pid) >= len(below)
        wait_for(lambda: not any(alive(pid) for pid in below), "every descendant to end", timeout=5)
        assert not any(alive(pid) for pid in procs.descendants(root.pid))  # none forked past the sweep
    finally:
        root.kill()
        root.wait()


def test_a_dead_worker_in_one_line():
    assert procs.exit_summary(-signal.SIGSEGV) == "crashed: Segmentation fault (SIGSEGV)"
    assert procs.exit_summary(7) == "the worker process exited (exit code 7)"
    assert procs.exit_summary(None) == "the worker process exited (exit code unknown)"
    assert procs.exit_reason(-signal.SIGKILL) == "killed by SIGKILL"


def test_the_guard_exits_as_its_kernel_did(tmp_path):
    code = (
        "import os, signal, sys\n"
        "from builder.execution import procs\n"
        "kernel = os.fork()\n"
        "if kernel == 0:\n"
        "    os.kill(os.getpid(), signal.SIGSEGV) if sys.argv[1] == 'crash' else os._exit(int(sys.argv[1]))\n"
        "procs.guard(kernel, os.getppid())\n"
    )
    for arg, expected in (("crash", -signal.SIGSEGV), ("5", 5)):
        done = subprocess.run([sys.executable, "-c", code, arg], timeout=20, capture_output=True, text=True)
        assert done.returncode == expected, done.stderr
        assert done.stderr == ""  # the guard reports nothing of its own
