"""Builds cut short, reproduced (issue 16): a `kill -9` between the swap's two renames, a
folder made at the output while the cells run, the temporary folders a killed builder
leaves, and Ctrl+C at any moment of `essays build`.

Faults are injected in Python: a prelude run in the builder's own process before the CLI
(`builder_with`) patches `os.rename` or a helper to stop at the moment under test and say
so in a file, and the test then kills or signals the builder there.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pty
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import WAIT, alive, child_env, essays, wait_for

from builder.leftovers import LOCK_NAME, MODULES_PREFIX, WORKER_PREFIX
from builder.paths import SITE_MARKER
from builder.pipeline import writer

pytestmark = pytest.mark.slow
CELL = "<script>\nx = {value}\n</script>\n"
INTERRUPTED = "essays: interrupted; the previous site was kept"


def tree(folder: Path) -> dict[str, str] | None:
    """Every file below `folder` and a digest of its bytes; None when there is no folder."""
    if not folder.is_dir():
        return None
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def files(site: dict[str, str]) -> list[str]:
    """The site's file names, those named by their content (the page's state) by kind only."""
    return sorted(re.sub(r"^_static/state/[0-9a-f]+", "_static/state/<digest>", name) for name in site)


def leftovers(root: Path) -> list[str]:
    return sorted(path.name for path in root.iterdir() if path.name.startswith((".site-", ".newout-")))


def builder_with(project, prelude: str, *args: str, **popen) -> subprocess.Popen:
    """`essays build ARGS` in a process of its own, after running `prelude` there."""
    code = f"import sys\n{prelude}\nfrom builder.cli import main\nsys.exit(main(sys.argv[1:]))"
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        [sys.executable, "-c", code, "build", *args], cwd=project.root, env=child_env(), text=True, **popen
    )


def stop_at(condition: str, window: Path, extra: str = "") -> str:
    """A prelude: the first `os.rename(src, dst)` for which `condition` holds writes
    `window` and then waits to be killed."""
    return f"""
import os, pathlib, time
{extra}
_rename = os.rename
def rename(src, dst, *args, **kwargs):
    src, dst = os.fspath(src), os.fspath(dst)
    if {condition}:
        pathlib.Path({str(window)!r}).write_text("in the window")
        time.sleep(300)
    return _rename(src, dst, *args, **kwargs)
os.rename = rename
"""


# ----- 1. a kill between the swap's two renames -------------------------------------------


def test_a_build_killed_between_the_two_renames_loses_no_site(project):
    project.write("01-a.md", CELL.format(value=1))
    assert essays("build", cwd=project.root).returncode == 0
    before = tree(project.site)
    project.write("01-a.md", CELL.format(value=2))
    window = project.root / "window"
    # where the system swaps in one step there is no window at all: take the two renames
    prelude = stop_at(
        f"'-building-' in src and dst == {str(project.site)!r}",
        window,
        extra="from builder.pipeline import writer\nwriter.exchange = lambda a, b: False",
    )
    killed = builder_with(project, prelude, "--no-cache")
    try:
        wait_for(window.exists, "the swap's second rename")
        killed.kill()
        killed.wait(WAIT)
    finally:
        killed.kill()
    assert not project.site.exists() and any(name.startswith(".site-old-") for name in leftovers(project.root))
    # the next build fails (a broken template): the previous site must be there all the same
    project.write("templates/essay.html", "{% if %}\n")
    out = essays("build", cwd=project.root)
    assert out.returncode == 1 and "the previous site was kept" in out.stderr, out.stderr
    assert tree(project.site) == before
    assert leftovers(project.root) == []
    # and a good build after it says where the site came back from only once
    (project.essays / "templates" / "essay.html").unlink()
    again = essays("build", cwd=project.root)
    assert again.returncode == 0 and "put back" not in again.stderr
    assert "x:</span><pre>2</pre>" in project.page("01-a.html")


def test_a_restored_site_is_said_and_rebuilt(project):
    project.write("01-a.md", CELL.format(value=1))
    assert essays("build", cwd=project.root).returncode == 0
    dead = subprocess.Popen(["true"])
    dead.wait()
    old = project.root / f".site-old-{dead.pid}-abcd"
    project.site.rename(old)
    out = essays("build", cwd=project.root)
    assert out.returncode == 0 and f"put back from .site-old-{dead.pid}-abcd" in out.stderr, out.stderr
    assert leftovers(project.root) == [] and (project.site / SITE_MARKER).is_file()


def test_the_swap_never_leaves_the_output_absent_where_the_system_can_exchange(project, monkeypatch):
    a, b = project.root / "a", project.root / "b"
    a.mkdir()
    b.mkdir()
    if not writer.exchange(a, b):
        pytest.skip("no renameat2(RENAME_EXCHANGE) here: the swap takes two renames")
    project.write("01-a.md", CELL.format(value=1))
    assert essays("build", cwd=project.root).returncode == 0
    renamed: list[str] = []
    real = os.rename

    def rename(src, dst) -> None:
        renamed.append(str(src))
        real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    site = writer.SiteWriter(project.site)
    site.write_text("index.html", "new")
    site.commit()
    assert (project.site / "index.html").read_text() == "new"
    assert str(project.site) not in renamed, renamed  # the site was never moved away
    assert leftovers(project.root) == []


# ----- 2. the output is checked again right before the swap -------------------------------

WAITING = """\
<script>
import pathlib, time
pathlib.Path({started!r}).write_text("started")
while not pathlib.Path({go!r}).exists():
    time.sleep(0.05)
