"""A rebuild that takes cells from the cache publishes what a clean build would (issue 15).

Each test builds once with the cache, changes something the cache must see through (an
edit below, prose above, a copy of the essay), rebuilds, and compares the published outputs
with a clean build (`use_cache=False`) of the same files into another folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import output_text

pytestmark = pytest.mark.slow  # whole builds

STATE = """\
# State

<script>
import random, decimal, warnings, sys, os
import numpy as np
random.seed(0); np.random.seed(0); np.set_printoptions(precision=2)
decimal.getcontext().prec = 5
warnings.simplefilter("error", RuntimeWarning)
sys.path.append("extra-modules")
os.environ["ESSAY_SETTING"] = "on"
sys.setrecursionlimit(4321)
</script>

<script>
first = random.random()
def boom():
    raise ValueError("boom")
</script>

<script>
second = random.random(); noise = np.random.rand(3).tolist(); print(np.array([1/3, 2/3]))
print(decimal.Decimal(1) / decimal.Decimal(7))
print(sys.path[-1], os.environ["ESSAY_SETTING"], sys.getrecursionlimit())
try:
    warnings.warn("as error", RuntimeWarning)
except RuntimeWarning as exc:
    print("raised:", exc)
</script>
"""


def published(project, site: Path, page: str) -> str:
    return output_text((site / page).read_text(encoding="utf-8"))


def clean(project, page: str) -> str:
    """The outputs a build from scratch publishes for the essays as they are now."""
    site = project.root / "clean-site"
    project.build(output=site, use_cache=False)
    return published(project, site, page)


def cached_cells(project) -> list[bool]:
    report = project.root / "report.json"
    project.build(report=report)
    return [c["cached"] for c in json.loads(report.read_text())["essays"][0]["cells"]]


def test_interpreter_state_comes_back_with_the_snapshot(project):
    path = project.write("01-state.md", STATE, dedent=False)
    project.build()
    first = published(project, project.site, "01-state.html")
    assert "[0.33 0.67]" in first and "0.14286" in first and "extra-modules on 4321" in first
    assert "raised: as error" in first
    path.write_text(STATE.replace("second = ", "# a comment\nsecond = "), encoding="utf-8")
    assert cached_cells(project) == [True, True, False]  # resumed from the snapshot after cell 2
    assert published(project, project.site, "01-state.html") == first == clean(project, "01-state.html")


def test_a_failed_cell_runs_again_on_the_next_build(project):
    flag = project.root / "tool-installed"
    project.write(
        "01-tool.md",
        f"""\
        # Tool

        <script>
        import pathlib
        ready = pathlib.Path({str(flag)!r}).exists()
        assert ready, "the tool is not installed yet"
        </script>

        <script>
        after = 1
        </script>
        """,
    )
    result = project.build()
    assert result.essays[0].results[0].status == "error"
    flag.write_text("now it is")
    result = project.build()
    assert [r.status for r in result.essays[0].results] == ["ok", "ok"]
    assert not result.essays[0].results[0].cached
    assert "ready: True" in published(project, project.site, "01-tool.html")


def test_an_expected_error_is_served_from_the_cache(project):
    project.write("01-err.md", "# E\n\n<script data-expect-error>\n1 / 0\n</script>\n")
    project.build()
    assert cached_cells(project) == [True]


ERRORS = """\
# Errors
{prose}
<script>
def boom():
    raise ValueError("boom")
</script>

