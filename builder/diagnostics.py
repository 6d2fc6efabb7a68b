"""What a build has to tell its author, as records in one list.

Every stage that finds something wrong (a formula that does not parse, a module name that
clashes, a broken link, a cell that failed, a cache that cannot be written) adds a
`Diagnostic` to the `Diagnostics` collector that `build()` makes and passes down. The
terminal summary, `--strict`, the `--report` JSON and the dev server's overlay all read that
one list; what `--strict` turns into a failure is decided here, in `for_strict`, and
nowhere else.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from .paths import shown

Severity = Literal["warning", "error"]
# What a diagnostic is about. "build": the site or its tools (a missing bundle, the cache);
# "essay": a file that could not be read; "cell": a cell that went wrong; "link": a link
# to an essay or an anchor that does not exist; "module": an exported module's problem;
# "math": a formula; "output": a file a cell wrote where nothing is published; "markup": the
# essay's Markdown or HTML (an id used twice, a missing image, a misspelled attribute).
Kind = Literal["build", "essay", "cell", "link", "module", "math", "output", "markup"]

# The kinds that --strict fails a build for although they are warnings without it: each
# still leaves a readable page, but a site published with one is wrong. Only "build"
# warnings stay warnings: they are about this machine (a bundle not installed, a cache
# that cannot be written), not about the essays, and CI should not fail for them.
STRICT_ERRORS: frozenset[Kind] = frozenset({"link", "math", "module", "output", "markup"})


@dataclass(frozen=True)
class Diagnostic:
    """One thing to tell the author. `path` and `line` say where, when there is a where;
    str() is `file:line: message`, the line the terminal prints."""

    path: Path | None
    line: int | None
    severity: Severity
    message: str
    kind: Kind = "build"

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        where = f"{shown(self.path)}:{self.line}" if self.line else shown(self.path)
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        """For the report: the parts, and the line as printed."""
        return {
            "path": shown(self.path) if self.path is not None else None,
            "line": self.line,
            "severity": self.severity,
            "kind": self.kind,
            "message": self.message,
            "text": str(self),
        }


class Diagnostics:
    """The build's diagnostics, in the order they were found. Essays run on threads of
    their own, so adding takes a lock."""

    def __init__(self, items: Iterable[Diagnostic] = ()) -> None:
        self._items: list[Diagnostic] = list(items)
        self._lock = threading.Lock()

    def add(self, diagnostic: Diagnostic) -> None:
        with self._lock:
            self._items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        items = list(diagnostics)
        with self._lock:
            self._items.extend(items)

    def warn(self, message: str, path: Path | None = None, line: int | None = None, kind: Kind = "build") -> None:
        self.add(Diagnostic(path, line, "warning", message, kind))

    def error(self, message: str, path: Path | None = None, line: int | None = None, kind: Kind = "build") -> None:
        self.add(Diagnostic(path, line, "error", message, kind))

    def __iter__(self) -> Iterator[Diagnostic]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def warnings(self) -> list[Diagnostic]:
        return [d for d in self if d.severity == "warning"]

    def errors(self) -> list[Diagnostic]:
        return [d for d in self if d.severity == "error"]

    def of_kind(self, kind: Kind) -> list[Diagnostic]:
        return [d for d in self if d.kind == kind]

    def counts(self) -> Counter[str]:
        """How many of each severity: `counts()["error"]`."""
        return Counter(d.severity for d in self)

    def for_strict(self, strict: bool = True) -> Diagnostics:
        """The same diagnostics as a build with `--strict` (or without, `strict=False`)
        judges them: the kinds in STRICT_ERRORS become errors. The one place that rule is
        written."""
        if not strict:
            return Diagnostics(self)
        return Diagnostics(
            replace(d, severity="error") if d.kind in STRICT_ERRORS and d.severity == "warning" else d for d in self
        )

    def to_list(self) -> list[dict[str, object]]:
        return [d.to_dict() for d in self]
