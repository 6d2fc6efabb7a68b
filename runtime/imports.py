"""Import errors that say what the author can do: which essay exports a module, and the
close names it does export (both hosts).

The essays' exported modules are files the build writes (builder/pipeline/modules.py) into
a temporary folder on the workers' sys.path, and the page writes into Pyodide's. Each starts
with MODULE_HEADER, which names its essay, so the kernel finds them by reading sys.path
alone, in either host, without being told.
"""

from __future__ import annotations

import difflib
import os
import re
import sys

MODULE_HEADER = "# The exported cells of {source}, written by `essays build`: edit the essay, not this file.\n"
_HEADER = re.compile(r"# The exported cells of (.+?), written by `essays build`")
_CANNOT = re.compile(r"cannot import name '([^']+)' from '([^']+)'(?: \([^)]*\))?")
_LIBRARIES = ("site-packages", "dist-packages")


def exported_modules() -> dict[str, str]:
    """The essays' modules on sys.path: module name -> the essay file that exports it."""
    found: dict[str, str] = {}
    for folder in sys.path:
        if not folder or any(part in folder for part in _LIBRARIES) or not os.path.isdir(folder):
            continue
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if not name.endswith(".py") or name[:-3] in found:
                continue
            try:
                with open(os.path.join(folder, name), encoding="utf-8") as file:
                    first = file.readline()
            except (OSError, UnicodeDecodeError):
                continue
            match = _HEADER.match(first)
            if match:
                found[name[:-3]] = match.group(1)
    return found


def _close(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f": did you mean {close[0]!r}?" if close else ""


def import_hint(exc: ImportError, message: str) -> str:
    """`message` (the exception's own text) made to say what to do, for an import from an
    essay's module: the essay that exports it instead of a temporary file's name, and the
    closest name it offers; for a module that is not found, the modules the essays export."""
    cannot = _CANNOT.fullmatch(message)
    if cannot is not None:
        name, module = cannot.groups()
        exported = exported_modules()
        offered = [n for n in dir(sys.modules[module]) if not n.startswith("_")] if module in sys.modules else []
        if module in exported:
            where = f"the module of {exported[module]}"
            return f"cannot import name {name!r} from {module!r} ({where}){_close(name, offered)}"
        return message + _close(name, offered)
    if isinstance(exc, ModuleNotFoundError) and exc.name and "." not in exc.name:
        exported = exported_modules()
        if not exported:
            return message
        listed = ", ".join(f"{m} from {essay}" for m, essay in sorted(exported.items()))
        return f"{message}{_close(exc.name, sorted(exported))} (the essays export {listed})"
    return message