<script data-expect-error>
import warnings
warnings.warn("careful")
boom()
</script>
"""


def test_a_cached_traceback_names_the_lines_where_the_cells_are_now(project):
    path = project.write("01-l.md", ERRORS.format(prose=""), dedent=False)
    project.build()
    path.write_text(ERRORS.format(prose="\n" + "More prose.\n\n" * 3), encoding="utf-8")
    assert cached_cells(project) == [True, True]
    text = published(project, project.site, "01-l.html")
    assert text == clean(project, "01-l.html")
    assert 'File "01-l.md", line 18' in text and "01-l.md:17: UserWarning" in text


def test_a_copied_essay_names_its_own_file_in_tracebacks(project):
    project.write("01-l.md", ERRORS.format(prose=""), dedent=False)
    project.build()
    project.write("02-copy.md", ERRORS.format(prose="\nA copy.\n"), dedent=False)
    project.build()
    text = published(project, project.site, "02-copy.html")
    assert "02-copy.md" in text and "01-l.md" not in text
    assert text == clean(project, "02-copy.html")


def test_a_function_restored_from_a_snapshot_names_its_cell_where_it_is_now(project):
    path = project.write("01-l.md", ERRORS.format(prose=""), dedent=False)
    project.build()
    edited = ERRORS.format(prose="\nSix\n\nlines\n\nof prose.\n").replace("boom()\n", "# edited\nboom()\n")
    path.write_text(edited, encoding="utf-8")
    assert cached_cells(project) == [True, False]  # boom comes from the snapshot after cell 1
    text = published(project, project.site, "01-l.html")
    assert text == clean(project, "01-l.html")
    assert 'File "01-l.md", line 11, in boom' in text and 'raise ValueError("boom")' in text


def test_output_that_cannot_be_written_whole_is_the_cells_error_and_not_cached(project):
    # fd 1 on /dev/full fails every write with ENOSPC, as a full temporary folder would
    project.write(
        "01-full.md",
        """\
        # Full

        <script>
        import os
        os.dup2(os.open("/dev/full", os.O_WRONLY), 1)
        for row in range(300):
            print("row", row)
        </script>
        """,
    )
    result = project.build()
    cell = result.essays[0].results[0]
    assert cell.status == "error"
    assert "could not be written whole" in cell.outputs[-1].text and "No space left" in cell.outputs[-1].text
    assert not any(o.kind == "stream" for o in cell.outputs)
    assert cached_cells(project) == [False]


def test_an_exported_module_imported_through_a_helper_reruns_when_it_changes(project):
    alpha = "# Alpha\n\n<script data-export>\ndef message():\n    return 'hello v2'\n</script>\n"
    project.write("01-alpha.md", alpha, dedent=False)
    project.write("helper.py", "import alpha\n\ndef via_helper():\n    return alpha.message()\n", dedent=False)
    project.write(
        "02-use.md",
        """\
        # Use

        <script>
        from helper import via_helper
        shown = via_helper()
        </script>

        <script>
        import importlib
        direct = importlib.import_module("alpha").message()
        </script>
        """,
    )
    project.build()
    project.write("01-alpha.md", alpha.replace("v2", "v3"), dedent=False)
    project.build()
    text = published(project, project.site, "02-use.html")
    assert "shown: 'hello v3'" in text and "direct: 'hello v3'" in text
    assert text == clean(project, "02-use.html")


def test_a_file_outside_the_essays_and_a_variable_are_checked_before_reuse(project, monkeypatch):
    outside = project.root / "outside.txt"
    outside.write_text("one")
    monkeypatch.setenv("ESSAY_NUMBER", "1")
    project.write(
        "01-out.md",
        f"""\
        # Outside

        <script>
        import os
        number = os.environ.get("ESSAY_NUMBER")
        </script>

        <script>
        text = open({str(outside)!r}).read()
        </script>
        """,
    )
    project.build()
    assert cached_cells(project) == [True, True]
    outside.write_text("two")
    assert cached_cells(project) == [True, False]
    assert "text: 'two'" in published(project, project.site, "01-out.html")
    monkeypatch.setenv("ESSAY_NUMBER", "2")
    assert cached_cells(project) == [False, False]
    assert published(project, project.site, "01-out.html") == clean(project, "01-out.html")
    notes = project.build().outside()
    assert len(notes) == 2 and "$ESSAY_NUMBER" in notes[0] and str(outside) in notes[1]


def test_a_new_version_of_an_imported_distribution_reruns_its_cells(project, monkeypatch):
    site = project.root / "site-packages"
    (site / "essaytoy").mkdir(parents=True)
    (site / "essaytoy" / "__init__.py").write_text("VERSION = 'toy'\n")
    info = site / "essaytoy-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: essaytoy\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("essaytoy\n")
    monkeypatch.setenv("PYTHONPATH", str(site))  # the workers' path
    monkeypatch.syspath_prepend(str(site))  # the builder's, which checks the version
    project.write("01-toy.md", "# Toy\n\n<script>\nimport essaytoy\nv = essaytoy.VERSION\n</script>\n", dedent=False)
    project.build()
    assert cached_cells(project) == [True]
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: essaytoy\nVersion: 1.1\n")
    assert cached_cells(project) == [False]


def test_outputs_made_with_the_ipython_stand_in_rerun_once_ipython_is_installed(project, monkeypatch):
    project.write(
        "01-shown.md",
        "# Shown\n\n<script>\nfrom IPython.display import Markdown\nMarkdown('*hi*')\n</script>\n",
        dedent=False,
    )
    project.build()
    assert cached_cells(project) == [True]
    site = project.root / "site-packages"  # IPython's distribution appears (its metadata is enough)
    info = site / "ipython-9.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ipython\nVersion: 9.0\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.syspath_prepend(str(site))
    assert cached_cells(project) == [False]


WRITER = """\
# Writer

