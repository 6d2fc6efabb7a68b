"""The one list of what a build has to say: records, the collector, --strict's rule, and
the readers (terminal, report, dev server) agreeing on it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from builder.cli import report_build
from builder.diagnostics import Diagnostic, Diagnostics


def test_a_diagnostic_reads_file_line_message():
    assert str(Diagnostic(Path("essays/01-a.md"), 7, "warning", "no anchor #x in this essay")) == (
        "essays/01-a.md:7: no anchor #x in this essay"
    )
    assert str(Diagnostic(Path("essays/01-a.md"), None, "error", "the file is empty")) == (
        "essays/01-a.md: the file is empty"
    )
    assert str(Diagnostic(None, None, "warning", "Pyodide is not installed")) == "Pyodide is not installed"


def test_a_diagnostic_is_frozen():
    diagnostic = Diagnostic(None, None, "warning", "m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        diagnostic.message = "other"  # type: ignore[misc]


def test_the_collector_keeps_order_and_counts_by_severity():
    diagnostics = Diagnostics()
    diagnostics.warn("first", Path("a.md"), 1, kind="math")
    diagnostics.error("second", Path("b.md"), 2, kind="cell")
    diagnostics.add(Diagnostic(None, None, "warning", "third"))
    assert [d.message for d in diagnostics] == ["first", "second", "third"]
    assert len(diagnostics) == 3 and diagnostics.counts() == {"warning": 2, "error": 1}
    assert [d.message for d in diagnostics.warnings()] == ["first", "third"]
    assert [d.message for d in diagnostics.errors()] == ["second"]
    assert [d.message for d in diagnostics.of_kind("math")] == ["first"]
    assert not Diagnostics() and diagnostics


def test_strict_promotes_every_warning_about_the_essays_and_not_the_machines():
    diagnostics = Diagnostics()
    diagnostics.warn("no anchor #x in this essay", Path("a.md"), 3, kind="link")
    diagnostics.warn("the formula `x^` does not parse", Path("a.md"), 4, kind="math")
    diagnostics.warn("the module 'walks' is already exported by 01-a.md", Path("b.md"), 5, kind="module")
    diagnostics.warn("the id 'x' is used twice", Path("a.md"), 6, kind="markup")
    diagnostics.warn("Pyodide is not installed", kind="build")
    strict = diagnostics.for_strict()
    assert [(d.kind, d.severity) for d in strict] == [
        ("link", "error"),
        ("math", "error"),
        ("module", "error"),
        ("markup", "error"),
        ("build", "warning"),
    ]
    assert [d.severity for d in diagnostics] == ["warning"] * 5  # the build's own list is unchanged
    assert [d.severity for d in diagnostics.for_strict(False)] == ["warning"] * 5
    assert str(strict.errors()[0]) == str(diagnostics.warnings()[0])  # the same line, judged otherwise


def test_the_report_form_has_the_parts_and_the_line():
    d = Diagnostic(Path("essays/01-a.md"), 7, "warning", "why", "link")
    assert d.to_dict() == {
        "path": "essays/01-a.md",
        "line": 7,
        "severity": "warning",
        "kind": "link",
        "message": "why",
        "text": "essays/01-a.md:7: why",
    }


BROKEN = "# Two\n\n[gone](01-none.md)\n\n$x^$\n\n<script>\nraise ValueError('no')\n</script>\n"


@pytest.mark.slow
def test_terminal_report_and_strict_read_one_list(project, capsys):
    """A broken link, a formula that does not parse and a failing cell: the terminal, the
    report and the exit status all say the same things, --strict adding the link to the
    problems."""
    project.write("02-two.md", BROKEN)
    result = project.build(strict=True, report=project.root / "r.json")
    kinds = [(d.kind, d.severity) for d in result.diagnostics]
    cells = json.loads((project.root / "r.json").read_text())["essays"][0]["cells"]
    assert cells[0]["problem"] == "cell 1: ValueError: no"[len("cell 1: ") :]  # the report's cell says why
    assert cells[0]["error"].startswith("Traceback") and cells[0]["error"].endswith("ValueError: no")
    assert ("link", "warning") in kinds and ("math", "warning") in kinds and ("cell", "error") in kinds
    report = json.loads((project.root / "r.json").read_text())["diagnostics"]
    assert [d["text"] for d in report] == [str(d) for d in result.diagnostics]
    assert [d["severity"] for d in report if d["kind"] in ("link", "math")] == ["error"] * 2  # as --strict judged it

    assert report_build(result, project.config(strict=True)) == 1
    err = capsys.readouterr().err
    assert "3 problems:" in err and "  essays/02-two.md:3: the link to 01-none.md names no essay" in err
    assert "  essays/02-two.md:5: the formula" in err
    assert report_build(result, project.config()) == 0
    err = capsys.readouterr().err
    assert "1 problem:" in err and "essays: warning: essays/02-two.md:3: the link to 01-none.md" in err
