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

from . import interpreter
from .places import Places
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


# Where the cells are in the build that is loading a snapshot (see _make_code).
_loading: Places | None = None


def _code_reduce(code: types.CodeType, places: Places | None) -> tuple:
    """A code object by value, remembering its file and, for code from a cell, its place
    relative to that cell: cloudpickle's own reduction names every file `<dynamic-code>`,
    so a traceback through a restored function would not name the essay's line."""
    from cloudpickle.cloudpickle import _code_reduce as by_value

    _, args = by_value(code)
    found = places.locate(code.co_firstlineno) if places and code.co_filename == places.filename else None
    where = ("cell", *found) if found else ("file", code.co_filename, code.co_firstlineno)
    return _make_code, (args, where)


def _make_code(args: tuple, where: tuple) -> types.CodeType:
    """A code object back, named for where its cell is in the build loading it."""
    code = types.CodeType(*args)
    if where[0] == "cell" and _loading is not None and (line := _loading.line(where[1], where[2])) is not None:
        return code.replace(co_filename=_loading.filename, co_firstlineno=line)
    if where[0] == "cell":  # its cell is not among the cells placed: keep no stale line
        return code
    return code.replace(co_filename=where[1], co_firstlineno=where[2])


def _pickler(blobs: Path, places: Places | None = None) -> type:
    """A cloudpickle Pickler that stores big numpy arrays as shared, content-named blobs."""
    import cloudpickle
    import numpy as np
    import xxhash

    class Pickler(cloudpickle.CloudPickler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.blobs: set[str] = set()  # the blobs this pickle refers to

        def reducer_override(self, obj: Any) -> Any:
            if type(obj) is types.CodeType:
                return _code_reduce(obj, places)
            return super().reducer_override(obj)

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


def save(
    namespace: dict[str, Any], path: Path, blobs: Path, places: Places | None = None
) -> tuple[dict[str, str], list[str]] | None:
    """Snapshot a namespace and the interpreter's state (see interpreter.py) to `path`:
    every value that pickles. Returns the names left out, each with why (a closed file, a
    lock...), and the blobs the snapshot refers to; None when nothing could be saved.
    `places`: where the cells that ran are, so restored code names its lines where they
    are in the build that loads it. Raises interpreter.StateError when the interpreter's
    state cannot be read: such a snapshot would not be the state after the cell."""
    state = interpreter.capture()
    values, modules = _split(namespace)
    Pickler = _pickler(blobs, places)
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
        data = dump({"state": state, "values": _without(values, lost), "modules": modules})
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
            data = dump({"state": state, "values": _without(values, lost), "modules": modules})
        except OSError:
            raise
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


def load(path: Path, blobs: Path, places: Places | None = None) -> dict[str, Any]:
    """A namespace from a snapshot, with the interpreter's state put back. Raises on a
    missing or corrupt file (Corrupt when its content or an array's does not match its
    digest) or state that cannot be restored; callers treat that as "no snapshot".
    `places`: where the cells are now (see _make_code)."""
    global _loading

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
    _loading = places
    try:
        state = Unpickler(io.BytesIO(data)).load()
    finally:
        _loading = None
    values: dict[str, Any] = state["values"]
    # cloudpickle gives every function from one dump a single shared globals dict; make
    # that dict the namespace, so functions see later cells' assignments as they did
    # before the snapshot.
    namespace = _shared_globals(values)
    namespace.update(values)
    for name, module in state["modules"].items():
        namespace[name] = importlib.import_module(module)
    namespace.setdefault("__name__", "__main__")
    # last, once everything is imported: random generators, print options, filters...
    interpreter.restore(state["state"])
    return namespace
