"""Which packages the page needs, and where each comes from.

The cells' imports are known twice over: the static analysis of each cell's code
(runtime.analysis.imported_modules), and the distributions a cell loaded while it ran
(cache/depends.py, which sees a package's own imports too, and imports made by a helper
module). For each distribution either names:

- Pyodide distributes it (pyodide-lock.json of the installed npm `pyodide`): the page loads
  it from Pyodide's package server, as it always did;
- it is pure Python: its wheel is rebuilt from the installation (wheels.py) and written
  under _static/wheels/, and the page installs it from there when a cell first imports it;
  its requirements follow the same rule;
- neither (compiled code Pyodide lacks): a warning at the first cell that imports it, as
  that cell cannot run in the page.

Only what a cell's own code imports is shipped (with its requirements), or a module it
imports from beside the essays (an essay's module, a helper): the page installs a wheel when
a cell's imports name it or such a module, so a package loaded on the side at build time
would be written and never installed. Those are listed when Pyodide has them, as the page may load
them too.

The runtime's manifest lists the shipped wheels with their modules and requirements, so
the page's worker knows what to fetch for an import without asking the server.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from builder.diagnostics import Diagnostics
from builder.records import EssayBuild
from runtime.analysis import imported_modules

from .wheels import NotShippable, Wheel, cached_wheel, canonical
from .writer import SiteWriter

WHEELS = "_static/wheels"
# the page has these already: the runtime itself (this project's own distribution), and the
# packages static_files.py copies beside the essays' modules
PROVIDED = frozenset({"runtime"})


@dataclass(frozen=True)
class Need:
    """Why the page needs a distribution: the first cell that imports it, or the shipped
    package that requires it."""

    path: Path | None = None
    line: int | None = None
    direct: bool = False  # the cell's own code imports it, not a package it loaded
    required_by: str | None = None


@dataclass
class PagePackages:
    """What the build decided for the page's packages, for the manifest and the report."""

    shipped: list[Wheel] = field(default_factory=list)
    pyodide: list[str] = field(default_factory=list)  # names in pyodide-lock.json
    unavailable: dict[str, str] = field(default_factory=dict)  # distribution -> why not
    requires: dict[str, list[str]] = field(default_factory=dict)  # shipped name -> names it needs
    # an essay's module or a helper beside the essays -> the modules it imports, through others
    # of its kind: a cell that imports it needs the wheels of those
    via: dict[str, set[str]] = field(default_factory=dict)

    def manifest(self) -> list[dict[str, Any]]:
        """The wheels as the page's worker reads them (runtime/js/worker/wheels.js)."""
        return [
            {
                "name": canonical(w.name),
                "file": w.filename,
                "imports": list(w.imports),
                "requires": self.requires.get(canonical(w.name), []),
                "via": sorted(m for m, reached in self.via.items() if reached & set(w.imports)),
            }
            for w in self.shipped
        ]

    def to_dict(self) -> dict[str, Any]:
        """The --report's view."""
        return {
            "shipped": [
                {"name": w.name, "version": w.version, "file": f"{WHEELS}/{w.filename}", "bytes": len(w.data)}
                for w in self.shipped
            ],
            "pyodide": sorted(self.pyodide),
            "unavailable": dict(sorted(self.unavailable.items())),
        }

    def summary(self) -> str | None:
        """One line for the terminal, or None when the essays import no package."""
        parts = []
        if self.shipped:
            wheels = ", ".join(f"{w.name} {w.version} ({len(w.data) / 1e6:.1f} MB)" for w in self.shipped)
            parts.append(f"ships {wheels}")
        if self.pyodide:
            parts.append(f"from Pyodide: {', '.join(sorted(self.pyodide))}")
        if self.unavailable:
            parts.append(f"not in the page: {', '.join(sorted(self.unavailable))}")
        return f"the page's packages: {'; '.join(parts)}" if parts else None


