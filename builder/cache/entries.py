"""The per-cell cache: outputs and namespace snapshots under .essays-cache/.

A cell's cache key hashes its content key (its source and attributes, chained with the cell
before it, and the modules it imports), the contents of the essay folder's asset files, and
the runtime's own source: keys.py computes them. So an edit of prose changes no key; an
edit of cell k changes the keys of k and every cell after it; an edit of data/names.txt
changes them all.

Entries are written atomically (temporary file, then rename), so two builds at once never
leave half an entry; an entry that does not load is treated as missing. Every entry,
snapshot and blob carries a digest of its content, checked on load: a corrupt one is a
miss (its cell runs again), never a published value. Blobs (big arrays, and values kept
through many cells: see snapshot.py) are stored once by content and shared by every
snapshot that refers to them. A cache that cannot be written costs
speed only: cells run, pages are right, and one warning says why.
"""

from __future__ import annotations

import json
import os
import pickle
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from builder.paths import shown, source_files
from builder.records import CellResult
from runtime.display import Output

from . import keys
from .depends import Depends
from .places import Places, relocate_text
from .remote import Remote
from .store import BLOB_SUFFIX, TEMP_PREFIX, Corrupt, atomic_write, read_packed, write_packed

if TYPE_CHECKING:
    from builder.diagnostics import Diagnostics

GRACE = 600  # seconds: an unreferenced file younger than this may be a running build's


