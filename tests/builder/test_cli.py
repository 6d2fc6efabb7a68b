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
    assert '`essays new "My first essay"`' in out.stderr and "`essays build FOLDER`" in out.stderr


def test_version_says_the_installed_version(capsys):
    from builder.cli import main, tool_version

    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out == f"essays {tool_version()}\n"
    assert tool_version()[0].isdigit() or tool_version().startswith("unknown")


def test_importing_the_tool_loads_no_heavy_package():
    """ "Heavy imports are lazy" (ruff's banned-module-level-imports checks each module;
    this checks the whole import graph of the command and the pipeline)."""
    code = (
        "import sys, builder.cli, builder.build, builder.serve.watch, builder.execution.worker, builder.execution.child\n"
        "heavy = {'numpy', 'wgpu', 'plotly', 'cloudpickle', 'rich', 'pandas', 'matplotlib'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=MINIMAL_ENV, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_worker_process_imports_none_of_the_pipeline():
    """The worker (`python -m builder.execution.child`) imports the execution and cache
    modules it runs, never the pipeline's Markdown, templates or the dev server: the package
    `__init__` files import nothing. Nor the builder's side of the process: the handle that
    starts and stops workers, the cancel tokens, the records the handle returns."""
    code = (
        "import sys, builder.execution.child\n"
        "light = {'markdown_it', 'mdit_py_plugins', 'yaml', 'jinja2', 'pygments', 'watchdog', 'nbformat', 'rich'}\n"
        "loaded = {name.split('.')[0] for name in sys.modules}\n"
        "ours = {name for name in sys.modules if name.startswith('builder.')}\n"
        "parent = ('builder.pipeline', 'builder.serve', 'builder.convert', 'builder.execution.worker',\n"
        "          'builder.execution.execute', 'builder.execution.cancel', 'builder.records', 'builder.build')\n"
        "print(sorted(light & loaded), sorted(n for n in ours if n.startswith(parent)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=MINIMAL_ENV, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] []"


# ----- values checked at the edge ----------------------------------------------------------


def parse_error(capsys, *argv: str) -> str:
    """argparse's refusal: exit 2 and one line after the usage."""
    from builder.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("usage: essays") and lines[-1].startswith("essays ")
    return lines[-1]


@pytest.mark.parametrize("value", ["inf", "1e308", "0", "-1", "nan", "-inf", "86401", "ten", ""])
@pytest.mark.parametrize("command", ["build", "serve"])
def test_a_cell_timeout_that_cannot_be_waited_for_is_refused(capsys, command, value):
    """inf and 1e308 overflowed the deadline and took the build down; 0, -1 and nan timed out
    every cell ("timed out after nan s")."""
    line = parse_error(capsys, command, f"--cell-timeout={value}")
    assert "argument --cell-timeout: must be a number of seconds" in line and f'"{value}"' in line


@pytest.mark.parametrize(
    "option, value",
    [
        ("-j", "-1"),
        ("--jobs", "1.5"),
        ("--cache-limit", "-1"),
        ("--cache-limit", "nan"),
        ("--cache-limit", "inf"),
        ("--port", "70000"),
        ("--port", "-1"),
        ("--port", "http"),
    ],
)
def test_whole_numbers_out_of_range_are_refused(capsys, option, value):
    command = "serve" if option == "--port" else "build"
    line = parse_error(capsys, command, f"{option}={value}" if option.startswith("--") else f"{option}{value}")
    assert "must be a whole number" in line and f'"{value}"' in line


def test_values_in_range_are_taken():
    from builder.cli import config_from, make_parser

    args = make_parser().parse_args(
        ["serve", "--cell-timeout", "86400", "-j", "0", "--cache-limit", "0", "--port", "0"]
    )
    config = config_from(args)
    assert (config.cell_timeout, config.jobs, config.cache_limit, args.port) == (86400.0, 0, 0, 0)
    assert make_parser().parse_args(["build", "--cell-timeout", "0.25"]).cell_timeout == 0.25


# ----- essays new: titles and file names ---------------------------------------------------


@pytest.mark.parametrize("title", ["", "   ", "\t\n", "\u200b", "\u3000"])
def test_a_blank_title_is_refused(capsys, project, title):
    """It made an essay whose index link showed nothing."""
    line = parse_error(capsys, "new", title, "--source", str(project.essays))
    assert "the title is blank" in line
    assert list(project.essays.iterdir()) == []


def test_a_title_of_several_lines_is_refused(capsys, project):
    assert "one line" in parse_error(capsys, "new", "One\n# Two", "--source", str(project.essays))


@pytest.mark.parametrize(
    "title, name",
    [
        ("Ñandú café", "01-ñandú-café.md"),
        ("N\u0303andu\u0301 CAFÉ", "01-ñandú-café.md"),  # decomposed: the file name is NFC all the same
        ("Σύνοψη: μέρος 2", "01-σύνοψη-μέρος-2.md"),
        ("梯度下降", "01-梯度下降.md"),
        ("what?!  #1 / 100%", "01-what-1-100.md"),
        ("!!!", "01-essay.md"),
        ("a" * 300, f"01-{'a' * 60}.md"),
    ],
)
def test_the_file_name_keeps_the_title_letters(project, title, name):
    from builder.cli import main

    assert main(["new", title, "--source", str(project.essays)]) == 0
    assert [p.name for p in project.essays.iterdir()] == [name]


def test_an_essay_with_a_non_ascii_name_builds_and_links(project):
    made = essays("new", "Ñandú café", cwd=project.root)
    assert made.returncode == 0, made.stderr
    project.write("02-next.md", "# Next\n\nBack to [the café](01-ñandú-café.md).\n")
    out = essays("build", "--strict", cwd=project.root)
    assert out.returncode == 0, out.stderr
    href = "01-%C3%B1and%C3%BA-caf%C3%A9.html"
    assert f'<a href="{href}">Ñandú café</a>' in project.page("index.html")
    assert f'rel="prev" href="{href}"' in project.page("02-next.html")
    assert f'<a href="{href}">the café</a>' in project.page("02-next.html")
    assert "total:</span><pre>285</pre>" in project.page("01-ñandú-café.html")


def test_page_links_are_percent_encoded(project):
    """A file name with ?, # or % made a link to a query, a fragment or a bad escape."""
    project.write("01-why? 100% #1.md", "# Why\n")
    project.write("02-b.md", "# B\n\n[why](01-why%3F%20100%25%20%231.md)\n")
    result = project.build(strict=True)
    assert not result.diagnostics.of_kind("link")
    assert '<a href="01-why%3F%20100%25%20%231.html">why</a>' in project.page("02-b.html")
    assert 'href="01-why%3F%20100%25%20%231.html"' in project.page("index.html")
    assert (project.site / "01-why? 100% #1.html").is_file()
