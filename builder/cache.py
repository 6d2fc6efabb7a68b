"""The per-cell cache: outputs and namespace snapshots under .essays-cache/.

A cell's cache key hashes its content key (its source and attributes, chained with the cell
before it: see parse.py), the contents of the essay folder's asset files, and the
runtime's own source. So an edit of prose changes no key; an edit of cell k changes the
keys of k and every cell after it; an edit of data/names.txt changes them all.

Entries are written atomically (temporary file, then rename), so two builds at once never
leave half an entry; an entry that does not load is treated as missing.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import time
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from runtime.display import Output

from .parse import Cell
from .snapshot import atomic_write
from .static_files import asset_files
from .worker import CellResult

RUNTIME = Path(__file__).resolve().parent.parent / "runtime"
FORMAT = 3  # bump when the layout of an entry changes
GRACE = 600  # seconds: an unreferenced file younger than this may be a running build's


def files_digest(paths: list[Path], base: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(paths):
        digest.update(path.relative_to(base).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def runtime_digest() -> str:
    """The kernel and display code are part of every output: a change to them is a change
    to every cell. The Python version is too (repr, tracebacks)."""
    digest = files_digest(list(RUNTIME.glob("*.py")), RUNTIME)
    return f"{sys.version_info[0]}.{sys.version_info[1]}-{digest}"


@dataclass
class Cache:
    root: Path  # .essays-cache
    source: Path  # the essays folder, whose assets are part of every key

    @cached_property
    def salt(self) -> str:
        return f"{FORMAT}:{runtime_digest()}:{files_digest(asset_files(self.source), self.source)}"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    def key(self, cell: Cell) -> str:
        return hashlib.blake2b(f"{self.salt}:{cell.key}".encode(), digest_size=16).hexdigest()

    def _entry(self, key: str) -> Path:
        return self.root / "cells" / key[:2] / f"{key}.pickle"

    def snapshot(self, key: str) -> Path:
        return self.root / "snapshots" / key[:2] / f"{key}.pickle"

    def has_snapshot(self, key: str) -> bool:
        return self.snapshot(key).is_file()

    def usable_snapshot(self, key: str, result: CellResult | None, reads: set[str] | None) -> bool:
        """A snapshot can stand in for running the cells up to it when it exists and none
        of the cells still to run reads a name it left out (reads None: unknown)."""
        if result is None or result.lost is None or not self.has_snapshot(key):
            return False
        return not result.lost or (reads is not None and not (set(result.lost) & reads))

    def load(self, key: str) -> CellResult | None:
        """The cached result of a cell, or None when absent or unreadable."""
        try:
            with open(self._entry(key), "rb") as f:
                data = pickle.load(f)
            outputs = [Output.from_dict(o) for o in data["outputs"]]
            result = CellResult(data["status"], outputs, data["seconds"], cached=True, lost=data["lost"],
                                blobs=data["blobs"])
        except Exception:  # missing, truncated, corrupt or from an older layout
            return None
        try:
            os.utime(self._entry(key))  # recently used: pruning drops the least recently used first
        except OSError:
            pass
        return result

    def store(self, key: str, result: CellResult) -> None:
        data = {
            "status": result.status,
            "seconds": result.seconds,
            "outputs": [o.to_dict() for o in result.outputs],
            "lost": result.lost,
            "blobs": result.blobs,
        }
        atomic_write(self._entry(key), pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))

    def prune(self, live: set[str], max_bytes: int) -> int:
        """Keep the cache under `max_bytes`: drop the entries this build did not use, least
        recently used first, with their snapshots and the array blobs only they referred
        to. Files younger than GRACE that nothing refers to yet may belong to a build still
        running, and stay. Returns the bytes freed."""
        now = time.time()
        entries: dict[str, tuple[float, int, list[str]]] = {}  # key -> (mtime, bytes, blobs)
        for path in (self.root / "cells").glob("*/*.pickle"):
            key, stat = path.stem, path.stat()
            try:
                blobs = pickle.loads(path.read_bytes())["blobs"]
            except Exception:
                blobs = []
            snapshot = self.snapshot(key)
            size = stat.st_size + (snapshot.stat().st_size if snapshot.exists() else 0)
            entries[key] = (stat.st_mtime, size, blobs)
        blobs = {p.name.removesuffix(".npy"): p for p in self.blobs.glob("*.npy")}
        refs = Counter(b for _, _, used in entries.values() for b in used)
        total = sum(size for _, size, _ in entries.values()) + sum(p.stat().st_size for p in blobs.values())
        before = total
        for key in sorted((k for k in entries if k not in live), key=lambda k: entries[k][0]):
            if total <= max_bytes:
                break
            _, size, used = entries.pop(key)
            self._entry(key).unlink(missing_ok=True)
            self.snapshot(key).unlink(missing_ok=True)
            total -= size
            for digest in used:
                refs[digest] -= 1
                if refs[digest] == 0 and digest in blobs:
                    total -= blobs[digest].stat().st_size
                    blobs.pop(digest).unlink(missing_ok=True)
        for digest, path in blobs.items():  # never referred to by any entry: left by a failed run
            if refs[digest] <= 0 and now - path.stat().st_mtime > GRACE:
                total -= path.stat().st_size
                path.unlink(missing_ok=True)
        for path in (self.root / "snapshots").glob("*/*.pickle"):
            if path.stem not in entries and now - path.stat().st_mtime > GRACE:
                total -= path.stat().st_size
                path.unlink(missing_ok=True)
        return before - total