x = 1
</script>
"""


@pytest.mark.parametrize("made", ["folder", "file"])
def test_what_appears_at_the_output_during_the_build_is_not_replaced(project, made):
    started, go = project.root / "started", project.root / "go"
    project.write("01-a.md", WAITING.format(started=str(started), go=str(go)))
    newout = project.root / "newout"
    builder = subprocess.Popen(
        [sys.executable, "-m", "builder", "build", "-o", "newout"],
        cwd=project.root,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(started.exists, "the cell to start")  # -o newout was absent, so allowed
        if made == "folder":
            newout.mkdir()
            (newout / "thesis.txt").write_text("precious")
        else:
            newout.write_text("precious")
        go.write_text("")
        _, err = builder.communicate(timeout=WAIT * 3)
    finally:
        builder.kill()
    assert builder.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and "newout" in err and "during the build" in err, err
    assert "Traceback" not in err
    precious = newout / "thesis.txt" if made == "folder" else newout
    assert precious.read_text() == "precious"
    if made == "folder":
        assert [p.name for p in newout.iterdir()] == ["thesis.txt"]
    assert leftovers(project.root) == []  # the new site was discarded, not left about


# ----- 3. the workers' and modules' temporary folders of a killed builder ----------------------


def scratch_folders(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith((WORKER_PREFIX, MODULES_PREFIX)))


def test_a_killed_builder_leaves_no_temporary_folders(project):
    tmp = project.root / "tmp"
    tmp.mkdir()
    pids = project.root / "pids"
    project.write(
        "01-a.md",
        f"<script>\nimport os, pathlib\nprint('some output')\npathlib.Path({str(pids)!r}).write_text(str(os.getpid()))\n"
        "while True:\n    pass\n</script>\n",
    )
    builder = subprocess.Popen(
        [sys.executable, "-m", "builder", "build"],
        cwd=project.root,
        env=child_env(TMPDIR=str(tmp)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: pids.exists() and pids.read_text(), "the cell to start")
        assert any(name.startswith(WORKER_PREFIX) for name in scratch_folders(tmp))
        assert any(name.startswith(MODULES_PREFIX) for name in scratch_folders(tmp))
        builder.kill()
        builder.wait(WAIT)
        wait_for(lambda: not alive(int(pids.read_text())), "the worker to die with its builder")
    finally:
        builder.kill()
    # the worker's guard saw its builder go and removes what no one else would, once the
    # processes below it have ended (a moment after the kernel: it is polled, not assumed)
    wait_for(lambda: scratch_folders(tmp) == [], f"the guard to remove {scratch_folders(tmp)}")
    assert scratch_folders(tmp) == []


def hold_lock(folder: Path) -> subprocess.Popen:
    """A process that holds `folder`'s lock, as a live builder does, until killed."""
    code = "import fcntl, os, sys, time\nfd = os.open(sys.argv[1], os.O_RDONLY)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
    code += "print('locked', flush=True)\ntime.sleep(120)\n"
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder / LOCK_NAME)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    return holder


