"""The build's records: what executing a cell, an essay and the whole site produced.

One module that the executor, the cache, the renderer, the progress display and the report
all import, so none of them imports another to learn a type. Plain dataclasses; a cell's
result is frozen (a later stage that adds to it makes a new one with dataclasses.replace).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from runtime.display import Output

from .cache.depends import Depends
from .paths import shown

if TYPE_CHECKING:  # the worker imports this module: no Markdown or YAML parser for it
    from .cache.verify import Verification
    from .diagnostics import Diagnostic, Diagnostics
    from .pipeline.page_packages import PagePackages
    from .pipeline.parse import Cell, Essay, EssayError
    from .state import StateCost

# "ok": ran without an error; "error": raised, or an output could not be made; "timeout":
# stopped after its time; "skipped": never ran (nothing else sets it yet, templates read it)
CellStatus = Literal["ok", "error", "timeout", "skipped"]
# "invalid": the essay file could not be parsed; "error": a cell went wrong
EssayStatus = Literal["ok", "error", "invalid"]


@dataclass(frozen=True)
class CellResult:
    status: CellStatus
    outputs: list[Output] = field(default_factory=list)
    seconds: float = 0.0
    cached: bool = False
    note: str | None = None  # for the report: why state was rebuilt, or not snapshotted
    # names the snapshot after this cell lacks (they did not pickle); None: no snapshot
    lost: list[str] | None = None
    snapshot_seconds: float = 0.0  # time spent saving the snapshot, not in `seconds`
    blobs: list[str] = field(default_factory=list)  # blobs the snapshot refers to (cache/store.py)
    cache_error: str | None = None  # why the snapshot could not be written (full, read-only)
    depends: Depends | None = None  # what it read or wrote beyond its key (cache/depends.py)
    # why it failed in one line, where its error's last line is not that (a crash's dump)
    summary: str | None = None
    # the portable state after this cell, for the page (execution/state.py): name -> entry,
    # and the blobs holding its values; None when it was not recorded
    state: dict[str, dict[str, object]] | None = None
    state_blobs: list[str] = field(default_factory=list)


@dataclass
class EssayBuild:
    """What the build learned of one essay file."""

    source: Path
    essay: Essay | None = None
    error: EssayError | None = None
    results: list[CellResult] = field(default_factory=list)
    seconds: float = 0.0
    # each cell's content key (cache/keys.py), set once the modules the cells import are known
    keys: tuple[str, ...] = ()
    # what the state shipped for the page costs (builder/state.py); None: none was recorded
    state_cost: StateCost | None = None

    @property
    def page(self) -> str:
        return f"{self.source.stem}.html"

    @property
    def status(self) -> EssayStatus:
        if self.error is not None:
            return "invalid"
        return "error" if self.problems() else "ok"

    def outside(self) -> list[str]:
        cells = self.essay.cells if self.essay else []
        return [
            f"{shown(self.source)}:{c.line}: cell {c.index + 1} reads {', '.join(things)}: outside the key, "
            "checked before its cached output is reused"
            for c, r in zip(cells, self.results, strict=False)
            if r.depends is not None and (things := r.depends.outside())
        ]

    def written(self) -> set[str]:
        """The files (relative to the essays folder) that this essay's cells wrote there."""
        return {path for r in self.results if r.depends is not None for path in r.depends.writes}

    def problems(self) -> list[str]:
        """`file:line: cell N: why` for each cell that went wrong."""
        return [str(d) for d in self.diagnostics()]

    def diagnostics(self) -> list[Diagnostic]:
        """An error for the essay file that could not be read, or one for each cell that
        went wrong."""
        from .diagnostics import Diagnostic

        if self.error is not None:
            return [Diagnostic(self.source, self.error.line, "error", self.error.message, "essay")]
        cells = self.essay.cells if self.essay else []
        return [
            Diagnostic(self.source, error_line(c, r, self.source.name), "error", f"cell {c.index + 1}: {p}", "cell")
            for c, r in zip(cells, self.results, strict=False)  # results stop short when a build is cut
            if (p := cell_problem(c, r))
        ]


def error_line(cell: Cell, result: CellResult, name: str) -> int:
    """The essay line a cell's error names (its traceback's last frame in the essay file
    `name`, as tracebacks name it), or the cell's first line when it names none."""
    why = next((o.text for o in result.outputs if o.kind == "error"), "")
    lines = re.findall(rf'File "{re.escape(name)}", line (\d+)', why)
    return int(lines[-1]) if lines else cell.line


def cell_problem(cell: Cell, result: CellResult) -> str | None:
    """Why a cell counts as a problem, in one line; None when it did what its author meant."""
    if cell.expects_error:
        if result.status == "error":
            return None
        return "expected an error, but it ran without one" if result.status == "ok" else result.status
    if result.status == "ok":
        return None
    if result.summary:
        return result.summary
    why = next((o.text for o in result.outputs if o.kind == "error"), "").strip()
    return why.splitlines()[-1] if why else result.status


@dataclass
class BuildResult:
    essays: list[EssayBuild]
    seconds: float
    # everything the build has to say, warnings and errors, in one list (diagnostics.py)
    diagnostics: Diagnostics
    verification: Verification | None = None  # with --verify: how the cells compared with a clean build
    generated: list[Path] = field(default_factory=list)  # files the cells wrote into the essays folder
    packages: PagePackages | None = None  # where the page's packages come from (page_packages.py)

    def outside(self) -> list[str]:
        """`file:line: cell N reads ...` for each cell whose output depends on things outside
        its key (files beyond the essays folder, environment variables)."""
        return [line for e in self.essays for line in e.outside()]

    @property
    def warnings(self) -> list[str]:
        """The warnings as the terminal prints them (without --strict's promotion)."""
        return [str(d) for d in self.diagnostics.warnings()]

    @property
    def failures(self) -> list[str]:
        """One line per problem, naming the file and line (without --strict's promotion)."""
        return [str(d) for d in self.diagnostics.errors()]
