"""Every cache key, computed in one place from its inputs.

A cell's *content key* hashes its source and attributes chained with the content key of
the cell before it, and the digests of the other essays' modules it imports: it changes
whenever anything in the essays that the cell could depend on changes, and only then. The
*cache key* under which its outputs and snapshot are stored hashes the content key with the
build's *salt*: the cache format, the runtime's own source and Python's version, and the
files beside the essays that a cell could read.

These are pure functions of their arguments: the same inputs give the same keys whatever
order they are asked in, and nothing stores a key on a record to be rewritten later. The
page's DOM ids are not keys: pipeline/parse.py makes them from the essay alone.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.gpu_backend import shader_folder

if TYPE_CHECKING:  # the worker imports the cache's modules: no Markdown parser for it
    from builder.pipeline.parse import Cell

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"
FORMAT = 8  # bump when the layout of an entry or a key's derivation changes (8: the portable state as typed JSON, no pickles)


def content_keys(cells: Sequence[Cell], imports: Sequence[Mapping[str, str]] | None = None) -> tuple[str, ...]:
    """Each cell's content key. `imports[i]`: the other essays' modules cell i imports,
    name -> digest (pipeline/modules.py's `imported_digests`); None: the essay alone."""
    keys: list[str] = []
    previous = ""
    for i, cell in enumerate(cells):
        parts: list[object] = [previous, cell.source, sorted(cell.attrs.items())]
        used = imports[i] if imports is not None else {}
        if used:  # only when there is one: the keys of cells that import nothing stay as they were
            parts.append(",".join(f"{name}={used[name]}" for name in sorted(used)))
        previous = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]
        keys.append(previous)
    return tuple(keys)


def cache_key(salt: str, content: str) -> str:
    """The name a cell's entry and snapshot are stored under."""
    return hashlib.blake2b(f"{salt}:{content}".encode(), digest_size=16).hexdigest()


def salt(runtime: str, assets: str) -> str:
    """What every key shares: the cache format, the runtime's digest (`runtime_digest`) and
    the digest of the files a cell could read (`files_digest`)."""
    return f"{FORMAT}:{runtime}:{assets}"


def files_digest(paths: list[Path], base: Path) -> str:
    return named_digest({path.relative_to(base).as_posix(): path for path in paths})


def named_digest(files: Mapping[str, Path | Traversable]) -> str:
    """A digest of files' names and contents, in the order of their names."""
    digest = hashlib.blake2b(digest_size=16)
    for name, path in sorted(files.items()):
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def runtime_digest() -> str:
    """The kernel and display code are part of every output: a change to them is a change
    to every cell, and so is a change to the shaders. The Python version is too (repr,
    tracebacks)."""
    files: dict[str, Path | Traversable] = {path.name: path for path in RUNTIME.glob("*.py")}
    files.update({f"shaders/{p.name}": p for p in shader_folder().iterdir() if p.name.endswith(".wgsl")})
    digest = named_digest(files)
    return f"{sys.version_info[0]}.{sys.version_info[1]}-{digest}"
