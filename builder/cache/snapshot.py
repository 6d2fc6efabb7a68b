"""Namespace snapshots: the state of an essay after a cell, saved so a later build can
start from it instead of running the essay from the top.

Used inside the worker process, so it stays light (standard library; cloudpickle is
imported when a snapshot is taken). Functions and classes defined in cells live in
`__main__`, which plain pickle cannot name; cloudpickle saves them by value.

A value is stored once by its content, not once per cell that still holds it:

- Every name's value is pickled on its own. Names whose values share no mutable object
  (found in each pickler's memo) and hold nothing saved by value (a function or class
  defined in a cell) are independent: each such pickle is a blob named by its digest, so
  the word list that twenty later cells still hold is one file. Small ones stay inline.
- Names that share objects are pickled together, so `a = b = [1]` stays one list; all
  that hold cells' functions or classes are pickled together too, in one group whose
  functions share one globals dict, which becomes the namespace again (_shared_globals).
  Their functions are saved without the values of the namespace's names they read
  (those are saved under their own names, and put back into that same dict).
- Big numpy arrays, wherever they are, go into blobs of their raw bytes by content.

Blobs and snapshots are compressed with zstd where a sample says it pays (random floats
do not shrink; one-hot matrices and lookup tables shrink 30-60x). See store.py.
"""

from __future__ import annotations

import functools
import importlib
import io
import pickle
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import interpreter
from .places import Places
from .store import Corrupt, get_blob, put_blob, read_packed, write_packed

BLOB_MIN_BYTES = 64 * 1024  # arrays at least this big are stored as shared blobs
VALUE_MIN_BYTES = 16 * 1024  # a value pickled at least this big is a blob of its own
SKIP = {"__builtins__", "show"}

# Values whose pickle needs no memo inspection: builtin atoms, and builtin containers
# holding only atoms (a word list, a table of counts), pickled by the C pickler alone.
ATOMS = frozenset({int, float, complex, bool, str, bytes, type(None)})
CONTAINERS = frozenset({list, tuple, dict, set, frozenset})
# Objects two names may share without it mattering: nothing can change them.
IMMUTABLE = frozenset({*ATOMS, tuple, frozenset, range, slice, types.FunctionType, types.BuiltinFunctionType})


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
# next time, instead of failing again (a closed file stays in the namespace for the rest
# of the essay). Holding the object keeps its id from being reused.
_refused: dict[str, tuple[Any, str]] = {}


# Where the cells are in the build that is loading a snapshot (see _make_code).
_loading: Places | None = None


def _code_reduce(code: types.CodeType, places: Places | None) -> tuple[Any, ...]:
    """A code object by value, remembering its file and, for code from a cell, its place
    relative to that cell: cloudpickle's own reduction names every file `<dynamic-code>`,
    so a traceback through a restored function would not name the essay's line."""
    from cloudpickle.cloudpickle import _code_reduce as by_value

    _, args = by_value(code)
    found = places.locate(code.co_firstlineno) if places and code.co_filename == places.filename else None
    where = ("cell", *found) if found else ("file", code.co_filename, code.co_firstlineno)
    return _make_code, (args, where)


def _make_code(args: tuple[Any, ...], where: tuple[Any, ...]) -> types.CodeType:
    """A code object back, named for where its cell is in the build loading it."""
    code = types.CodeType(*args)
    if where[0] == "cell" and _loading is not None and (line := _loading.line(where[1], where[2])) is not None:
        return code.replace(co_filename=_loading.filename, co_firstlineno=line)
    if where[0] == "cell":  # its cell is not among the cells placed: keep no stale line
        return code
    return code.replace(co_filename=where[1], co_firstlineno=where[2])


def _array(*args: Any) -> Any:
    """What a pickled array blob calls; _Unpickler puts the blob reader in its place."""
    raise pickle.UnpicklingError("an array blob is loaded only by snapshot.load")


@dataclass
class _Pickled:
    """One name's value (or a group's values) pickled, with what grouping needs to know."""

    data: bytes
    blobs: set[str]  # the array blobs it refers to
    shared: set[int] = field(default_factory=set)  # ids of the mutable objects it holds
    by_value: bool = False  # holds a function or class defined in a cell
    reads: set[str] = field(default_factory=set)  # names its functions read as globals


