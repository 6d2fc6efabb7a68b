"""The state the page resumes from: each essay's manifest and values under _static/state/.

The worker recorded, after each cell, every name's portable entry (execution/state.py);
this step decides which values the site ships and writes them, once each, named by the
digest of their bytes, plus one small manifest per essay (`_static/state/<slug>.json`):

    {"version": 1,
     "entries": [{"kind": "json", "file": "<digest>.json", "size": 41000, "shipped": true,
                  ...}, {"kind": "def", "source": "def f(x): ...", ...}, ...],
     "boundaries": [{"name": <index into entries>, ...}, null, ...]}

`boundaries[i]` is the state after cell i + 1 (null: none was recorded, as after a cell
that timed out). The page (runtime/state_resume.py) reads it when a reader runs a cell
whose cells above have not run in the page.

Download or recompute, per value. A value is shipped when fetching it is cheaper than
making it again in the page: at DOWNLOAD_BYTES_PER_SECOND (2 MB/s) against PAGE_SLOWDOWN
(3) times the build's time for the cell that made it. Values under SMALL_BYTES always
travel (one request; recomputing means running cells). The shipped values of an essay stay
within its budget (essays.toml's `state_budget`, a front matter's `state-budget`; default
DEFAULT_BUDGET), the dearest to recompute per byte first, each value's time weighed by the
number of boundaries that hold it. A value left out is recomputed:
the page starts from an earlier boundary that does not need it, and runs the cells between.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import shown
from .records import CellResult, EssayBuild

DOWNLOAD_BYTES_PER_SECOND = 2_000_000  # a modest connection
PAGE_SLOWDOWN = 3.0  # Pyodide runs pure Python about this many times slower than CPython
SMALL_BYTES = 100_000  # under this, a value always travels
DEFAULT_BUDGET = 20_000_000
MANIFEST_VERSION = 2  # 2: values as typed JSON (runtime/state_json.py), no pickles
STATE = "_static/state"
DATA = ("json", "npy")  # the kinds whose value is a file of its own
KINDS = frozenset([*DATA, "module", "import", "def", "lost"])


@dataclass
class StateCost:
    """What an essay's shipped state costs: distinct values and their bytes, and the
    values left to recompute because of the budget."""

    values: int = 0
    bytes: int = 0
    over_budget: int = 0

    def __str__(self) -> str:
        shipped = f"{self.values} value{'' if self.values == 1 else 's'}, {human_bytes(self.bytes)}"
        if self.over_budget:  # the page recomputes these: recomputing was cheaper than the budget's bytes
            shipped += f" ({self.over_budget} over the budget, recomputed in the page)"
        return shipped


def human_bytes(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1000:.0f} KB"
    return f"{n / 1_000_000:.1f} MB"


def parse_budget(text: str) -> int | None:
    """ "20 MB", "500 KB", "0", "1000000" -> bytes; None when it is none of these."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?\s*", text, re.IGNORECASE)
    if match is None:
        return None
    unit = {"": 1, "B": 1, "KB": 1000, "MB": 1_000_000, "GB": 1_000_000_000}[(match.group(2) or "").upper()]
    return int(float(match.group(1)) * unit)


def worth_shipping(size: int, seconds: float) -> bool:
    """The cost model: download time against the page's time to make the value again."""
    return size <= SMALL_BYTES or size / DOWNLOAD_BYTES_PER_SECOND <= PAGE_SLOWDOWN * seconds


@dataclass
class Plan:
    """An essay's manifest, and the files (digest, extension) it ships."""

    manifest: dict[str, Any]
    files: list[tuple[str, str]]
    cost: StateCost


def unpublished_read(result: CellResult, published: set[str] | None) -> str | None:
    """What a cell read that the site does not publish (a file beside the essays that is
    not an asset, a file outside them, an environment variable), in words; None: nothing.
    `published`: the assets' paths (None: every file in the essays folder counts as one)."""
    depends = result.depends
    if depends is None:
        return None
    # the essays themselves are published (as pages): a traceback's look at one is no secret
    hidden = [f for f in depends.local if published is not None and f not in published and not f.endswith(".md")]
    things = [*hidden, *depends.files, *(f"${name}" for name in depends.environ)]
    return ", ".join(things[:3]) + (" and more" if len(things) > 3 else "") if things else None


@dataclass
class _Seen:
    """What an essay's boundaries hold, each entry once, and what is known of each value."""

    entries: list[dict[str, Any]]
    boundaries: list[dict[str, int] | None]
    made: dict[str, float]  # a value's digest -> the build's seconds for the cell that made it
    sizes: dict[str, int]
    withheld: dict[str, str]  # a value's digest -> why it is never published
    held: dict[str, int]  # a value's digest -> how many boundaries hold it


