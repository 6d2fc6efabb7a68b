"""Portable state: the values of an essay's namespace in a form that crosses from the
build's CPython to the page's Pyodide (both hosts use this file).

The build's own snapshots (builder/cache/snapshot.py) are cloudpickles, whose code objects
are bound to one Python version; these are not. Each name's value becomes one of:

- "pickle": builtins and containers of them, pickled, and read back by an unpickler that
  refuses every global but a short list of harmless constructors (SAFE_GLOBALS). Essay
  definitions inside the data (a dict of the essay's functions, an object of an essay
  class) are persistent references by name, resolved against the page's namespace; numpy
  arrays inside it are persistent references to .npy parts of their own.
- "npy": a numpy array (or scalar), written by np.save and read with allow_pickle=False.
- "module": a module the essay imported, imported again.
- "import": a library's function or class, imported again (`from math import sqrt`).
- "def": a function or class the essay defined, re-created by running its def or class
  statement (found in the cell's AST) again.

Anything else (a generator, an open file, a closure made by a call, a library's object)
is not portable, and the reason says what it was: the page then runs the cells above.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import importlib
import io
import pickle
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The only globals a state pickle may name: constructors that build plain data from plain
# data, and run no code of an author's or an attacker's choosing. A pickle naming any other
# (os.system, builtins.eval, a library's class) is refused, in the page and at build time.
SAFE_GLOBALS = frozenset(
    [("builtins", n) for n in ("complex", "range", "slice", "set", "frozenset", "bytearray")]
    + [("builtins", n) for n in ("list", "dict", "tuple", "int", "float", "str", "bytes", "bool")]
    + [("collections", n) for n in ("OrderedDict", "Counter", "deque", "defaultdict")]
    + [("datetime", n) for n in ("date", "datetime", "time", "timedelta", "timezone")]
    + [("fractions", "Fraction"), ("decimal", "Decimal")]
)
PROTOCOL = 5
SKIP = frozenset({"__builtins__", "__name__", "__doc__", "show", "display"})  # the kernel's own names


class NotPortable(Exception):
    """A value that cannot cross to the page; str() is the reason ("a generator")."""


@dataclass
class Encoded:
    """A data value in portable form: its bytes, with `parts` (digest -> .npy bytes of
    arrays held inside a pickle) and `needs` (the essay definitions a pickle refers to)."""

    kind: str  # "pickle" or "npy"
    data: bytes
    digest: str
    parts: dict[str, bytes] = field(default_factory=dict)
    needs: list[str] = field(default_factory=list)
    scalar: bool = False  # an "npy" that holds a numpy scalar, not an array

    @property
    def ext(self) -> str:
        return "npy" if self.kind == "npy" else "pickle"

    @property
    def size(self) -> int:
        return len(self.data) + sum(len(p) for p in self.parts.values())


def default_digest(data: bytes) -> str:
    """The page's digest of a value's bytes; the build passes the cache's own (xxh3)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# ----- what a value is ------------------------------------------------------------------


def _numpy() -> Any:
    """numpy, when the essay imported it: a state never imports numpy for nothing."""
    return sys.modules.get("numpy")


def _is_array(value: Any) -> bool:
    np = _numpy()
    return np is not None and type(value) is np.ndarray


def _is_numpy_scalar(value: Any) -> bool:
    np = _numpy()
    return np is not None and isinstance(value, np.generic)


def describe_kind(value: Any) -> str:
    """What a value is, in words, for a reason the page shows ("a generator")."""
    if isinstance(value, types.GeneratorType):
        return "a generator"
    if isinstance(value, (types.CoroutineType, types.AsyncGeneratorType)):
        return "a coroutine"
    if isinstance(value, io.IOBase):
        return "a file object" if value.closed else "an open file"
    if isinstance(value, types.LambdaType) and value.__name__ == "<lambda>":
        return "a lambda"
    if isinstance(value, types.FunctionType) and "<locals>" in value.__qualname__:
        return "a closure made by a call"
    kind = type(value)
    if kind.__module__.startswith("runtime.gpu") or "wgpu" in kind.__module__ or "GPU" in kind.__name__:
        return "data on the GPU"
    where = "" if kind.__module__ in ("builtins", "__main__") else kind.__module__ + "."
    return f"a {where}{kind.__qualname__}" + (" (a library's object)" if where else "")