class _Saving:
    """One save(): the namespace's values, and the arrays and functions already reduced
    this time (held, so that their ids stay their own until it ends)."""

    def __init__(
        self, values: dict[str, Any], namespace: dict[str, Any], blobs: Path, places: Places | None = None
    ) -> None:
        self.values, self.namespace, self.blobs, self.places = values, namespace, blobs, places
        numpy = sys.modules.get("numpy")  # no numpy imported: no array to look for
        self.ndarray: type | None = numpy.ndarray if numpy is not None else None
        # numpy's dtypes and scalars are immutable too
        self.immutable: tuple[type, ...] = (type, numpy.dtype, numpy.generic) if numpy is not None else (type,)
        self.arrays: dict[int, tuple[Any, tuple[Any, ...]]] = {}  # id -> (array, its reduction)
        self.functions: dict[int, tuple[Any, tuple[Any, ...], set[str]]] = {}  # id -> (function, reduction, reads)
        self.Pickler = _pickler_class()

    def array(self, obj: Any) -> tuple[Any, ...] | None:
        """A big array's reduction to its blob, storing the blob; None for small arrays."""
        known = self.arrays.get(id(obj))
        if known is not None:
            return known[1]
        if obj.nbytes < BLOB_MIN_BYTES or obj.dtype.hasobject:
            return None
        from numpy.lib.format import dtype_to_descr

        fortran = bool(obj.flags.f_contiguous and not obj.flags.c_contiguous)
        data = obj.T if fortran else obj
        if not data.flags.c_contiguous:
            data = data.copy()
        # as bytes: every dtype (datetime64 too) exports its buffer that way
        name = put_blob(self.blobs, data.reshape(-1).view("u1"))
        reduced = (_array, (name, dtype_to_descr(obj.dtype), obj.shape, fortran))
        self.arrays[id(obj)] = (obj, reduced)  # held: its id stays its own during this save
        return reduced

    def pickle(self, value: Any, inspect: bool = True) -> _Pickled:
        """A value pickled with cloudpickle, and (when `inspect`) what it holds."""
        if type(value) in ATOMS or (type(value) in CONTAINERS and _atoms_only(value)):
            shared = set() if type(value) in IMMUTABLE else {id(value)}
            return _Pickled(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), set(), shared)
        buffer = io.BytesIO()
        pickler = self.Pickler(buffer, self)
        pickler.dump(value)
        shared = self._mutable(pickler) if inspect else set()
        return _Pickled(buffer.getvalue(), pickler.blobs, shared, pickler.by_value, pickler.reads)

    def _mutable(self, pickler: Any) -> set[int]:
        """The ids of the objects a pickle holds that two names could both change."""
        shared = set()
        for _, obj in pickler.memo.copy().values():
            kind = type(obj)
            if kind not in IMMUTABLE and not issubclass(kind, self.immutable):
                shared.add(id(obj))
        return shared


def _atoms_only(value: Any) -> bool:
    if type(value) is dict:
        return ATOMS.issuperset(map(type, value)) and ATOMS.issuperset(map(type, value.values()))
    return ATOMS.issuperset(map(type, value))


