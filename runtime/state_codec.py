"""Portable state: the values of an essay's namespace in a form that crosses from the
build's CPython to the page's Pyodide (both hosts use this file).

The build's own snapshots (builder/cache/snapshot.py) are cloudpickles, whose code objects
are bound to one Python version; these are not. Each name's value becomes one of:

- "json": builtins, containers of them and objects of the essays' own classes, as typed
  JSON (runtime/state_json.py), which the page reads by constructing those types alone.
  Essay definitions inside the data (a dict of the essay's functions, an object of an essay
  class) are references by name, resolved against the page's namespace; classes of the
  essays' exported modules are references to the module, which the page imports; numpy
  arrays inside it are .npy parts of their own.
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
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .state_json import NotPortable, StateFormatError, describe_kind, load_npy, write_value
from .state_json_read import read_value

__all__ = ["NotPortable", "StateFormatError", "decode_json", "describe_kind", "encode_value", "load_npy"]

SKIP = frozenset({"__builtins__", "__name__", "__doc__", "show", "display"})  # the kernel's own names


@dataclass
class Encoded:
    """A data value in portable form: its bytes, with `parts` (digest -> .npy bytes of
    arrays held inside a JSON value), `needs` (the essay definitions it refers to) and
    `modules` (the essays' exported modules whose classes it holds)."""

    kind: str  # "json" or "npy"
    data: bytes
    digest: str
    parts: dict[str, bytes] = field(default_factory=dict)
    needs: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    scalar: bool = False  # an "npy" that holds a numpy scalar, not an array

    @property
    def ext(self) -> str:
        return self.kind

    @property
    def size(self) -> int:
        return len(self.data) + sum(len(p) for p in self.parts.values())


def default_digest(data: bytes) -> str:
    """The page's digest of a value's bytes; the build passes the cache's own (xxh3)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _numpy() -> Any:
    """numpy, when the essay imported it: a state never imports numpy for nothing."""
    return sys.modules.get("numpy")


def _is_array(value: Any) -> bool:
    np = _numpy()
    return np is not None and type(value) is np.ndarray


def _is_numpy_scalar(value: Any) -> bool:
    np = _numpy()
    return np is not None and isinstance(value, np.generic)


def _npy_bytes(value: Any) -> bytes:
    np = _numpy()
    buffer = io.BytesIO()
    try:
        np.save(buffer, np.asarray(value), allow_pickle=False)
    except ValueError as exc:  # an array of Python objects needs pickle: refused
        raise NotPortable("an array of Python objects") from exc
    return buffer.getvalue()


def encode_value(value: Any, namespace: Mapping[str, Any], digest: Callable[[bytes], str] = default_digest) -> Encoded:
    """A data value in portable form; NotPortable says why it cannot be. What is written is
    read back here as the page reads it, so a value the page would refuse is refused now."""
    if _is_array(value) or _is_numpy_scalar(value):
        data = _npy_bytes(value)
        return Encoded("npy", data, digest(data), scalar=_is_numpy_scalar(value))
    if isinstance(value, (types.GeneratorType, io.IOBase, types.ModuleType)):
        raise NotPortable(describe_kind(value))
    try:
        written = write_value(value, namespace, digest, _npy_bytes)
    except NotPortable as exc:
        raise NotPortable(_holding(value, str(exc))) from None
    try:
        decode_json(written.data, namespace, written.parts.__getitem__)
    except StateFormatError as exc:
        raise NotPortable(_holding(value, str(exc))) from None
    except RecursionError:
        raise NotPortable("a structure too deep to copy") from None
    except Exception as exc:  # an essay object whose hash fails half-made, ...
        raise NotPortable(_holding(value, f"a value that does not load back ({type(exc).__name__})")) from None
    return Encoded("json", written.data, digest(written.data), written.parts, written.needs, written.modules)


def _holding(value: Any, inner: str) -> str:
    """The reason for a value whose part could not travel: "a dict holding a generator"."""
    outer = describe_kind(value)
    if outer.split(" ", 1)[1] == inner or inner.startswith(outer):  # the value itself
        return inner if inner.startswith(outer) else outer
    return f"{outer} holding {inner}"


def decode_json(data: bytes, namespace: Mapping[str, Any], part: Callable[[str], bytes]) -> Any:
    """A "json" value's bytes read back (runtime/state_json.py's reader)."""
    return read_value(data, namespace, part)


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
