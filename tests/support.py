"""What many tests share: the repository's paths, Chromium's flags, the environment a child
process needs, running the `essays` command, and reading cells' outputs from a page.

Fixtures live in conftest.py; plain constants and helpers live here, where a test module can
import them by name (`from support import ROOT, essays`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
WAIT = 20.0  # seconds: the longest one thing may take on a loaded 2-core machine
CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium as root, on a machine with no network beyond the package registries;
# WebGPU through SwiftShader, on the CPU
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--enable-unsafe-webgpu",
    "--use-webgpu-adapter=swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
]


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python: this one, with the repository importable."""
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def run_node_harness(script: str, *args: str, stdin: str) -> Any:
    """Run one of tests/runtime's Node harnesses (they start the page's Python through
    node_page.mjs) with the repository as its first argument, `stdin` as its input, and
    return the JSON it prints; skip where Node or the npm install is missing."""
    import json
    import shutil

    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (ROOT / "node_modules" / "pyodide").is_dir():
        pytest.skip("node_modules/pyodide is missing: run `make install` (npm ci)")
    out = subprocess.run(
        ["node", str(ROOT / "tests" / "runtime" / script), str(ROOT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def wait_for(predicate, what: str, timeout: float = WAIT) -> None:
    """Poll `predicate` until it holds; fail the test naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """The process runs: it exists and is no zombie (dead, not yet reaped by its parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return not Path("/proc/self").exists()  # no /proc (macOS): kill(pid, 0) is all we know


def essays(*args: str, cwd: Path, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run `python -m builder ARGS` in `cwd`, as an author runs `essays ARGS`."""
    kwargs.setdefault("env", child_env())
    return subprocess.run(
        [sys.executable, "-m", "builder", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, **kwargs
    )


@dataclass
class Shown:
    """One output record as a page shows it."""

    kind: str  # stream, value, figure, error, note
    label: str | None
    text: str


class _Outputs(HTMLParser):
    """Collects, per cell, the outputs inside its `.cell-output`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[list[Shown]] = []
        self._depth = 0  # div depth inside the current .cell-output; 0 outside
        self._record: Shown | None = None
        self._in_label = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div" and "cell-output" in classes:
            self.cells.append([])
            self._depth = 1
        elif self._depth and tag == "div":
            self._depth += 1
            kind = next(
                (c.removeprefix("output-") for c in classes if c.startswith("output-") and c != "output-block"), ""
            )
            if "output" in classes:
                self._record = Shown(kind, None, "")
                self.cells[-1].append(self._record)
        elif self._depth and tag == "span" and "output-label" in classes:
            self._in_label = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._in_label = False
        elif tag == "div" and self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._record is None or not self._depth:
            return
        if self._in_label:
            self._record.label = (self._record.label or "") + data.rstrip(":")
        else:
            self._record.text += data


def cell_outputs(page: str) -> list[list[Shown]]:
    """Every cell's outputs in a built page, in order: [[Shown(kind, label, text), ...], ...]."""
    parser = _Outputs()
    parser.feed(page)
    return parser.cells


def output_text(page: str) -> str:
    """All the outputs' text of a page, one record a line (`label: text` when labelled)."""
    return "\n".join(f"{o.label}: {o.text}" if o.label else o.text for outputs in cell_outputs(page) for o in outputs)
