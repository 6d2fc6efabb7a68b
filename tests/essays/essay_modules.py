"""Essays' exported modules, for tests that run an essay's cells in-process.

A cell written `<script data-export>` also goes into its essay's module (named by the front
matter's `module:`, or the file's slug without its number), which later essays import. The
build makes those modules; in-process tests make them here, the same way: the export cells'
sources in order, run in one fresh module namespace with the essays folder as working
directory."""

from __future__ import annotations

import os
import re
import sys
import types
from pathlib import Path

from builder.parse import parse_essay

ESSAYS = Path(__file__).resolve().parents[2] / "essays"


def module_name(path: Path) -> str:
    """`01-bigram.md` -> `bigram` (the front matter's `module:` wins when there is one)."""
    text = path.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    if match:
        named = re.search(r"^module:\s*(\S+)\s*$", match.group(1), re.M)
        if named:
            return named.group(1).strip("\"'")
    return re.sub(r"^\d+-", "", path.stem)


def load(path: Path) -> types.ModuleType:
    """Build the essay's module from its export cells and put it in sys.modules."""
    name = module_name(path)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    cwd = os.getcwd()
    os.chdir(path.parent)
    sys.modules[name] = module
    try:
        for cell in parse_essay(path).cells:
            if "data-export" in cell.attrs:
                source = "\n" * (cell.line - 1) + cell.source
                exec(compile(source, str(path), "exec"), module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    finally:
        os.chdir(cwd)
    return module


def load_series(*stems: str) -> dict[str, types.ModuleType]:
    """The modules of the named essays, in order (each may import the ones before it)."""
    modules = {}
    for stem in stems:
        module = load(ESSAYS / f"{stem}.md")
        modules[module.__name__] = module
    return modules