def _cannot_pickle(exc: Exception) -> str:
    """The reason a pickling error gives, in words: "cannot pickle 'generator' object"."""
    text = str(exc)
    for word, said in (
        ("generator", "a generator"),
        ("TextIOWrapper", "an open file"),
        ("BufferedReader", "an open file"),
    ):
        if word in text:
            return said
    return text.split(":", maxsplit=1)[0] if text else type(exc).__name__


# ----- data values ----------------------------------------------------------------------


# the types a pickle holds as they are, with no global (or with one of SAFE_GLOBALS)
_PLAIN = frozenset(
    [type(None), bool, int, float, complex, str, bytes, bytearray, tuple, list, dict, set, frozenset, range, slice]
)


def _safe_types() -> frozenset[type]:
    """The classes SAFE_GLOBALS name (collections.Counter, datetime.date, ...)."""
    global _SAFE_TYPES
    if _SAFE_TYPES is None:
        _SAFE_TYPES = frozenset(getattr(importlib.import_module(m), n) for m, n in SAFE_GLOBALS)
    return _SAFE_TYPES


_SAFE_TYPES: frozenset[type] | None = None


class _Pickler(pickle.Pickler):
    """A pickler that writes essay definitions as references by name and arrays as parts."""

    def __init__(self, file: io.BytesIO, namespace: Mapping[str, Any], digest: Callable[[bytes], str]) -> None:
        super().__init__(file, protocol=PROTOCOL)
        self.namespace = namespace
        self.digest = digest
        self.parts: dict[str, bytes] = {}
        self.needs: list[str] = []

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, (types.FunctionType, type)) and obj.__module__ == "__main__":
            name: str = obj.__name__
            bound: Any = self.namespace.get(name)
            if bound is obj and name == obj.__qualname__:
                if name not in self.needs:
                    self.needs.append(name)
                return ("def", name)
            raise NotPortable(describe_kind(obj) if isinstance(obj, types.FunctionType) else "a class made by a call")
        if _is_array(obj) or _is_numpy_scalar(obj):
            data = _npy_bytes(obj)
            name = self.digest(data)
            self.parts[name] = data
            return ("npy", name, _is_numpy_scalar(obj))
        kind = type(obj)
        if kind in _PLAIN or kind in _safe_types() or (kind.__module__ == "__main__" and not isinstance(obj, type)):
            return None
        if isinstance(obj, type) and (obj.__module__, obj.__qualname__) in SAFE_GLOBALS:
            return None  # a constructor the page's unpickler accepts (Counter, for a Counter)
        # refused before the pickler asks the object to reduce itself: a library's object
        # may do real work for that (copy a GPU buffer back, draw a figure)
        raise NotPortable(describe_kind(obj))


class StateUnpickler(pickle.Unpickler):
    """The page's unpickler: SAFE_GLOBALS only; essay definitions from `namespace`; arrays
    from `part(digest)` (the .npy bytes)."""

    def __init__(self, data: bytes, namespace: Mapping[str, Any], part: Callable[[str], bytes]) -> None:
        super().__init__(io.BytesIO(data))
        self.namespace = namespace
        self.part = part

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"a {module}.{name} (a library's object)")
        return getattr(importlib.import_module(module), name)

    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and len(pid) == 2 and pid[0] == "def" and isinstance(pid[1], str):
            if pid[1] not in self.namespace:
                raise pickle.UnpicklingError(f"the essay's {pid[1]} is not defined")
            return self.namespace[pid[1]]
        if isinstance(pid, tuple) and len(pid) == 3 and pid[0] == "npy" and isinstance(pid[1], str):
            return load_npy(self.part(pid[1]), bool(pid[2]))
        raise pickle.UnpicklingError(f"an unknown reference {pid!r}")


def _npy_bytes(value: Any) -> bytes:
    np = _numpy()
    buffer = io.BytesIO()
    try:
        np.save(buffer, np.asarray(value), allow_pickle=False)
    except ValueError as exc:  # an array of Python objects needs pickle: refused
        raise NotPortable("an array of Python objects") from exc
    return buffer.getvalue()


