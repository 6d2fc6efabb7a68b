"""The build's problems as a list in the pages, for the author: `essays serve` shows it at
the top of every page (a failing cell far down a page, or on another page, is otherwise
seen only in the terminal); `essays build --show-problems` asks for it in a published site,
which has none by default. Each problem links to the cell it is about, or to its page."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from builder.diagnostics import Diagnostic
from builder.records import EssayBuild

from .parse import Cell


@dataclass(frozen=True)
class PageProblem:
    """One line of the list: the diagnostic's text (escaped by the template, as all text is),
    its severity, and where it links (a page, and the cell's id when it is about a cell)."""

    text: str
    severity: str
    href: str | None


@dataclass(frozen=True)
class ProblemList:
    """What base.html's panel shows; `digest` names this set of problems, so a reader who
    dismissed it sees it again only when the problems change."""

    problems: list[PageProblem]
    digest: str


def cell_at(cells: Iterable[Cell], line: int) -> Cell | None:
    """The cell whose lines (its <script> tag to its </script>) hold `line`."""
    for cell in cells:
        last = cell.line + cell.source.count("\n") + 1  # the </script> line
        if cell.tag_line <= line <= last:
            return cell
    return None


def page_problems(diagnostics: Iterable[Diagnostic], builds: list[EssayBuild]) -> ProblemList:
    """Every diagnostic, each with a link to its cell or page where it names an essay."""
    by_source: dict[Path, EssayBuild] = {b.source.resolve(): b for b in builds}
    problems = []
    for d in diagnostics:
        build = by_source.get(d.path.resolve()) if d.path is not None else None
        href = None
        if build is not None:
            cell = cell_at(build.essay.cells, d.line) if build.essay is not None and d.line else None
            href = f"{build.page}#{cell.dom_id}" if cell is not None and cell.dom_id else build.page
        problems.append(PageProblem(str(d), d.severity, href))
    digest = hashlib.sha256("\n".join(p.text for p in problems).encode()).hexdigest()[:16]
    return ProblemList(problems, digest)
