"""Namespace snapshots: the state of an essay after a cell, saved so a later build can
start from it instead of running the essay from the top.

Used inside the worker process, so it stays light (standard library; cloudpickle is
imported when a snapshot is taken). Functions and classes defined in cells live in
`__main__`, which plain pickle cannot name; cloudpickle saves them by value. Large arrays
go into content-addressed blobs, so the one-hot matrix that every later cell still holds is
stored once, not once per cell.
"""

from __future__ import annotations

import importlib
import io
import pickle
import types
from pathlib import Path
from typing import Any

from .store import Corrupt, atomic_write, digest, seal, unseal

BLOB_MIN_BYTES = 64 * 1024  # arrays at least this big are stored as shared blobs
SKIP = {"__builtins__", "show"}


def _split(namespace: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    values, modules = {}, {}
    for name, value in namespace.items():
        if name in SKIP:
            continue
        if isinstance(value, types.ModuleType):
            modules[name] = value.__name__
        else:
            values[name] = value
    return values, modules


# Values that did not pickle before, by name: the very same object is left out at once
# next time, instead of failing a whole dump again (a closed file stays in the namespace
# for the rest of the essay). Holding the object keeps its id from being reused.
_refused: dict[str, tuple[Any, str]] = {}


def _pickler(blobs: Path) -> type:
    """A cloudpickle Pickler that stores big numpy arrays as shared, content-named blobs."""
    import cloudpickle
    import numpy as np
    import xxhash

    class Pickler(cloudpickle.CloudPickler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.blobs: set[str] = set()  # the blobs this pickle refers to

        def persistent_id(self, obj: Any) -> Any:
            # called for every object pickled, hundreds of thousands of times: keep it cheap
            if not isinstance(obj, np.ndarray) or obj.nbytes < BLOB_MIN_BYTES:
                return None
            data = np.ascontiguousarray(obj)
            # xxh3 reads ~25 GB/s (blake2b ~1 GB/s): each snapshot hashes every big array
            digest = f"{xxhash.xxh3_128_hexdigest(data.data)}-{data.dtype.str}-{'x'.join(map(str, data.shape))}"
            blob = blobs / f"{digest}.npy"
            if not blob.exists():
                buffer = io.BytesIO()
                np.save(buffer, data, allow_pickle=False)
                atomic_write(blob, buffer.getvalue())
            self.blobs.add(digest)
            return ("array", digest)

    return Pickler


def save(namespace: dict[str, Any], path: Path, blobs: Path) -> tuple[dict[str, str], list[str]] | None:
    """Snapshot a namespace to `path`: every value that pickles. Returns the names left out,
    each with why (a closed file, a lock...), and the blobs the snapshot refers to; None
    when nothing could be saved."""
    values, modules = _split(namespace)
    Pickler = _pickler(blobs)
    used: set[str] = set()

    def dump(obj: Any) -> bytes:
        buffer = io.BytesIO()
        pickler = Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dump(obj)
        used.clear()
        used.update(pickler.blobs)
        return buffer.getvalue()

    lost = {name: why for name, (value, why) in _refused.items() if values.get(name, _refused) is value}
    try:
        # one dump for all values: the cells' functions then share one globals dict
        data = dump({"values": _without(values, lost), "modules": modules})
    except OSError:
        raise  # writing a blob failed (a full or read-only cache): not the value's fault
    except Exception:
        for name, value in _without(values, lost).items():
            try:
                dump(value)
            except OSError:
                raise
            except Exception as exc:
                lost[name] = f"{type(value).__name__}: {exc}"
                _refused[name] = (value, lost[name])
        try:
            data = dump({"values": _without(values, lost), "modules": modules})
        except Exception:
            return None
    atomic_write(path, seal(data))
    return lost, sorted(used)


def _without(values: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in names} if names else values


def _shared_globals(values: dict[str, Any]) -> dict[str, Any]:
    """The globals dict that cloudpickle rebuilt for the cells' functions, or a new one."""
    for value in values.values():
        candidates = vars(value).values() if isinstance(value, type) else [value]
        for item in candidates:
            globs = getattr(item, "__globals__", None)
            if isinstance(globs, dict) and globs.get("__name__") == "__main__":
                return globs
    return {}


def load_blob(blob: Path) -> Any:
    """An array blob, checked against the digest in its name; a corrupt blob is removed
    (so the next snapshot writes it again) and raises Corrupt."""
    import numpy as np

    try:
        array = np.load(blob, allow_pickle=False)
    except FileNotFoundError:
        raise
    except Exception as exc:  # a header or length that no longer parses
        blob.unlink(missing_ok=True)
        raise Corrupt(f"the array blob {blob.name} does not load ({exc})") from None
    expected = blob.name.split("-", 1)[0]
    if digest(np.ascontiguousarray(array).data).hex() != expected:
        blob.unlink(missing_ok=True)
        raise Corrupt(f"the array blob {blob.name} does not match its digest")
    return array


def load(path: Path, blobs: Path) -> dict[str, Any]:
    """A namespace from a snapshot. Raises on a missing or corrupt file (Corrupt when its
    content or an array's does not match its digest); callers treat that as "no snapshot"."""

    class Unpickler(pickle.Unpickler):
        def persistent_load(self, pid: Any) -> Any:
            kind, digest = pid
            if kind != "array":
                raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
            return load_blob(blobs / f"{digest}.npy")

    try:
        data = unseal(path.read_bytes(), f"the snapshot {path.name}")
    except Corrupt:
        path.unlink(missing_ok=True)
        raise
    state = Unpickler(io.BytesIO(data)).load()
    values: dict[str, Any] = state["values"]
    # cloudpickle gives every function from one dump a single shared globals dict; make
    # that dict the namespace, so functions see later cells' assignments as they did
    # before the snapshot.
    namespace = _shared_globals(values)
    namespace.update(values)
    for name, module in state["modules"].items():
        namespace[name] = importlib.import_module(module)
    namespace.setdefault("__name__", "__main__")
    return namespace