def load_npy(data: bytes, scalar: bool = False) -> Any:
    import numpy as np

    array = np.load(io.BytesIO(data), allow_pickle=False)
    return array[()] if scalar else array


def encode_value(value: Any, namespace: Mapping[str, Any], digest: Callable[[bytes], str] = default_digest) -> Encoded:
    """A data value in portable form; NotPortable says why it cannot be. What is written is
    read back here with the page's unpickler, so a value the page would refuse is refused now."""
    if _is_array(value) or _is_numpy_scalar(value):
        data = _npy_bytes(value)
        return Encoded("npy", data, digest(data), scalar=_is_numpy_scalar(value))
    if isinstance(value, (types.GeneratorType, io.IOBase, types.ModuleType)):
        raise NotPortable(describe_kind(value))
    buffer = io.BytesIO()
    pickler = _Pickler(buffer, namespace, digest)
    try:
        pickler.dump(value)
    except NotPortable as exc:
        raise NotPortable(_holding(value, str(exc))) from None
    except RecursionError:
        raise NotPortable("a structure too deep to copy") from None
    except Exception as exc:  # PicklingError, TypeError: what the pickler could not write
        raise NotPortable(_holding(value, _cannot_pickle(exc))) from None
    data = buffer.getvalue()
    try:
        decode_pickle(data, namespace, pickler.parts.__getitem__)
    except pickle.UnpicklingError as exc:
        raise NotPortable(_holding(value, str(exc))) from None
    except Exception as exc:  # an essay class whose __setstate__ fails, ...
        raise NotPortable(_holding(value, f"a value that does not load back ({type(exc).__name__})")) from None
    return Encoded("pickle", data, digest(data), pickler.parts, pickler.needs)


def _holding(value: Any, inner: str) -> str:
    """The reason for a value whose part could not travel: "a dict holding a generator"."""
    outer = describe_kind(value)
    if outer.split(" ", 1)[1] == inner or inner.startswith(outer):  # the value itself
        return outer
    return f"{outer} holding {inner}"


def decode_pickle(data: bytes, namespace: Mapping[str, Any], part: Callable[[str], bytes]) -> Any:
    return StateUnpickler(data, namespace, part).load()


# ----- definitions and imports -----------------------------------------------------------


@dataclass
class Definition:
    """A def or class statement of the essay: its code (decorators included), the cell it
    is in and its line there (1: the cell's first), and the names it reads from the namespace."""

    source: str
    cell: int
    offset: int
    reads: list[str]


def find_definition(name: str, value: Any, cells: Sequence[tuple[int, int, str]]) -> Definition | None:
    """The top-level def or class statement that made `value`, among `cells` ((index, first
    essay line, source), in order): for a function, the one at its code's first line; for
    a class, the last one of that name. None when no statement made it."""
    line = value.__code__.co_firstlineno if isinstance(value, types.FunctionType) else None
    found: Definition | None = None
    for index, first, source in cells:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node.name != name:
                continue
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if isinstance(node, ast.ClassDef) != isinstance(value, type):
                continue
            if line is not None and start + first - 1 != line:
                continue
            lines = source.splitlines()
            text = "\n".join(lines[start - 1 : node.end_lineno])
            found = Definition(text, index, start, sorted(_reads(text)))
    return found


def _reads(source: str) -> set[str]:
    from .analysis import global_reads

    got = global_reads(source)
    return (got[0] - got[1] - set(dir(builtins))) if got else set()


def importable(value: Any) -> tuple[str, str] | None:
    """(module, qualified name) a library's function or class is imported from again, when
    importing it gives this very object."""
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or module == "__main__" or "<" in qualname:
        return None
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception:
        return None
    return (module, qualname) if found is value else None


def essay_definition(value: Any, filename: str) -> bool:
    """A function or class the essay's cells defined (not a library's, not a call's)."""
    if isinstance(value, types.FunctionType):
        return value.__module__ == "__main__" and value.__code__.co_filename == filename
    return isinstance(value, type) and value.__module__ == "__main__"
