"""End to end through the command line, as an author runs it."""

import json
import subprocess
import sys

import pytest
import support

MINIMAL_ENV = {"PYTHONPATH": str(support.ROOT), "PATH": "/usr/bin:/bin"}  # a stranger's shell, nothing of ours


def essays(*args, cwd):
    return support.essays(*args, cwd=cwd, env=MINIMAL_ENV)


@pytest.mark.parametrize("args", [["--help"], ["build", "--help"], ["new", "--help"], ["serve", "--help"]])
def test_help_everywhere(project, args):
    out = essays(*args, cwd=project.root)
    assert out.returncode == 0 and "usage: essays" in out.stdout


def test_build_new_essay_end_to_end(project):
    made = essays("new", "Gradient descent: a first look", cwd=project.root)
    assert made.returncode == 0, made.stderr
    path = project.essays / "01-gradient-descent-a-first-look.md"
    assert path.is_file()
    again = essays("new", "Second one", cwd=project.root)
    assert (project.essays / "02-second-one.md").is_file(), again.stderr

    out = essays("build", "--strict", "--report", "report.json", cwd=project.root)
    assert out.returncode == 0, out.stderr
    assert "built 2 essays (4 cells) into site" in out.stdout
    report = json.loads((project.root / "report.json").read_text())
    assert report["essays"][0]["title"] == "Gradient descent: a first look"
    assert all(c["status"] == "ok" for e in report["essays"] for c in e["cells"])
    page = (project.site / "01-gradient-descent-a-first-look.html").read_text()
    assert "total:</span><pre>285</pre>" in page and "mean:</span><pre>28.5</pre>" in page


def test_strict_fails_on_a_cell_error_and_prints_a_summary(project):
    project.write("01-x.md", "# X\n\n<script>\nundefined_name\n</script>\n")
    loose = essays("build", cwd=project.root)
    assert loose.returncode == 0
    assert "01-x.md:4: cell 1: NameError: name 'undefined_name' is not defined" in loose.stderr
    strict = essays("build", "--strict", cwd=project.root)
    assert strict.returncode == 1 and "1 problem:" in strict.stderr


def test_strict_fails_on_an_unreadable_essay(project):
    (project.essays / "01-x.md").write_bytes(b"\xff\xfe")
    strict = essays("build", "--strict", cwd=project.root)
    assert strict.returncode == 1 and "01-x.md:1: not valid UTF-8" in strict.stderr
    assert "Traceback" not in strict.stderr


def test_cell_timeout_option(project):
    project.write("01-x.md", "<script>\nimport time\ntime.sleep(30)\n</script>\n")
    out = essays("build", "--cell-timeout", "0.5", "--report", "r.json", cwd=project.root)
    assert json.loads((project.root / "r.json").read_text())["essays"][0]["cells"][0]["status"] == "timeout"
    assert "timed out after 0.5 s" in (project.site / "01-x.html").read_text()
    assert out.returncode == 0


def test_missing_source_folder(project):
    out = essays("build", "nowhere", cwd=project.root)
    assert out.returncode == 2 and "nowhere: no such folder of essays" in out.stderr


def test_importing_the_tool_loads_no_heavy_package():
    """ "Heavy imports are lazy" (ruff's banned-module-level-imports checks each module;
    this checks the whole import graph of the command and the pipeline)."""
    code = (
        "import sys, builder.cli, builder.build, builder.serve, builder.worker\n"
        "heavy = {'numpy', 'wgpu', 'plotly', 'cloudpickle', 'rich', 'pandas', 'matplotlib'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=MINIMAL_ENV, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