def _collect(results: list[CellResult], published: set[str] | None) -> _Seen:
    seen = _Seen([], [], {}, {}, {}, {})
    places: dict[str, int] = {}  # an entry's JSON -> its place in seen.entries
    secret: str | None = None  # once a cell read what the site does not publish
    for number, result in enumerate(results, start=1):
        if secret is None and (read := unpublished_read(result, published)) is not None:
            secret = f"made after cell {number} read {read}, which the site does not publish"
        if result.state is None:
            seen.boundaries.append(None)
            continue
        names: dict[str, int] = {}
        counted: set[str] = set()
        for name, raw in sorted(result.state.items()):
            entry: dict[str, Any] = dict(raw)
            if entry["kind"] not in KINDS:
                # a kind this build does not write (an older cache's "pickle"): never
                # published, and a name the page cannot restore
                entry = {"kind": "lost", "reason": f"recorded in a form this build no longer ships ({entry['kind']})"}
            if entry["kind"] in DATA:
                digest = str(entry["digest"])
                if digest not in seen.made and secret is not None:
                    seen.withheld[digest] = secret
                seen.made.setdefault(digest, result.seconds)
                if digest not in counted:  # once per boundary, though several names share it
                    counted.add(digest)
                    seen.held[digest] = seen.held.get(digest, 0) + 1
                seen.sizes[digest] = int(entry["size"])
            key = json.dumps(entry, sort_keys=True)
            if key not in places:
                places[key] = len(seen.entries)
                seen.entries.append(entry)
            names[name] = places[key]
        seen.boundaries.append(names)
    return seen


def _choose(seen: _Seen, budget: int) -> tuple[set[str], StateCost]:
    """The values that travel: worth it by the model, then within the budget, the dearest
    to recompute per byte first, a value's time counted once for each boundary that holds
    it: a value left out takes every such boundary away from the page (a chapter's data,
    made in its first cell and read to its end, before a late cell's by-product)."""
    made, sizes = seen.made, seen.sizes
    wanted = sorted(
        (d for d in made if d not in seen.withheld and worth_shipping(sizes[d], made[d])),
        key=lambda d: (sizes[d] > SMALL_BYTES, -made[d] * seen.held[d] / max(sizes[d], 1), d),
    )
    shipped: set[str] = set()
    cost = StateCost()
    for digest in wanted:
        if cost.bytes + sizes[digest] <= budget:
            shipped.add(digest)
            cost.bytes += sizes[digest]
            cost.values += 1
        else:
            cost.over_budget += 1
    return shipped, cost


def plan_state(results: list[CellResult], budget: int, published: set[str] | None = None) -> Plan | None:
    """The manifest for an essay's results; None when no boundary was recorded. A value
    first seen after a cell that read what the site does not publish is never shipped: it
    may carry a secret (a token read from credentials.txt) into the page."""
    if not any(r.state is not None for r in results):
        return None
    seen = _collect(results, published)
    shipped, cost = _choose(seen, budget)
    files: list[tuple[str, str]] = []
    for entry in seen.entries:
        if entry["kind"] not in DATA:
            continue
        digest = str(entry.pop("digest"))
        ext = entry["kind"]  # "json" or "npy": the file's own extension
        entry["file"] = f"{digest}.{ext}"
        parts = [str(p) for p in entry.get("parts", [])]
        entry["parts"] = [f"{p}.npy" for p in parts]
        entry["shipped"] = digest in shipped
        if digest in shipped:
            files.append((digest, ext))
            files.extend((p, "npy") for p in parts)
        elif digest in seen.withheld:
            entry["why"] = seen.withheld[digest]
        elif worth_shipping(seen.sizes[digest], seen.made[digest]):
            entry["why"] = "over the essay's state budget"
        else:
            # no timing in the manifest: a warm build's must be a clean build's, byte for byte
            entry["why"] = f"cheaper to recompute than to download ({human_bytes(seen.sizes[digest])})"
    manifest = {"version": MANIFEST_VERSION, "entries": seen.entries, "boundaries": seen.boundaries}
    return Plan(manifest, sorted(set(files)), cost)


def write_state(
    builds: list[EssayBuild],
    write_bytes: Callable[[str, bytes], None],
    read_blob: Callable[[str], bytes | None],
    budget_of: Callable[[EssayBuild], int],
    published: set[str] | None = None,
) -> dict[str, str]:
    """Each essay's manifest and shipped values, through `write_bytes(rel, data)`; a value
    is read once with `read_blob(digest)` (None: it is gone, and the boundaries needing it
    fall back). Returns a problem per essay whose state could not be written whole."""
    written: set[str] = set()
    problems: dict[str, str] = {}
    for b in builds:
        if b.essay is None:
            continue
        plan = plan_state(b.results, budget_of(b), published)
        b.state_cost = plan.cost if plan is not None else None
        if plan is None:
            continue
        missing: set[str] = set()
        for digest, ext in plan.files:
            name = f"{digest}.{ext}"
            if name in written:
                continue
            data = read_blob(digest)
            if data is None:
                missing.add(name)
                continue
            write_bytes(f"{STATE}/{name}", data)
            written.add(name)
        for entry in plan.manifest["entries"]:
            if entry.get("file") in missing or set(entry.get("parts", [])) & missing:
                entry["shipped"] = False
                entry["why"] = "its value was missing from the cache"
        if missing:
            problems[shown(b.source)] = f"{len(missing)} value(s) of its state were missing and are recomputed"
        text = json.dumps(plan.manifest, separators=(",", ":"), sort_keys=True)
        write_bytes(f"{STATE}/{b.essay.slug}.json", text.encode("utf-8"))
    return problems


def read_from(*folders: Path | None) -> Callable[[str], bytes | None]:
    """A blob reader over the folders execution/state.py wrote the values in."""
    from .cache.store import Corrupt, get_blob

    def read(digest: str) -> bytes | None:
        for folder in folders:
            if folder is None:
                continue
            try:
                return bytes(get_blob(folder, digest))
            except (OSError, Corrupt):  # absent, or a cache that is no folder (blocked)
                continue
        return None

    return read