@functools.cache
def _pickler_class() -> type:
    import cloudpickle

    class Pickler(cloudpickle.Pickler):  # type: ignore[misc]  # cloudpickle ships no types
        """cloudpickle, with big arrays as blobs; it notes whether anything was saved by
        value, and saves cells' functions without the namespace's values they read."""

        def __init__(self, file: io.BytesIO, saving: _Saving) -> None:
            super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
            self.saving = saving
            self.blobs: set[str] = set()
            self.by_value = False
            self.reads: set[str] = set()

        def reducer_override(self, obj: Any) -> Any:
            # called for every object but builtin atoms and containers: keep it cheap
            if type(obj) is self.saving.ndarray:
                reduced = self.saving.array(obj)
                if reduced is not None:
                    self.blobs.add(reduced[1][0])
                    return reduced
                return NotImplemented
            if type(obj) is types.CodeType:
                return _code_reduce(obj, self.saving.places)
            reduced = super().reducer_override(obj)
            if reduced is not NotImplemented and isinstance(obj, type) and obj.__module__ != "builtins":
                self.by_value = True  # a class defined in a cell
            return reduced

        def _dynamic_function_reduce(self, func: Any) -> Any:
            self.by_value = True
            known = self.saving.functions.get(id(func))
            if known is not None:
                # the state is the costly part (cloudpickle scans sys.modules for each
                # function), and a method is pickled once per instance of its class; the
                # new arguments hold this pickler's own globals dict
                _, cached, reads = known
                self.reads |= reads
                return (cached[0], self._function_getnewargs(func), *cached[2:])
            reduced = super()._dynamic_function_reduce(func)
            try:
                state, slots = reduced[2]
                f_globals = slots["__globals__"]
            except (TypeError, ValueError, KeyError, IndexError):  # another cloudpickle: as it is
                return reduced
            read: set[str] = set()
            if func.__globals__ is self.saving.namespace:
                # without the namespace's values it reads: each is saved under its own
                # name, and load() puts them in the function's globals; show() is the
                # kernel's, given to every cell anew
                read = {k for k in f_globals if k in self.saving.values}
                dropped = read | (f_globals.keys() & SKIP)
                slots = {**slots, "__globals__": {k: v for k, v in f_globals.items() if k not in dropped}}
                reduced = (*reduced[:2], (state, slots), *reduced[3:])
            self.reads |= read
            self.saving.functions[id(func)] = (func, reduced, read)
            return reduced

    return Pickler


def _groups(parts: dict[str, _Pickled]) -> list[list[str]]:
    """The names whose values must be pickled together: those that share a mutable
    object, and all that hold something saved by value (their functions must share one
    globals dict). In namespace order."""
    parent = {name: name for name in parts}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    def union(a: str, b: str) -> None:
        parent[root(a)] = root(b)

    owner: dict[int, str] = {}
    by_value = None
    for name, part in parts.items():
        for obj in part.shared:
            union(name, owner.setdefault(obj, name))
        if part.by_value:
            by_value = by_value or name
            union(name, by_value)
    groups: dict[str, list[str]] = {}
    for name in parts:
        groups.setdefault(root(name), []).append(name)
    return list(groups.values())


