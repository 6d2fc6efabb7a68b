"""Where an essay's cells are: the file name tracebacks use, and each cell's lines.

A cell's cache key covers its code and the cells before it, not where it stands in the file:
six lines of prose above a cell, or the essay copied to another name, change no key, so
cached outputs and snapshots are reused. What they recorded about positions (a traceback's
`File "01-x.md", line 14`, the line numbers of a function defined in a cell) is stored
relative to the cell it points into and put back where that cell is now, so a rebuild
publishes what a clean build would.

Standard library only: the worker uses this module too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Places:
    """The essay's file name and, by cell index, each cell's first code line and length."""

    filename: str
    cells: dict[int, tuple[int, int]] = field(default_factory=dict)

    def add(self, index: int, line: int, source: str) -> None:
        self.cells[index] = (line, max(1, len(source.splitlines())))

    def locate(self, line: int) -> tuple[int, int] | None:
        """(cell index, line within the cell) for an essay line inside a cell, else None."""
        for index, (first, count) in self.cells.items():
            if first <= line < first + count:
                return index, line - first
        return None

    def line(self, index: int, offset: int) -> int | None:
        place = self.cells.get(index)
        return None if place is None else place[0] + offset

    def move(self, line: int, to: Places) -> int:
        """An essay line here, as the same line of the same cell in `to`; unchanged when it
        is in no cell this knows (a module's line, say)."""
        found = self.locate(line)
        if found is None:
            return line
        moved = to.line(*found)
        return line if moved is None else moved

    def to_json(self) -> dict[str, Any]:
        return {"filename": self.filename, "cells": [[i, *place] for i, place in sorted(self.cells.items())]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Places:
        return cls(data["filename"], {int(i): (int(line), int(n)) for i, line, n in data["cells"]})


def relocate_text(text: str, old: Places, new: Places) -> str:
    """`text` (a traceback, a printed warning) with every position in the essay moved from
    where the cells were (`old`) to where they are now (`new`)."""
    if old == new or old.filename not in text:
        return text
    name = re.escape(old.filename)

    def traceback_line(match: re.Match[str]) -> str:
        return f'File "{new.filename}", line {old.move(int(match.group(1)), new)}'

    def warning_line(match: re.Match[str]) -> str:
        return f"{match.group(1)}{new.filename}:{old.move(int(match.group(2)), new)}:"

    text = re.sub(rf'File "{name}", line (\d+)', traceback_line, text)
    # warnings.warn's own format, `01-x.md:14: UserWarning: ...`, at the start of a line
    return re.sub(rf"(^|\s){name}:(\d+):", warning_line, text, flags=re.MULTILINE)