@dataclass
class Cache:
    root: Path  # .essays-cache
    source: Path  # the essays folder, whose assets are part of every key
    # a cache shared through fsspec (remote.py): `root` is then its local read-through copy
    remote: Remote | None = None
    # what every key shares (keys.salt), read once when the cache is opened: the files this
    # build's cells then write do not move the keys of a build under way
    salt: str = field(init=False)
    # why the cache cannot be written, once known: then no cell is snapshotted or stored
    unwritable: str | None = field(default=None, init=False)
    # why the shared store failed, once known: the build then keeps to the local copy
    remote_error: str | None = field(default=None, init=False)
    _corrupt: list[str] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def writable(self) -> bool:
        return self.unwritable is None

    def write_failed(self, why: str) -> None:
        """Saving went wrong (read-only, full): stop trying; said once, in warnings()."""
        with self._lock:
            if self.unwritable is None:
                self.unwritable = why

    def found_corrupt(self, what: str) -> None:
        with self._lock:
            self._corrupt.append(what)

    def corrupt_found(self) -> list[str]:
        with self._lock:
            return list(self._corrupt)

    def report(self, diagnostics: Diagnostics) -> None:
        """What went wrong with the cache (it costs speed, never outputs), as warnings."""
        if self.unwritable is not None:
            diagnostics.warn(
                f"the cache in {shown(self.root)} cannot be written ({self.unwritable}): every cell ran "
                "and the pages are right, but the next build cannot reuse this one's work"
            )
        if self.remote is not None and self.remote_error is not None:
            diagnostics.warn(
                f"the shared cache {self.remote.url} failed ({self.remote_error}): this build kept to "
                f"its local copy in {shown(self.root)}"
            )
        if self._corrupt:
            n = len(self._corrupt)
            diagnostics.warn(
                f"{n} corrupt cache {'entry was' if n == 1 else 'entries were'} ignored and "
                f"the cells ran again (first: {self._corrupt[0]})"
            )

    def __post_init__(self) -> None:
        # files the cells wrote are outputs, not inputs: a figure saved with a date in it
        # must not change every key, and so run every cell, on the next build
        made = self.generated()
        # every file a cell can read, published or not (a top-level helper.py is not)
        assets = [p for p in source_files(self.source) if p.relative_to(self.source).as_posix() not in made]
        self.salt = keys.salt(keys.runtime_digest(), keys.files_digest(assets, self.source))

    @property
    def _generated_list(self) -> Path:
        return self.root / "generated.json"

    def generated(self) -> set[str]:
        """The files in the essays folder (relative paths) that the last build's cells wrote."""
        try:
            return set(json.loads(self._generated_list.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return set()

    def record_generated(self, paths: set[str]) -> None:
        if not self.writable or paths == self.generated():
            return
        try:
            atomic_write(self._generated_list, json.dumps(sorted(paths), indent=1).encode())
        except OSError as exc:
            self.write_failed(exc.strerror or str(exc))

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def state(self) -> Path:
        """The portable state's values (execution/state.py), blobs of their own: the page's
        files, apart from the snapshots' (pruned alike, by the entries that list them)."""
        return self.root / "state"

    def key(self, content: str) -> str:
        """The key a cell is stored under, from its content key (keys.content_keys)."""
        return keys.cache_key(self.salt, content)

    def _entry(self, key: str) -> Path:
        return self.root / "cells" / key[:2] / f"{key}.pickle"

    def snapshot(self, key: str) -> Path:
        return self.root / "snapshots" / key[:2] / f"{key}.pickle"

    def has_snapshot(self, key: str) -> bool:
        return self.snapshot(key).is_file()

    def usable_snapshot(self, key: str, result: CellResult | None, reads: set[str] | None) -> bool:
        """A snapshot can stand in for running the cells up to it when it exists and none
        of the cells still to run reads a name it left out (reads None: unknown)."""
        if result is None or result.lost is None:
            return False
        if self.remote is not None and not self.has_snapshot(key):
            self._pull_snapshot(key, result.blobs)
        if not self.has_snapshot(key):
            return False
        return not result.lost or (reads is not None and not (set(result.lost) & reads))

    def load(self, key: str, places: Places | None = None) -> CellResult | None:
        """The cached result of a cell, or None when absent or unreadable. `places`: where
        the cells up to this one are now; positions in its outputs are moved there."""
        path = self._entry(key)
        if self.remote is not None and not path.is_file():
            self._pull(path)
        try:
            data = pickle.loads(read_packed(path, f"the entry {path.name}"))
            outputs = [Output.from_dict(o) for o in data["outputs"]]
            if places is not None and data["places"] is not None:
                outputs = relocate(outputs, Places.from_json(data["places"]), places)
            result = CellResult(
                data["status"],
                outputs,
                data["seconds"],
                cached=True,
                lost=data["lost"],
                blobs=data["blobs"],
                depends=Depends(**data["depends"]) if data["depends"] is not None else None,
                state=data.get("state"),
                state_blobs=data.get("state_blobs", []),
            )
        except FileNotFoundError:
            return None
        except Corrupt as exc:
            self.found_corrupt(str(exc))
            return None
        except Exception:  # unreadable or from an older layout
            return None
        try:
            os.utime(self._entry(key))  # recently used: pruning drops the least recently used first
        except OSError:
            pass
        return result

    def store(self, key: str, result: CellResult, places: Places | None = None) -> None:
        """Keep a cell's result; `places`: where the cells up to it were when it ran."""
        if not self.writable:
            return
        data = {
            "places": places.to_json() if places is not None else None,
            "depends": asdict(result.depends) if result.depends is not None else None,
            "status": result.status,
            "seconds": result.seconds,
            "outputs": [o.to_dict() for o in result.outputs],
            "lost": result.lost,
            "blobs": result.blobs,
            # the portable state after the cell (execution/state.py) and its values' blobs
            "state": result.state,
            "state_blobs": result.state_blobs,
        }
        try:
            write_packed(self._entry(key), pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError as exc:
            self.write_failed(exc.strerror or str(exc))
            return
        if self.remote is not None:
            self._push(key, result.blobs, result.state_blobs)

    def forget(self, keys: list[str]) -> None:
        """Drop these cells' entries and snapshots (`--verify` found them stale): their
        cells run again next time. Blobs stay until pruning finds them unreferenced."""
        if not self.writable:
            return
        try:
            for key in keys:
                self._entry(key).unlink(missing_ok=True)
                self.snapshot(key).unlink(missing_ok=True)
        except OSError as exc:
            self.write_failed(exc.strerror or str(exc))
        # --verify proved these wrong for every reader: the shared entry goes too, or the
        # next build would fetch it again (its snapshot and blobs are harmless without it)
        for key in keys if self.remote is not None else []:
            self._remote_call(self._relative(self._entry(key)), lambda rel: self._remote().remove(rel))

    # -- the shared cache (remote.py) ---------------------------------------------------

    def _remote(self) -> Remote:
        assert self.remote is not None
        return self.remote

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _remote_call(self, relative: str, call: Callable[[str], object]) -> object:
        """`call(relative)` on the shared store; a failure (the network, permissions) costs
        speed only: it is said once, in report(), and the build goes on with its local copy."""
        try:
            return call(relative)
        except Corrupt as exc:
            self.found_corrupt(str(exc))
        except Exception as exc:
            with self._lock:
                if self.remote_error is None:
                    self.remote_error = f"{relative}: {exc}"
        return None

    def _pull(self, path: Path) -> bool:
        """Copy a file of the shared store into the local copy, checked; whether it came."""
        return bool(self._remote_call(self._relative(path), lambda rel: self._remote().fetch(rel, path)))

    def has_blob(self, name: str) -> bool:
        """A blob is in the local copy, fetched from the shared store when it was missing
        (the portable state's values, which only the site's writing needs)."""
        path = self.state / f"{name}{BLOB_SUFFIX}"
        return path.is_file() or (self.remote is not None and self._pull(path))

    def _pull_snapshot(self, key: str, blobs: list[str]) -> None:
        """A snapshot and the blobs it refers to, fetched only when a build is about to
        restore it: a build that runs no cell fetches entries alone."""
        for name in blobs:
            blob = self.blobs / f"{name}{BLOB_SUFFIX}"
            if not blob.is_file() and not self._pull(blob):
                return  # the snapshot cannot load without it: leave it absent
        self._pull(self.snapshot(key))

    def _push(self, key: str, blobs: list[str], state: list[str] | None = None) -> None:
        """Upload an entry after the blobs and snapshot it refers to: a reader that finds
        the entry finds its parts. Parts already there are not sent again."""
        if self.remote_error is not None:
            return  # the store refused once: the rest of the build keeps to its local copy
        parts = [self.blobs / f"{name}{BLOB_SUFFIX}" for name in blobs]
        parts += [self.state / f"{name}{BLOB_SUFFIX}" for name in state or []]
        parts += [self.snapshot(key)] if self.has_snapshot(key) else []
        remote = self._remote()
        for path in [*parts, self._entry(key)]:
            if path.is_file():
                self._remote_call(self._relative(path), partial(remote.push, source=path))

    def __getstate__(self) -> dict[str, object]:
        # a Dask task carries the cache to its worker: the lock stays here, and what the
        # worker finds (corrupt files, a refusal to write) comes back with the results
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def prune(self, live: set[str], max_bytes: int) -> int:
        """Prune (see _prune); a cache that cannot be written is left as it is. Only the
        local copy is pruned: a shared store is never pruned by a build."""
        if not self.writable:
            return 0
        try:
            return self._prune(live, max_bytes)
        except FileNotFoundError:  # another build pruned the same file first
            return 0
        except OSError as exc:
            self.write_failed(exc.strerror or str(exc))
            return 0

    def _prune(self, live: set[str], max_bytes: int) -> int:
        """Keep the cache under `max_bytes`: drop the entries this build did not use, least
        recently used first, with their snapshots and the blobs only they referred to.
        Files younger than GRACE that nothing refers to yet may belong to a build still
        running, and stay; so do temporary files of writes under way. Returns the bytes
        freed."""
        now = time.time()

        def old(path: Path) -> bool:
            return now - path.stat().st_mtime > GRACE

        entries: dict[str, tuple[float, int, list[str]]] = {}  # key -> (mtime, bytes, blobs)
        for path in (self.root / "cells").glob("*/*.pickle"):
            key, stat = path.stem, path.stat()
            try:
                data = pickle.loads(read_packed(path))
                blobs = data["blobs"] + data.get("state_blobs", [])  # the portable state's values too
            except Exception:
                blobs = []
            snapshot = self.snapshot(key)
            size = stat.st_size + (snapshot.stat().st_size if snapshot.exists() else 0)
            entries[key] = (stat.st_mtime, size, blobs)
        # a blob's name is its digest (older caches: "<digest>-<dtype>-<shape>.npy")
        blobs = {
            p.name.split(".")[0]: p
            for folder in (self.blobs, self.state)
            for p in folder.glob("*")
            if not p.name.startswith(TEMP_PREFIX)
        }
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
        # never referred to by any entry: left by a failed run, or about to be referred to
        # by a running build's entry (it touches the blobs it reuses, so they are young)
        for digest, path in blobs.items():
            if refs[digest] <= 0 and old(path):
                total -= path.stat().st_size
                path.unlink(missing_ok=True)
        for path in (self.root / "snapshots").glob("*/*.pickle"):
            if path.stem not in entries and old(path):
                total -= path.stat().st_size
                path.unlink(missing_ok=True)
        # what a write killed midway left (store.atomic_write's temporary files)
        for pattern in ("cells/*/", "snapshots/*/", "blobs/", "state/"):
            for path in self.root.glob(f"{pattern}{TEMP_PREFIX}*"):
                try:  # a write under way renames its file at any moment
                    if path.is_file() and old(path):
                        size = path.stat().st_size
                        path.unlink()
                        total -= size
                except FileNotFoundError:
                    pass
        return int(before - total)


def relocate(outputs: list[Output], old: Places, new: Places) -> list[Output]:
    """Outputs recorded with the cells at `old`, as a build with them at `new` shows them."""
    if old == new:
        return outputs
    return [
        Output.from_dict({**o.to_dict(), "text": relocate_text(o.text, old, new)}) if o.text else o for o in outputs
    ]