<script>
import time, pathlib
pathlib.Path("figures").mkdir(exist_ok=True)
pathlib.Path("figures/line.svg").write_text(f"<svg><!-- drawn at {time.time()} --></svg>")
</script>

<script>
after = 1
</script>
"""


def test_a_file_a_cell_writes_into_the_essays_is_an_output_not_an_input(project):
    project.write("01-writer.md", WRITER, dedent=False)
    result = project.build()
    assert result.generated == [project.essays / "figures" / "line.svg"]
    assert (project.site / "figures" / "line.svg").is_file()  # still published as an asset
    assert cached_cells(project) == [True, True]  # its new date changes no key
    (project.essays / "figures" / "line.svg").unlink()
    assert cached_cells(project) == [False, False]  # gone: the cell runs again to write it
    assert (project.essays / "figures" / "line.svg").is_file()


HELPER_STATE = """\
# Helper state

<script>
import tally
tally.seen.append("cell 1")
</script>

<script>
between = 1
</script>

<script>
count = len(tally.seen)
</script>
"""


def test_a_helper_modules_changed_globals_make_the_build_run_from_the_top(project):
    project.write("tally.py", "seen = []\n", dedent=False)
    path = project.write("01-h.md", HELPER_STATE, dedent=False)
    project.build()
    path.write_text(HELPER_STATE.replace("count = ", "# edited\ncount = "), encoding="utf-8")
    # the snapshots cannot carry tally.seen: cells 1-2 are served, but run again for state
    result = project.build()
    assert "count: 1" in published(project, project.site, "01-h.html")
    assert published(project, project.site, "01-h.html") == clean(project, "01-h.html")
    assert "no usable snapshot" in (result.essays[0].results[0].note or "")


def test_a_module_that_read_a_file_at_import_keeps_its_snapshots(project):
    """`with open(...) as f:` at the top of an exported cell leaves a closed file in the
    module: it does not pickle, yet it must not cost the essays that import it their
    snapshots (every edit would run them from the top)."""
    project.write("words.txt", "ada\nbob\n", dedent=False)
    project.write(
        "01-words.md",
        '# Words\n\n<script data-export>\nwith open("words.txt", encoding="utf-8") as _file:\n'
        "    words = _file.read().split()\n</script>\n",
        dedent=False,
    )
    path = project.write(
        "02-use.md",
        "# Use\n\n<script>\nfrom words import words\ncount = len(words)\n</script>\n\n"
        "<script>\nlast = words[-1]\n</script>\n",
        dedent=False,
    )
    project.build()
    path.write_text(path.read_text().replace("last = ", "# edited\nlast = "), encoding="utf-8")
    report = project.root / "report.json"
    result = project.build(report=report)
    use = next(e for e in json.loads(report.read_text())["essays"] if e["source"].endswith("02-use.md"))
    assert [c["cached"] for c in use["cells"]] == [True, False], [r.note for e in result.essays for r in e.results]
    assert published(project, project.site, "02-use.html") == clean(project, "02-use.html")


def test_reading_the_runtimes_shaders_is_no_outside_dependency(project):
    """A GPU cell reads the WGSL shaders; they are in every key (the runtime's digest), so
    the build does not list them among the things outside the key."""
    project.write(
        "01-gpu.md",
        """\
        # GPU

        <script>
        from runtime.gpu_backend import shader_folder
        source = (shader_folder() / "matmul.wgsl").read_text()
        </script>
        """,
    )
    result = project.build()
    assert result.outside() == []
    assert "source: '" in published(project, project.site, "01-gpu.html")
