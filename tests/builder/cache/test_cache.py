"""The cell cache: what runs again after which edit, and what never breaks it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # whole builds through the command line

ROOT = Path(__file__).resolve().parents[3]


def cells_text(log: Path, bodies: list[str], prose: str = "Prose.") -> str:
    """An essay whose cells each append their number to `log` when they run."""
    parts = [f"# Cached\n\n{prose}\n"]
    for i, body in enumerate(bodies):
        parts.append(f"<script>\nopen({str(log)!r}, 'a').write('{i} ')\n{body}\n</script>\n")
    return "\n".join(parts)


@pytest.fixture
def essay(project):
    log = project.root / "runs.log"
    bodies = [
        "import numpy as np\nbig = np.arange(100_000, dtype=np.float64)",
        "def f():\n    return W * 2",
        "W = 10",
        "value = f() + big[-1]",
    ]

    class Essay:
        def write(self, bodies=bodies, prose="Prose."):
            project.write("01-cached.md", cells_text(log, bodies, prose), dedent=False)

        def build(self, **kwargs):
            log.write_text("")
            report = project.root / "report.json"
            project.build(report=report, **kwargs)
            data = json.loads(report.read_text())["essays"][0]
            return log.read_text().split(), data

    e = Essay()
    e.bodies = bodies
    e.write()
    return e


def test_rebuild_with_nothing_changed_runs_no_cell(essay, project):
    ran, report = essay.build()
    assert ran == ["0", "1", "2", "3"] and not any(c["cached"] for c in report["cells"])
    first_page = project.page("01-cached.html")
    ran, report = essay.build()
    assert ran == [] and all(c["cached"] for c in report["cells"])
    assert project.page("01-cached.html") == first_page


def test_prose_edit_runs_no_cell(essay, project):
    essay.build()
    essay.write(prose="Different prose, same cells.")
    ran, _ = essay.build()
    assert ran == [] and "Different prose" in project.page("01-cached.html")


def test_edit_of_cell_k_runs_k_onward_from_the_snapshot(essay, project):
    essay.build()
    bodies = list(essay.bodies)
    bodies[2] = "W = 20"
    essay.write(bodies)
    ran, report = essay.build()
    assert ran == ["2", "3"]
    assert [c["cached"] for c in report["cells"]] == [True, True, False, False]
    assert "value:</span><pre>100039.0</pre>" in project.page("01-cached.html")


def test_restored_functions_see_later_assignments(essay, project):
    essay.build()
    bodies = [*essay.bodies, "W = 7\nagain = f()"]
    essay.write(bodies)
    ran, _ = essay.build()
    assert ran == ["4"]
    assert "again:</span><pre>14</pre>" in project.page("01-cached.html")


def test_asset_edit_runs_everything(essay, project):
    project.write("data/x.txt", "one")
    essay.build()
    project.write("data/x.txt", "two")
    ran, _ = essay.build()
    assert ran == ["0", "1", "2", "3"]


def test_a_top_level_file_is_in_the_key_though_not_published(essay, project):
    """A module no cell imports, or a data file, at the top of the essays folder is not
    published, but a cell can read it: editing it must run the cells again."""
    project.write("helpers.py", "FACTOR = 1\n")
    essay.build()
    assert not (project.site / "helpers.py").exists()
    project.write("helpers.py", "FACTOR = 2\n")
    ran, _ = essay.build()
    assert ran == ["0", "1", "2", "3"]


def test_corrupt_or_truncated_entries_are_ignored(essay, project):
    essay.build()
    entries = sorted((project.root / ".essays-cache" / "cells").rglob("*.pickle"))
    snapshots = sorted((project.root / ".essays-cache" / "snapshots").rglob("*.pickle"))
    assert len(entries) == 4 and len(snapshots) == 4
    for path in entries:
        path.write_bytes(path.read_bytes()[:10])  # truncated
    for path in snapshots:
        path.write_bytes(b"not a pickle at all")
    ran, report = essay.build()
    assert ran == ["0", "1", "2", "3"] and all(c["status"] == "ok" for c in report["cells"])


def test_a_value_that_does_not_pickle_is_left_out_of_the_snapshot(essay, project):
    bodies = ["lock = __import__('threading').Lock()", "x = 1", "y = x + 1"]
    essay.write(bodies)
    _, report = essay.build()
    assert "'lock' (lock: cannot pickle" in report["cells"][0]["note"]
    essay.write([*bodies[:2], "y = x + 2"])
    ran, _ = essay.build()
    assert ran == ["2"]  # the cells still to run never read `lock`
    assert "y:</span><pre>3</pre>" in project.page("01-cached.html")


def test_a_later_cell_that_reads_a_lost_name_runs_from_the_start(essay, project):
    bodies = ["lock = __import__('threading').Lock()", "x = 1", "y = x + 1"]
    essay.write(bodies)
    essay.build()
    essay.write([*bodies[:2], "y = x + 2\nheld = lock.locked()"])
    ran, report = essay.build()
    assert ran == ["0", "1", "2"]
    assert "no usable snapshot" in report["cells"][0]["note"]
    assert "held:</span><pre>False</pre>" in project.page("01-cached.html")


def test_no_cache_runs_everything_and_writes_nothing(essay, project):
    ran, report = essay.build(use_cache=False)
    assert ran == ["0", "1", "2", "3"]
    assert not (project.root / ".essays-cache").exists()
    assert not any(c["cached"] for c in report["cells"])


def test_concurrent_builds_do_not_corrupt_the_cache(essay, project):
    cmd = [sys.executable, "-m", "builder", "build", "essays", "-o"]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [*cmd, f"site{i}"], cwd=project.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for i in range(2)
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    ran, report = essay.build()
    assert ran == [] and all(c["cached"] for c in report["cells"])
    assert (project.site / "01-cached.html").read_text() == (project.root / "site0" / "01-cached.html").read_text()


def test_a_timeout_after_resuming_rebuilds_the_state_of_cells_not_run_this_time(essay, project):
    bodies = ["base = 40", "lock = __import__('threading').Lock()", "x = 1"]
    essay.write(bodies)
    essay.build()
    # The last new cell reads `lock`, which the snapshots after cells 2 and 3 lack, so the
    # build resumes from the one after cell 1. When cell 4 times out, no snapshot serves
    # either, and the rebuild must replay cell 1 too, though this build never ran it.
    essay.write([*bodies, "import time\nwhile True: time.sleep(0.05)", "total = base + x + lock.locked()"])
    _ran, report = essay.build(cell_timeout=1.0)
    assert report["cells"][3]["status"] == "timeout"
    assert "total:</span><pre>41</pre>" in project.page("01-cached.html")


def cache_files(project, folder):
    return sorted(p.name for p in (project.root / ".essays-cache" / folder).rglob("*") if p.is_file())


def test_pruning_drops_unused_entries_and_their_blobs_but_never_live_ones(essay, project):
    bodies = ["import numpy as np\nbig = np.full(100_000, 1.0)", "x = 1"]
    essay.write(bodies)
    essay.build()
    old_blobs = cache_files(project, "blobs")
    assert len(old_blobs) == 1  # one array, shared by both snapshots
    essay.write(["import numpy as np\nbig = np.full(100_000, 2.0)", "x = 1"])
    essay.build()  # the default limit keeps the old entries: undoing the edit is free
    assert set(old_blobs) < set(cache_files(project, "blobs"))
    essay.build(cache_limit=0)  # nothing beyond what the essay uses now
    assert len(cache_files(project, "cells")) == 2 and len(cache_files(project, "snapshots")) == 2
    assert not set(old_blobs) & set(cache_files(project, "blobs"))
    ran, _ = essay.build(cache_limit=0)
    assert ran == []  # the live entries all survived
    essay.write(["import numpy as np\nbig = np.full(100_000, 2.0)", "x = 2"])
    ran, _ = essay.build(cache_limit=0)
    assert ran == ["1"]  # and the live snapshot, with its blob, still serves