@dataclass(frozen=True)
class PyodideIndex:
    """pyodide-lock.json's packages: by canonical name, and by the module each provides."""

    names: frozenset[str]
    by_import: dict[str, str]

    @classmethod
    def read(cls, lock: Path) -> PyodideIndex | None:
        try:
            packages = json.loads(lock.read_text(encoding="utf-8"))["packages"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        by_import = {module: name for name, info in packages.items() for module in info.get("imports", [])}
        return cls(frozenset(canonical(n) for n in packages), by_import)

    def provides(self, dist: str, modules: Iterable[str]) -> str | None:
        """The lock's name for a distribution (matched by name, or by every module it
        installs), or None when Pyodide does not distribute it."""
        if canonical(dist) in self.names:
            return canonical(dist)
        found = {self.by_import.get(m) for m in modules}
        if found and None not in found and len(found) == 1:
            return found.pop()
        return None


def outside(modules: set[str]) -> set[str]:
    """The modules that may be installed packages: not the standard library, not the runtime."""
    return modules - PROVIDED - set(sys.stdlib_module_names)


def reached(module: str, sources: Mapping[str, str]) -> set[str]:
    """What `module` (one of `sources`: the essays' modules, the helpers beside them) imports,
    directly or through others of `sources`, that is none of them."""
    seen: set[str] = set()
    found: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in imported_modules(sources[name]):
            if imported in sources:
                todo.append(imported)
            else:
                found.add(imported)
    return outside(found)


def needed(builds: list[EssayBuild], sources: Mapping[str, str] | None = None) -> dict[str, Need]:
    """Every installed distribution the essays' cells import, by name, with its first cell; a
    cell that imports one of `sources` (module name -> its code) imports what that imports."""
    sources = sources or {}
    found: dict[str, Need] = {}

    def add(dist: str, need: Need) -> None:
        known = found.get(dist)
        if known is None or (need.direct and not known.direct):
            found[dist] = need

    imports: list[tuple[str, Need]] = []
    for b in builds:
        if b.essay is None:
            continue
        results = list(b.results) + [None] * (len(b.essay.cells) - len(b.results))  # cells that never ran
        for cell, result in zip(b.essay.cells, results, strict=False):
            need = Need(b.source, cell.line, direct=True)
            for module in sorted(outside(imported_modules(cell.source))):
                through = sorted(reached(module, sources)) if module in sources else [module]
                imports.extend((m, need) for m in through)
            for dist in sorted(result.depends.distributions if result and result.depends else {}):
                add(dist, Need(b.source, cell.line))
    owners = _owners() if imports else {}
    for module, need in imports:
        for dist in owners.get(module, []):
            add(dist, need)
    return found


def _site_folders() -> tuple[tuple[str, int], ...]:
    """The import path's folders with their times of change, which an install or an
    uninstall moves (it adds or removes a .dist-info folder)."""
    folders = []
    for entry in sys.path:
        try:
            folders.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            continue
    return tuple(folders)


@lru_cache(maxsize=1)
def _owners_at(folders: tuple[tuple[str, int], ...]) -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


def _owners() -> Mapping[str, list[str]]:
    """Which distributions install each top-level module. Reading every RECORD takes most of
    a second, so the dev server's rebuilds reuse the answer while the installation is as it
    was."""
    return _owners_at(_site_folders())


def requirements(dist: metadata.Distribution) -> list[str]:
    """The distributions `dist` needs when installed without extras, on this Python."""
    from packaging.requirements import InvalidRequirement, Requirement

    names = []
    for text in dist.requires or []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.append(requirement.name)
    return names


def plan(
    builds: list[EssayBuild],
    lock: Path,
    cache: Path | None,
    diagnostics: Diagnostics,
    skip: Iterable[str] = (),
    sources: Mapping[str, str] | None = None,
) -> PagePackages:
    """Decide each distribution's source and make the wheels to ship. `cache`: the folder
    wheels are kept in between builds (None: none kept); `skip`: distributions the page has
    otherwise; `sources`: the essays' modules and the helpers beside them (name -> code),
    whose imports count as those of the cells that import them."""
    index = PyodideIndex.read(lock)
    packages = PagePackages()
    if index is None:  # no Pyodide here: the page cannot run cells at all, as static_files.py says
        return packages
    sources = sources or {}
    packages.via = {name: found for name in sources if (found := reached(name, sources))}
    skipped = {canonical(s) for s in skip}
    todo = sorted(needed(builds, sources).items())
    seen: set[str] = set()
    while todo:
        name, need = todo.pop(0)
        key = canonical(name)
        if key in seen or key in skipped:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            dist = None
        modules = _modules(dist)
        if PROVIDED & set(modules):
            continue  # this project's own distribution: the page has the runtime
        from_pyodide = index.provides(name, modules)
        if from_pyodide is not None:
            packages.pyodide.append(from_pyodide)
            continue
        if dist is None:
            continue  # recorded by an earlier build, since uninstalled: nothing to ship
        if not need.direct and need.required_by is None:
            # loaded on the side at build time (an optional accelerator, a package's own
            # import): the page installs wheels for what a cell's code imports, so it would
            # never install this one
            continue
        try:
            wheel = cached_wheel(dist, cache)
        except NotShippable as exc:
            packages.unavailable[name] = str(exc)
            _warn(diagnostics, name, str(exc), need)
            continue
        packages.shipped.append(wheel)
        wanted = requirements(dist)
        packages.requires[key] = [canonical(r) for r in wanted]
        todo.extend((r, Need(need.path, need.line, required_by=name)) for r in wanted)
    # a requirement answered by Pyodide is named by the lock's name, which the page loads
    for key, names in packages.requires.items():
        packages.requires[key] = [_lock_name(index, n) for n in names]
    packages.pyodide = sorted(set(packages.pyodide))
    packages.shipped.sort(key=lambda w: canonical(w.name))
    return packages


def _lock_name(index: PyodideIndex, name: str) -> str:
    return index.provides(name, ()) or name


def _modules(dist: metadata.Distribution | None) -> tuple[str, ...]:
    if dist is None:
        return ()
    from .wheels import top_level

    try:
        return top_level(dist)
    except NotShippable:
        return ()


def _warn(diagnostics: Diagnostics, name: str, reason: str, need: Need) -> None:
    """Only what a reader would meet: a package a cell imports itself, or one a shipped
    package requires. A compiled library that some package loaded on the side at build time
    (an optional accelerator) may well not be needed in the page."""
    if need.required_by is not None:
        message = f"{need.required_by} needs {name}, which cannot be installed in the page: {reason}, and Pyodide does not distribute it"
    elif need.direct:
        message = f"{name} cannot be installed in the page: {reason}, and Pyodide does not distribute it; this cell cannot run in the page"
    else:
        return
    diagnostics.warn(message, need.path, need.line)


def write_wheels(writer: SiteWriter, packages: PagePackages) -> None:
    for wheel in packages.shipped:
        writer.write_bytes(f"{WHEELS}/{wheel.filename}", wheel.data)