def save(
    namespace: dict[str, Any], path: Path, blobs: Path, places: Places | None = None
) -> tuple[dict[str, str], list[str]] | None:
    """Snapshot a namespace and the interpreter's state (see interpreter.py) to `path`:
    every value that pickles. Returns the names left out, each with why (a closed file, a
    lock...), and the blobs the snapshot refers to. (None, "nothing could be saved", is no
    longer returned: each value is pickled on its own.) `places`: where the cells that ran
    are, so restored code names its lines where they are in the build that loads it.
    Raises interpreter.StateError when the interpreter's state cannot be read or saved:
    such a snapshot would not be the state after the cell."""
    values, modules = _split(namespace)
    lost = {name: why for name, (value, why) in _refused.items() if values.get(name, _refused) is value}
    saving = _Saving(values, namespace, blobs, places)
    try:
        machine = saving.pickle(interpreter.capture(), inspect=False)
    except OSError:
        raise
    except interpreter.StateError:
        raise
    except Exception as exc:
        raise interpreter.StateError(f"the interpreter's state does not pickle ({type(exc).__name__}: {exc})") from exc
    parts: dict[str, _Pickled] = {}
    for name, value in values.items():
        if name in lost:
            continue
        try:
            parts[name] = saving.pickle(value)
        except OSError:
            raise  # writing a blob failed (a full or read-only cache): not the value's fault
        except Exception as exc:
            lost[name] = f"{type(value).__name__}: {exc}"
            _refused[name] = (value, lost[name])
    pickled = _pickle_groups(saving, parts, lost)
    groups: list[tuple[tuple[str, ...], bytes | str]] = []
    used: set[str] = set()
    for names, part in pickled:
        used |= part.blobs
        if len(part.data) >= VALUE_MIN_BYTES:
            name = put_blob(blobs, part.data)
            used.add(name)
            groups.append((tuple(names), name))
        else:
            groups.append((tuple(names), part.data))
    order = [name for name in namespace if name in modules or (name in values and name not in lost)]
    state = {"order": order, "modules": modules, "groups": groups, "interpreter": machine.data}
    write_packed(path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
    return lost, sorted(used)


def _pickle_groups(
    saving: _Saving, parts: dict[str, _Pickled], lost: dict[str, str]
) -> list[tuple[list[str], _Pickled]]:
    """Each group of names (see _groups) with its pickle; a group that does not pickle
    together (each of its values did alone) is left out, and the grouping done again."""
    while True:
        _drop_readers_of_lost(parts, lost)
        pickled = []
        for names in _groups(parts):
            if len(names) == 1:
                pickled.append((names, parts[names[0]]))
                continue
            values = tuple(saving.values[name] for name in names)
            try:
                pickled.append((names, saving.pickle(values, inspect=False)))
            except OSError:
                raise
            except Exception as exc:
                for name, value in zip(names, values, strict=True):
                    lost[name] = f"{type(value).__name__}: {exc}"
                    del parts[name]
                break
        else:
            return pickled


def _drop_readers_of_lost(parts: dict[str, _Pickled], lost: dict[str, str]) -> None:
    """A function saved without a global it reads that is left out would fail where the
    essay's did not: leave it out too, and whatever holds it."""
    changed = True
    while changed:
        changed = False
        for name, part in list(parts.items()):
            missing = part.reads & lost.keys()
            if missing:
                lost[name] = "reads " + ", ".join(f"'{m}'" for m in sorted(missing)) + ", which is left out"
                del parts[name]
                changed = True


def _shared_globals(values: dict[str, Any]) -> dict[str, Any]:
    """The globals dict that cloudpickle rebuilt for the cells' functions, or a new one."""
    for value in values.values():
        candidates = vars(value).values() if isinstance(value, type) else [value]
        for item in candidates:
            globs = getattr(item, "__globals__", None)
            if isinstance(globs, dict) and globs.get("__name__") == "__main__":
                return globs
    return {}


def load_array(blobs: Path, name: str, descr: Any, shape: tuple[int, ...], fortran: bool) -> Any:
    """An array from its blob (Corrupt when the blob is: see store.get_blob)."""
    import numpy as np
    from numpy.lib.format import descr_to_dtype

    data = get_blob(blobs, name)
    dtype = descr_to_dtype(descr)
    count = 1
    for n in shape:
        count *= n
    if len(data) != count * dtype.itemsize:
        raise Corrupt(f"the array blob {name} holds {len(data)} bytes, not {count} × {dtype.itemsize}")
    array = np.frombuffer(bytearray(data), dtype=dtype)  # a bytearray: writable, as it was
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes | memoryview, blobs: Path) -> None:
        super().__init__(io.BytesIO(data))
        self.blobs = blobs

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "_array":
            return functools.partial(load_array, self.blobs)
        return super().find_class(module, name)


def load(path: Path, blobs: Path, places: Places | None = None) -> dict[str, Any]:
    """A namespace from a snapshot, with the interpreter's state put back. Raises on a
    missing or corrupt file (Corrupt when its content or a blob's does not match its
    digest) or state that cannot be restored; callers treat that as "no snapshot".
    `places`: where the cells are now (see _make_code)."""
    global _loading
    try:
        state = pickle.loads(read_packed(path, f"the snapshot {path.name}"))
    except Corrupt:
        path.unlink(missing_ok=True)
        raise
    values: dict[str, Any] = {}
    _loading = places
    try:
        for names, ref in state["groups"]:
            data = get_blob(blobs, ref) if isinstance(ref, str) else ref
            loaded = _Unpickler(data, blobs).load()
            values.update(zip(names, (loaded,) if len(names) == 1 else loaded, strict=True))
        machine = _Unpickler(state["interpreter"], blobs).load()
    finally:
        _loading = None
    for name, module in state["modules"].items():
        values[name] = importlib.import_module(module)
    # cloudpickle gives every function from one pickle a single shared globals dict; make
    # that dict the namespace, so functions see later cells' assignments as they did
    # before the snapshot. Its names go back in the order the essay made them.
    namespace = _shared_globals(values)
    extra = {k: v for k, v in namespace.items() if k not in values}
    namespace.clear()
    namespace["__name__"] = "__main__"
    namespace.update(extra)
    for name in state["order"]:
        namespace[name] = values[name]
    # last, once everything is imported: random generators, print options, filters...
    interpreter.restore(machine)
    return namespace