def test_the_next_build_sweeps_what_killed_builders_left(project):
    tmp = project.root / "tmp"
    tmp.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    gone = [tmp / f"{WORKER_PREFIX}{dead.pid}-abcd1234", tmp / f"{MODULES_PREFIX}{dead.pid}-abcd1234"]
    for folder in gone:
        folder.mkdir()
        (folder / LOCK_NAME).write_text("")
    (gone[0] / "cell-1.out").write_text("a cell's output")
    unlocked = tmp / f"{WORKER_PREFIX}{dead.pid}-nolock"  # made before the lock file was
    unlocked.mkdir()
    # kept: one whose lock is held (whatever its PID says), one without a PID, and a link
    held = tmp / f"{WORKER_PREFIX}{dead.pid}-held"
    held.mkdir()
    (held / LOCK_NAME).write_text("")
    no_pid = tmp / f"{WORKER_PREFIX}notes"
    no_pid.mkdir()
    (no_pid / "keep.txt").write_text("keep")
    target = project.root / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    (tmp / f"{MODULES_PREFIX}{dead.pid}-link").symlink_to(target)
    holder = hold_lock(held)
    try:
        project.write("01-a.md", CELL.format(value=1))
        out = essays("build", cwd=project.root, env=child_env(TMPDIR=str(tmp)))
        assert out.returncode == 0, out.stderr
    finally:
        holder.kill()
        holder.wait()
    assert not any(folder.exists() for folder in [*gone, unlocked])
    assert held.is_dir() and (no_pid / "keep.txt").exists() and (target / "keep.txt").exists()
    assert scratch_folders(tmp) == sorted([held.name, no_pid.name, f"{MODULES_PREFIX}{dead.pid}-link"])


# ----- 14. Ctrl+C at any moment --------------------------------------------------------------


def page_value(site: Path) -> str | None:
    page = site / "02-b.html"
    if not page.is_file():
        return None
    text = page.read_text()
    return text.split("y:</span><pre>", 1)[1].split("<", 1)[0] if "y:</span><pre>" in text else None


