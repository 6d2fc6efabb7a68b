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
from runtime.state_codec import (
    SKIP,
    Encoded,
    NotPortable,
    encode_value,
    essay_definition,
    find_definition,
    importable,
)
from runtime.state_json import mutable_ids

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
        """Each name's entry, and the blobs written to `folder` (the values and their parts).
        Names whose values share a mutable object (`params = [W, b]` beside `W`) are written
        together, as one value the page reads once, so they stay one object there."""
        cells = [(i, *self.cells[i]) for i in sorted(self.cells)]
        entries: dict[str, Entry] = {}
        data: dict[str, Any] = {}
        for name, value in namespace.items():
            if name in SKIP or name.startswith("__"):
                continue
            found = describe_definition(name, value, self.filename, cells)
            if found is None:
                data[name] = value
            else:
                entries[name] = found
        for group in sharing(data):
            if len(group) == 1:
                entries[group[0]] = describe(group[0], data[group[0]], namespace, self.filename, cells)
            else:
                entries.update(describe_group(group, data, namespace))
        blobs: list[str] = []
        written: set[str] = set()
        for entry in entries.values():
            encoded = entry.pop("encoded", None)
            if encoded is None or encoded.digest in written:
                continue
            written.add(encoded.digest)
            for digest, blob in [(encoded.digest, encoded.data), *encoded.parts.items()]:
                put_blob(folder, blob, digest)
                if digest not in blobs:
                    blobs.append(digest)
        return {name: entries[name] for name in namespace if name in entries}, blobs


def sharing(values: dict[str, Any]) -> list[list[str]]:
    """The names, in groups whose values share a mutable object (each name in one group;
    a value that cannot travel is a group of its own, to be refused on its own)."""
    owner: dict[int, str] = {}  # a mutable object's id -> the first name found holding it
    parent = {name: name for name in values}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for name, value in values.items():
        try:
            ids = mutable_ids(value)
        except NotPortable:
            continue
        for key in ids:
            first = owner.setdefault(key, name)
            if root(first) != root(name):
                parent[root(name)] = root(first)
    groups: dict[str, list[str]] = {}
    for name in values:
        groups.setdefault(root(name), []).append(name)
    return list(groups.values())


def describe_group(names: list[str], values: dict[str, Any], namespace: dict[str, Any]) -> dict[str, Entry]:
    """The entries of names that share objects: one value (a dict of them) that each names
    its `member` of; when it cannot travel, every name is lost, with its own reason or the
    reason of the name it shares with."""
    try:
        encoded = encode_value({n: values[n] for n in names}, namespace, content_name)
    except NotPortable:
        reasons: dict[str, str] = {}
        for name in names:
            try:
                encode_value(values[name], namespace, content_name)
            except NotPortable as exc:
                reasons[name] = str(exc)
        blamed = next(iter(reasons), names[0])
        return {
            name: {
                "kind": "lost",
                "reason": reasons.get(name) or f"it shares an object with `{blamed}`: {reasons.get(blamed, '')}",
            }
            for name in names
        }
    return {name: _data_entry(encoded) | {"member": name} for name in names}


def describe_definition(name: str, value: Any, filename: str, cells: list[tuple[int, int, str]]) -> Entry | None:
    """The entry of a module, an essay's definition or a library's name; None: a data value."""
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
    return None


def _data_entry(encoded: Encoded) -> Entry:
    entry: Entry = {"kind": encoded.kind, "digest": encoded.digest, "size": encoded.size, "encoded": encoded}
    if encoded.parts:
        entry["parts"] = sorted(encoded.parts)
    if encoded.needs:
        entry["needs"] = encoded.needs
    if encoded.modules:
        entry["modules"] = encoded.modules
    if encoded.scalar:
        entry["scalar"] = True
    return entry


def describe(
    name: str, value: Any, namespace: dict[str, Any], filename: str, cells: list[tuple[int, int, str]]
) -> Entry:
    """One name's entry, on its own: how the page gets its value back, or why it cannot."""
    found = describe_definition(name, value, filename, cells)
    if found is not None:
        return found
    try:
        encoded = encode_value(value, namespace, content_name)
    except NotPortable as exc:
        return {"kind": "lost", "reason": str(exc)}
    return _data_entry(encoded)
