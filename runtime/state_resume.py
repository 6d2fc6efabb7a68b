"""The page starts from the build's state (Pyodide; the Node test runs it too).

A reader runs cell k while no cell above it has run in the page. Rather than run cells
1..k-1 again, the page asks plan() for the latest boundary b (the state after cell b, as
builder/state.py's manifest describes it) from which the cells b+1.. can run: every name
they read that the boundary holds must come back (a value the build shipped, a module to
import, a definition to run again). The page fetches the plan's files into `folder`, then
restore() makes the namespace; cells b+1..k-1, when any, run as usual. Boundaries after a
cell the reader edited are never used: its edit would be lost.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
from typing import Any

from .analysis import global_reads
from .page import kernel
from .state_codec import decode_json, load_npy

DATA = ("json", "npy")
MANIFEST_VERSION = 2  # builder/state.py's: values as typed JSON


def needed_names(sources: list[str]) -> set[str] | None:
    """The names cells (in order) read before they bind them themselves; None when a
    cell does not parse (then any name may be read)."""
    needed: set[str] = set()
    bound: set[str] = set()
    for source in sources:
        found = global_reads(source)
        if found is None:
            return None
        reads, binds = found
        needed |= reads - bound
        bound |= binds
    return needed


def _cells(start: int, end: int) -> str:
    return f"cell {start}" if start == end else f"cells {start}–{end}"


def _check(manifest: dict[str, Any], b: int, sources: list[str]) -> tuple[dict[str, Any] | None, str | None]:
    """(the plan from boundary b, None) or (None, why it cannot serve)."""
    names = manifest["boundaries"][b - 1] if b - 1 < len(manifest["boundaries"]) else None
    if names is None:
        return None, f"the build kept no state after cell {b}"
    entries = manifest["entries"]
    wanted = needed_names(sources[b:])
    todo = sorted(set(names) if wanted is None else wanted & set(names))
    chosen: dict[str, dict[str, Any]] = {}
    while todo:
        name = todo.pop()
        if name in chosen:
            continue
        entry = entries[names[name]]
        kind = entry["kind"]
        if kind == "lost":
            return None, f"`{name}` ({entry['reason']}) cannot be restored"
        if kind in DATA and not entry.get("shipped"):
            return None, f"`{name}` is not shipped: {entry.get('why', 'it was left out')}"
        chosen[name] = entry
        more = entry.get("reads", []) if kind == "def" else entry.get("needs", [])
        todo.extend(n for n in more if n in names and n not in chosen)
    values = {n: e for n, e in chosen.items() if e["kind"] in DATA}
    files = sorted({f for e in values.values() for f in [e["file"], *e.get("parts", [])]})
    exported = sorted({m for e in values.values() for m in e.get("modules", [])})
    imports = sorted(
        {e["module"] for e in chosen.values() if e["kind"] in ("module", "import")}
        | ({"numpy"} if any(f.endswith(".npy") for f in files) else set())
        | set(exported)
    )
    plan = {
        "boundary": b,
        "entries": chosen,
        "files": files,
        "bytes": sum(int(e["size"]) for e in values.values()),
        "values": len(values),
        # what the page loads first (its package loader reads imports from code)
        "packages_code": "\n".join(
            [f"import {m}" for m in imports]
            + [e["source"] for e in chosen.values() if e["kind"] == "def"]
            # the essays' modules among them: what those import is loaded too
            + _module_texts(imports)
        ),
    }
    return plan, None


def _module_texts(names: list[str]) -> list[str]:
    """The text of the essays' modules `names`, and of the essays' modules they import, as
    the page has them on sys.path (the package loader reads imports from code)."""
    from .analysis import imported_modules
    from .imports import exported_modules

    exported = exported_modules()
    texts: list[str] = []
    todo, done = list(names), set()
    while todo:
        name = todo.pop()
        if name in done or name not in exported:
            continue
        done.add(name)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        with open(spec.origin, encoding="utf-8") as file:
            text = file.read()
        texts.append(text)
        todo.extend(sorted(imported_modules(text)))
    return texts


def plan(manifest_text: str, sources_json: str, latest: int) -> str:
    """JSON: the plan from the latest boundary b <= `latest` that serves the cells after
    it (`sources`: every cell's code as the page has it now), with "why" saying why
    `latest` itself could not when an earlier one serves; or {"boundary": 0, "why": ...}."""
    manifest = json.loads(manifest_text)
    sources = json.loads(sources_json)
    if manifest.get("version") != MANIFEST_VERSION:
        return json.dumps({"boundary": 0, "why": "the build's state is of another version than the page's"})
    first_why: str | None = None
    for b in range(min(latest, len(sources)), 0, -1):
        found, why = _check(manifest, b, sources)
        if found is not None:
            found["why"] = first_why
            return json.dumps(found)
        first_why = first_why or why
    return json.dumps({"boundary": 0, "why": first_why or "no state was kept before this cell"})


def restore(plan_json: str, folder: str) -> str:
    """Make the kernel's namespace the plan's (files already in `folder`): modules and
    imports, data, definitions (in the essay's order), then data that refers to them. The
    namespace is replaced only when all of it came back. JSON: {"values", "definitions"}."""
    got = json.loads(plan_json)
    entries: dict[str, dict[str, Any]] = got["entries"]
    k = kernel()
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": k.namespace["__builtins__"]}

    def read(name: str) -> bytes:
        with open(os.path.join(folder, name), "rb") as f:
            return f.read()

    groups: dict[str, Any] = {}  # a file that several names share, read once: they stay one object

    def load(entry: dict[str, Any]) -> Any:
        if entry["kind"] == "npy":
            return load_npy(read(entry["file"]), bool(entry.get("scalar")))
        if "member" in entry:
            if entry["file"] not in groups:
                groups[entry["file"]] = decode_json(read(entry["file"]), namespace, lambda d: read(f"{d}.npy"))
            return groups[entry["file"]][entry["member"]]
        return decode_json(read(entry["file"]), namespace, lambda digest: read(f"{digest}.npy"))

    for name, entry in entries.items():
        if entry["kind"] == "module":
            namespace[name] = importlib.import_module(entry["module"])
        elif entry["kind"] == "import":
            found: Any = importlib.import_module(entry["module"])
            for part in entry["name"].split("."):
                found = getattr(found, part)
            namespace[name] = found
    later = []
    for name, entry in entries.items():
        if entry["kind"] in DATA:
            if entry.get("needs"):
                later.append(name)
            else:
                namespace[name] = load(entry)
    definitions = sorted((e["cell"], e["offset"], n) for n, e in entries.items() if e["kind"] == "def")
    for cell, offset, name in definitions:
        source = entries[name]["source"]
        label = f"cell {cell + 1}"
        # tracebacks through a restored function name its cell and quote its line
        k.remember_source(source, label, offset)
        tree = ast.parse(source, filename=label)
        ast.increment_lineno(tree, offset - 1)
        exec(compile(tree, label, "exec"), namespace)
    for name in later:
        namespace[name] = load(entries[name])
    k.namespace = namespace
    return json.dumps({"values": got["values"], "definitions": len(definitions)})
