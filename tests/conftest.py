"""Shared fixtures: a folder of essays to write into, and a build of it."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's builder/ and runtime/, whatever is installed

from builder.build import build  # noqa: E402
from builder.config import Config  # noqa: E402
from builder.records import BuildResult  # noqa: E402


class Project:
    """A temporary project: essays/ to write into and site/ to build to."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.essays = root / "essays"
        self.site = root / "site"
        self.essays.mkdir()

    def write(self, name: str, text: str, dedent: bool = True) -> Path:
        path = self.essays / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text) if dedent else text, encoding="utf-8")
        return path

    def config(self, **kwargs) -> Config:
        return Config(**{"source": self.essays, "output": self.site, **kwargs})

    def build(self, **kwargs) -> BuildResult:
        return build(self.config(**kwargs))

    def page(self, name: str) -> str:
        return (self.site / name).read_text(encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path)


@pytest.fixture
def strays() -> Iterator[list[Path]]:
    """Files a test's cells write process ids into: whatever still runs when the test ends
    (it failed) is killed, so no test leaves a process behind."""
    files: list[Path] = []
    yield files
    for path in files:
        try:
            pids = [int(p) for p in path.read_text().split()]
        except (OSError, ValueError):
            continue
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
