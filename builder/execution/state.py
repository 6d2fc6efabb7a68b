"""The portable state after a cell, recorded in the worker (runtime/state_codec.py's forms).

Every name of the namespace is described after each cell, not only those the build's later
cells read: what a boundary holds then depends on the cells up to it alone, so it is
stored with the cell's cache entry and a warm build publishes what a clean one does. The
page fetches only what its reader's run needs. Values are written as blobs of the cache's
store, named by the digest of their bytes (store.content_name), so a value that many cells
keep unchanged is one file.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

from builder.cache.store import content_name, put_blob
from runtime.state_codec import SKIP, NotPortable, encode_value, essay_definition, find_definition, importable

Entry = dict[str, Any]  # JSON-able: {"kind": ..., ...}; see describe()


class StateRecorder:
    """What the worker knows of the cells that ran in its kernel: their code, for the def
    and class statements a boundary re-creates."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.cells: dict[int, tuple[int, str]] = {}  # index -> (first essay line, source)

    def add(self, index: int, line: int, source: str) -> None:
        self.cells[index] = (line, source)

    def record(self, namespace: dict[str, Any], folder: Path) -> tuple[dict[str, Entry], list[str]]:
        """Each name's entry, and the blobs written to `folder` (the values and their parts)."""
        cells = [(i, *self.cells[i]) for i in sorted(self.cells)]
        entries: dict[str, Entry] = {}
        blobs: list[str] = []
        for name, value in namespace.items():
            if name in SKIP or name.startswith("__"):
                continue
            entry = describe(name, value, namespace, self.filename, cells)
            if entry["kind"] in ("json", "npy"):
                encoded = entry.pop("encoded")
                for digest, data in [(encoded.digest, encoded.data), *encoded.parts.items()]:
                    put_blob(folder, data, digest)
                    if digest not in blobs:
                        blobs.append(digest)
            entries[name] = entry
        return entries, blobs


def describe(
    name: str, value: Any, namespace: dict[str, Any], filename: str, cells: list[tuple[int, int, str]]
) -> Entry:
    """One name's entry: how the page gets its value back, or why it cannot."""
    if isinstance(value, types.ModuleType):
        return {"kind": "module", "module": value.__name__}
    if isinstance(value, (types.FunctionType, type)) and essay_definition(value, filename):
        if value.__qualname__ != name and isinstance(value, types.FunctionType):
            return {
                "kind": "lost",
                "reason": "a closure made by a call" if "<locals>" in value.__qualname__ else "a lambda",
            }
        found = find_definition(value.__name__, value, cells) if value.__name__ == name else None
        if found is None:
            return {"kind": "lost", "reason": "a class made by a call" if isinstance(value, type) else "a lambda"}
        return {"kind": "def", "source": found.source, "cell": found.cell, "offset": found.offset, "reads": found.reads}
    if callable(value) and not isinstance(value, type(None)) and (where := importable(value)) is not None:
        return {"kind": "import", "module": where[0], "name": where[1]}
    try:
        encoded = encode_value(value, namespace, content_name)
    except NotPortable as exc:
        return {"kind": "lost", "reason": str(exc)}
    entry: Entry = {
        "kind": encoded.kind,
        "digest": encoded.digest,
        "size": encoded.size,
        "encoded": encoded,
    }
    if encoded.parts:
        entry["parts"] = sorted(encoded.parts)
    if encoded.needs:
        entry["needs"] = encoded.needs
    if encoded.modules:
        entry["modules"] = encoded.modules
    if encoded.scalar:
        entry["scalar"] = True
    return entry