class Interrupted:
    """`essays build` with its stdout on a terminal (the live display on), and a SIGINT at
    a given moment. Its outcome: exit status, stderr, the site as it is after."""

    def __init__(self, project, delay: float) -> None:
        master, terminal = pty.openpty()
        self.builder = subprocess.Popen(
            [sys.executable, "-m", "builder", "build", "--no-cache"],
            cwd=project.root,
            env=child_env(),
            stdout=terminal,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(terminal)
        threading.Thread(target=_drain, args=(master,), daemon=True).start()
        time.sleep(delay)
        self.builder.send_signal(signal.SIGINT)
        _, self.err = self.builder.communicate(timeout=WAIT * 3)
        self.code = self.builder.returncode

    def before_our_code(self) -> bool:
        """The SIGINT came while Python itself was starting, before `essays` could take
        Ctrl+C over (`interrupt.install`, the first thing it does): no handler yet (killed,
        silent), or Python's own, in the site module or the first import of ours."""
        if self.code == -signal.SIGINT and not self.err:
            return True
        ours = set(re.findall(r'File "[^"]*/builder/(\w+)\.py"', self.err))
        return "Traceback" in self.err and ours <= {"__main__", "interrupt"}


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def test_ctrl_c_at_any_moment_says_one_line_and_keeps_a_whole_site(project):
    project.write("01-a.md", "<script>\nimport time\ntime.sleep(0.2)\nx = 1\n</script>\n")
    project.write("02-b.md", "<script>\ny = 0\n</script>\n")
    started = time.monotonic()
    assert essays("build", "--no-cache", cwd=project.root).returncode == 0
    span = (time.monotonic() - started) * 1.2  # the moments a build lasts, and a little after
    rng = random.Random(16)
    outcomes = {"kept": 0, "finished": 0, "python": 0}
    for run in range(20):
        before = tree(project.site)
        project.write("02-b.md", f"<script>\ny = {run + 1}\n</script>\n")
        outcome = Interrupted(project, rng.uniform(0, span))
        where = f"run {run}: exit {outcome.code}\n{outcome.err}"
        after = tree(project.site)
        assert after is not None and leftovers(project.root) == [], where
        if outcome.before_our_code():
            outcomes["python"] += 1
            assert after == before, where
        elif INTERRUPTED in outcome.err:
            outcomes["kept"] += 1
            # 130; or killed by SIGINT, as Python exits when the interruption landed in an
            # exec()'d string (a dataclass being made): a shell reads both as 130
            assert outcome.code in (130, -signal.SIGINT), where
            assert outcome.err.strip() == INTERRUPTED and after == before, where
        else:
            outcomes["finished"] += 1  # too late to stop: the new site, whole
            assert outcome.code == 0 and "Traceback" not in outcome.err, where
            # the same files, but for the state's, which are named by their content (y's value)
            assert after is not None and before is not None and files(after) == files(before), where
            assert page_value(project.site) == str(run + 1), where
    assert outcomes["kept"] >= 8, outcomes  # most moments fall inside the build


def test_ctrl_c_during_the_swap_lets_it_finish(project):
    project.write("01-a.md", CELL.format(value=1))
    assert essays("build", cwd=project.root).returncode == 0
    project.write("01-a.md", CELL.format(value=2))
    window = project.root / "window"
    # the previous site is being removed, after the swap: Ctrl+C comes too late to keep it
    prelude = f"""
import pathlib, time
from builder import interrupt
from builder.pipeline import writer
interrupt.install()
_remove = writer.remove_site
def remove_site(path):
    if "-trash-" in path.name:
        pathlib.Path({str(window)!r}).write_text("in the window")
        time.sleep(1.0)
    _remove(path)
writer.remove_site = remove_site
"""
    builder = builder_with(project, prelude)
    try:
        wait_for(window.exists, "the swap")
        builder.send_signal(signal.SIGINT)
        out, err = builder.communicate(timeout=WAIT)
    finally:
        builder.kill()
    assert builder.returncode == 0 and "built 1 essay" in out, err
    assert "interrupted as the new site was being swapped in" in err and "Traceback" not in err
    assert "x:</span><pre>2</pre>" in project.page("01-a.html") and leftovers(project.root) == []


def test_a_second_ctrl_c_does_not_cut_the_clean_up_short(project):
    essay = project.write("01-a.md", CELL.format(value=1))
    assert essays("build", cwd=project.root).returncode == 0
    before = tree(project.site)
    pids = project.root / "pids"
    essay.write_text(
        f"<script>\nimport os, pathlib\npathlib.Path({str(pids)!r}).write_text(str(os.getpid()))\n"
        "while True:\n    pass\n</script>\n"
    )
    builder = subprocess.Popen(
        [sys.executable, "-m", "builder", "build"],
        cwd=project.root,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: pids.exists() and pids.read_text(), "the cell to start")
        for _ in range(5):
            builder.send_signal(signal.SIGINT)
            time.sleep(0.01)
        _, err = builder.communicate(timeout=WAIT)
    finally:
        builder.kill()
    assert builder.returncode == 130 and err.strip() == INTERRUPTED, err
    assert tree(project.site) == before and leftovers(project.root) == []


def test_the_lock_file_is_not_a_link_anyone_could_plant(tmp_path, monkeypatch):
    """A sweep opens lock files without following links: a link named like a lock never
    makes it lock, or remove, what the link points at."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    from builder.leftovers import sweep_scratch

    dead = subprocess.Popen(["true"])
    dead.wait()
    folder = tmp_path / f"{WORKER_PREFIX}{dead.pid}-planted"
    folder.mkdir()
    (folder / LOCK_NAME).symlink_to(tmp_path / "elsewhere.lock")
    (tmp_path / "elsewhere.lock").write_text("")
    assert sweep_scratch() == [] and folder.is_dir()
    fd = os.open(tmp_path / "elsewhere.lock", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody holds it
    finally:
        os.close(fd)
