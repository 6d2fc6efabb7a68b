"""Modules across essays: an essay's `<script data-export>` cells, collected in order into a
module that other essays import (`import bigram`, `from bigram import FloatMatrix`).

Found by parsing alone: nothing runs to know what an essay exports. A module file keeps
each exported cell at its line in the essay (blank lines between), so a traceback through
the module names the essay's own line numbers. A module runs in its own namespace, so an
exported cell must be self-contained: a name it reads that no earlier exported cell
defines or imports is a warning naming the file and line.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from builder.diagnostics import Diagnostics
from runtime.analysis import global_reads, imported_modules
from runtime.imports import MODULE_HEADER

from .parse import Cell, Essay

# the first line names the essay: runtime/imports.py reads it to say which essay exports a module
HEADER = MODULE_HEADER


@dataclass
class Module:
    name: str
    essay: Essay
    text: str  # the module file
    imports: set[str] = field(default_factory=set)  # other essays' modules it imports
    digest: str = ""  # of its text and of the modules it imports, transitively


def module_text(essay: Essay, cells: list[Cell]) -> str:
    """The exported cells, each at its own line of the essay."""
    lines = [HEADER.format(source=essay.path.name)]
    for cell in cells:
        lines.extend("\n" for _ in range(cell.line - 1 - len(lines)))
        lines.extend(cell.source.splitlines(keepends=True))
    return "".join(lines)


def collect(essays: list[Essay], diagnostics: Diagnostics) -> dict[str, Module]:
    """Every essay's module (only essays that export something have one); what is wrong
    with them goes to `diagnostics`."""
    from builder.paths import shown

    modules: dict[str, Module] = {}
    for essay in essays:
        exported = [c for c in essay.cells if c.export]
        if not exported:
            continue
        name = essay.module

        def warn(message: str, essay: Essay = essay, line: int = exported[0].tag_line) -> None:
            diagnostics.warn(message, essay.path, line, kind="module")

        if not name.isidentifier():
            warn(f"the module name {name!r} is not a Python name: set `module:` in the front matter")
            continue
        if name in modules:
            other = shown(modules[name].essay.path)
            warn(f"the module {name!r} is already exported by {other}: set `module:` to another name")
            continue
        if _installed(name):
            warn(
                f"the module name {name!r} would hide an installed module of that name: "
                "set `module:` in the front matter"
            )
            continue
        _self_contained(essay, exported, diagnostics)
        imports = {m for c in exported for m in imported_modules(c.source)}
        modules[name] = Module(name, essay, module_text(essay, exported), imports)
    for module in modules.values():
        module.digest = _digest(module, modules, set())
    return modules


def _installed(name: str) -> bool:
    """A module of that name can be imported here already (the standard library, a package)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a module made at run time, with no spec: not installed
        return False


def _self_contained(essay: Essay, cells: list[Cell], diagnostics: Diagnostics) -> None:
    known = set(dir(builtins)) | {"__name__", "__file__", "__doc__"}
    for cell in cells:
        found = global_reads(cell.source)
        if found is None:
            continue  # a syntax error: the cell's own output says so
        reads, binds = found
        missing = sorted(reads - known - binds)
        if missing:
            names = ", ".join(f"`{n}`" for n in missing)
            diagnostics.warn(
                f"this exported cell reads {names}, which no earlier exported "
                "cell defines or imports; the module runs in its own namespace, so define or import "
                f"{'it' if len(missing) == 1 else 'them'} in an exported cell",
                essay.path,
                cell.line,
                kind="module",
            )
        known |= binds


def _digest(module: Module, modules: dict[str, Module], seen: set[str]) -> str:
    if module.digest:
        return module.digest
    seen = seen | {module.name}
    digest = hashlib.sha256(module.text.encode())
    for name in sorted(module.imports - seen):
        if name in modules:
            digest.update(_digest(modules[name], modules, seen).encode())
    return digest.hexdigest()[:20]


def imported_digests(essay: Essay, modules: dict[str, Module]) -> list[dict[str, str]]:
    """For each cell, the other essays' modules it imports, name -> digest: what its cache
    key covers besides the essay (cache/keys.py), so editing an exported cell re-runs the
    first cell of each essay that imports it and, as keys chain, every cell after that one."""
    own = essay.module
    return [
        {m: modules[m].digest for m in imported_modules(cell.source) if m in modules and m != own}
        for cell in essay.cells
    ]


def write_modules(modules: dict[str, Module], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for module in modules.values():
        (folder / f"{module.name}.py").write_text(module.text, encoding="utf-8")
