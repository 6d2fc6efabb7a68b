"""Data values as typed JSON, the form the page's state travels in (both hosts).

A value becomes a tree of JSON nodes. The JSON atoms stand for themselves (null, true,
false, a number of up to 53 bits, a finite float written so that it reads back exactly,
a string) and a JSON array is a list; everything else is an object whose "t" names its
type, from a closed list:

    {"t": "tuple", "v": [...]}          list (when shared), set, frozenset, deque (+ "maxlen")
    {"t": "dict", "s": {"k": ...}}      a dict whose keys are all str; else "v": [[k, v], ...]
    {"t": "int", "v": "-0x1f..."}       an int past 2**53, in hex (no digit limit applies)
    {"t": "float", "v": "nan"}          nan, inf, -inf
    {"t": "complex", "v": [re, im]}, {"t": "bytes", "v": base64}, bytearray, range, slice,
    OrderedDict, Counter, defaultdict (its factory by name, from a fixed list, or a def),
    date, datetime, time, timedelta, timezone, Fraction, Decimal (its exact str)
    {"t": "npy", "p": digest}           a numpy array (or "scalar": true), its .npy part
    {"t": "Generator", "bg": "PCG64", "state": {...}}   a numpy Generator: its bit
                                        generator's kind (from a fixed list) and state
    {"t": "Random", "v": [...]}         a random.Random, by its getstate()
    {"t": "type", "n": "int"}           a builtin type as a value, from the same fixed list
    {"t": "def", "n": "f"}              the essay's function or class, by name
    {"t": "ext", "m": "autograd", "q": "Tensor"}   a function or class of an essay's module
    {"t": "obj", "c": <def or ext>, "d": {...}, "s": {...}}   an object of such a class:
                                        its __dict__ and __slots__ values
    {"t": "ref", "i": 3}                the object whose node carried "i": 3

Shared references and cycles: an object met twice carries "i" where it is first written,
and "ref" nodes point at it, so identities survive. Mutable containers and objects exist
before their contents are read, so a cycle through them comes back; a tuple or frozenset
is made from its items, so a cycle through one (`l = []; l.append((l,))`) is refused when
written, with that reason.

Reading constructs only the types above: no node names a callable to call. A "def" is
looked up in the page's namespace, an "ext" only in a module an essay exports (the page
already runs those when a cell imports them), and an object is made by object.__new__ and
filled in, never by calling its class. A class whose objects pickle themselves their own
way (__reduce__, __getstate__, ...) or that derives from a library's class is refused when
written.
"""

from __future__ import annotations

import base64
import collections
import datetime
import decimal
import fractions
import json
import math
import random
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

FORMAT = "essays-state"
VERSION = 1
SAFE_INT = 2**53  # past this, a JSON reader other than Python's may round an int
# the ways a class can make its objects pickle differently from their attributes: the
# page would not run them, so such objects are refused rather than restored wrongly
_OWN_PICKLING = ("__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__getnewargs__", "__getnewargs_ex__")
# a defaultdict's factory, when it is one of these: by name, looked up in this table
FACTORIES: dict[str, type] = {
    t.__name__: t for t in (list, dict, set, frozenset, tuple, int, float, complex, str, bytes, bool)
}
FACTORIES.update(OrderedDict=collections.OrderedDict, Counter=collections.Counter, deque=collections.deque)
_MUTABLE = (list, dict, set, bytearray, collections.deque, collections.OrderedDict, collections.Counter)
# numpy's bit generators a Generator may travel with: each restores from its `state` dict
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class NotPortable(Exception):
    """A value that cannot cross to the page; str() is the reason ("a generator")."""


class StateFormatError(ValueError):
    """A state file the page will not read: an unknown tag, a reference to something that
    is not an essay's definition, a malformed node. str() says which."""


@dataclass
class Written:
    """A value's JSON bytes, the .npy parts of the arrays inside it (digest -> bytes), the
    essay definitions it refers to and the modules the page imports to read it (the essays'
    modules whose classes it holds; numpy for a Generator)."""

    data: bytes
    parts: dict[str, bytes] = field(default_factory=dict)
    needs: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)


# ----- which classes and modules are the essays' own ---------------------------------------

_exported_cache: dict[tuple[str, str], bool] = {}


def is_exported_module(name: str) -> bool:
    """Whether the imported module `name` is one an essay exports (its file starts with
    the header builder/pipeline/modules.py writes)."""
    from .imports import _HEADER

    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if not isinstance(path, str):
        return False
    key = (name, path)
    if key not in _exported_cache:
        try:
            with open(path, encoding="utf-8") as file:
                _exported_cache[key] = _HEADER.match(file.readline()) is not None
        except (OSError, UnicodeDecodeError):
            _exported_cache[key] = False
    return _exported_cache[key]


def essay_class(cls: type) -> bool:
    """A class the essay defined, or one of an essay's exported modules."""
    return cls.__module__ == "__main__" or is_exported_module(cls.__module__)


def describe_class(cls: type) -> str:
    where = "" if cls.__module__ in ("builtins", "__main__") else cls.__module__ + "."
    return f"{where}{cls.__qualname__}"


def a(name: str) -> str:
    """ "an autograd.Tensor", "a list": the article a reason's noun takes."""
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


# ----- writing ----------------------------------------------------------------------------


def _numpy() -> Any:
    return sys.modules.get("numpy")  # only when the essay imported it


def _float(x: float) -> Any:
    # repr round-trips every finite float exactly (-0.0 included); JSON has no nan or inf
    return x if math.isfinite(x) else {"t": "float", "v": repr(x)}


def _int(x: int) -> Any:
    return x if -SAFE_INT < x < SAFE_INT else {"t": "int", "v": hex(x)}


def _b64(data: bytes | bytearray) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


def _ordered(items: Iterable[Any]) -> list[Any]:
    """A set's items in a stable order when they compare (str, numbers): its iteration
    order follows string hashing, which changes between processes, and the file's digest
    must not."""
    listed = list(items)
    try:
        return sorted(listed)
    except TypeError:
        return listed


class _Writer:
    def __init__(
        self, namespace: Mapping[str, Any], digest: Callable[[bytes], str], npy: Callable[[Any], bytes]
    ) -> None:
        self.namespace = namespace
        self.digest = digest
        self.npy = npy
        self.seen: dict[int, int] = {}  # id -> times met, in the counting pass
        self.ids: dict[int, int] = {}  # id -> its "i", once written
        self.building: set[int] = set()  # tuples and frozensets being written
        self.states: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.mutable: set[int] = set()  # what an update in place can change, met counting
        self.out = Written(b"")

    # -- the objects a node holds, for the counting pass (the same the writing visits)
    def children(self, value: Any) -> Iterable[Any]:
        kind = type(value)
        if kind in (list, tuple, set, frozenset, collections.deque):
            return _ordered(value) if kind in (set, frozenset) else value
        if kind in (dict, collections.OrderedDict, collections.Counter, collections.defaultdict):
            return [x for pair in value.items() for x in pair]
        if kind is slice:
            return (value.start, value.stop, value.step)
        if kind is complex or kind is range:
            return ()
        if self._object(value):
            own, slots = self.state_of(value)
            return [*own.values(), *slots.values()]
        return ()

    def count(self, value: Any) -> None:
        if value is None or type(value) in (bool, int, float, str, bytes):
            return
        key = id(value)
        self.seen[key] = self.seen.get(key, 0) + 1
        if self.seen[key] == 1:
            np = _numpy()
            array = type(value) is random.Random or (
                np is not None and type(value) in (np.ndarray, np.random.Generator)
            )
            if array or type(value) in _MUTABLE or type(value) is collections.defaultdict or self._object(value):
                self.mutable.add(key)
            for child in self.children(value):
                self.count(child)

    def _object(self, value: Any) -> bool:
        kind = type(value)
        return not isinstance(value, type) and kind.__module__ not in ("builtins",) and essay_class(kind)

    def state_of(self, value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """An essay object's attributes: (its __dict__, its slots' values)."""
        key = id(value)
        if key in self.states:
            return self.states[key]
        cls = type(value)
        said = a(describe_class(cls))
        for base in cls.__mro__[:-1]:
            if not essay_class(base):
                raise NotPortable(f"{said} (its class derives from {describe_class(base)})")
            hooks = [h for h in _OWN_PICKLING if h in base.__dict__]
            if hooks:
                raise NotPortable(f"{said} (its class defines {hooks[0]}, which the page would not run)")
        own: dict[str, Any] = {}
        for name, item in getattr(value, "__dict__", {}).items():
            if not isinstance(name, str):
                raise NotPortable(f"{said} (an attribute named by a {type(name).__name__})")
            own[name] = item
        slots: dict[str, Any] = {}
        for base in cls.__mro__[:-1]:
            declared = base.__dict__.get("__slots__", ())
            for name in (declared,) if isinstance(declared, str) else declared:
                if name in ("__dict__", "__weakref__"):
                    continue
                stored = f"_{base.__name__.lstrip('_')}{name}" if name.startswith("__") else name
                slot = base.__dict__.get(stored)
                if isinstance(slot, types.MemberDescriptorType):
                    try:
                        slots[stored] = slot.__get__(value, cls)
                    except AttributeError:  # a slot never set stays unset
                        pass
        self.states[key] = (own, slots)
        return own, slots

    def definition(self, value: Any) -> dict[str, Any] | None:
        """A node naming an essay's function or class, or None when `value` is none."""
        module = getattr(value, "__module__", None)
        if module == "__main__":
            name: str = value.__name__
            if self.namespace.get(name) is value and getattr(value, "__qualname__", None) == name:
                if name not in self.out.needs:
                    self.out.needs.append(name)
                return {"t": "def", "n": name}
            if isinstance(value, type):
                raise NotPortable("a class made by a call")
            raise NotPortable("a lambda" if value.__name__ == "<lambda>" else "a closure made by a call")
        if isinstance(module, str) and is_exported_module(module):
            qualname = value.__qualname__
            if "<" in qualname:  # made by a call (a lambda, a closure): no name reaches it
                raise NotPortable(describe_kind(value))
            found: Any = sys.modules[module]
            for part in qualname.split("."):
                found = getattr(found, part, None)
            if found is not value:
                raise NotPortable(f"{a(module)}.{qualname} not reachable by its name")
            if module not in self.out.modules:
                self.out.modules.append(module)
            return {"t": "ext", "m": module, "q": qualname}
        return None

    def write(self, value: Any) -> Any:
        if value is None or type(value) in (bool, str):
            return value
        kind = type(value)
        if kind is int:
            return _int(value)
        if kind is float:
            return _float(value)
        key = id(value)
        if key in self.ids:
            return {"t": "ref", "i": self.ids[key]}
        if key in self.building:
            raise NotPortable(f"{a(kind.__name__)} that holds itself")
        shared = self.seen.get(key, 0) > 1 and kind is not bytes
        node = self._node(value, key, shared)
        return node

    def _mark(self, node: dict[str, Any], key: int, shared: bool) -> dict[str, Any]:
        if shared:
            self.ids[key] = len(self.ids)
            node["i"] = self.ids[key]
        return node

    def _node(self, value: Any, key: int, shared: bool) -> Any:
        kind = type(value)
        if kind in _MUTABLE or kind is collections.defaultdict or self._object(value):
            # made before what it holds, in the reader too, so a cycle through it comes back
            head = self._mark({"t": ""}, key, shared)
            return self._mutable(value, head)
        if kind in (tuple, frozenset, slice):
            self.building.add(key)
            items = [self.write(x) for x in (_ordered(value) if kind is frozenset else self.children(value))]
            self.building.discard(key)
            return self._mark({"t": kind.__name__, "v": items}, key, shared)
        return self._mark(self._plain(value), key, shared)

    def _pairs(self, mapping: Mapping[Any, Any]) -> dict[str, Any]:
        if all(type(k) is str for k in mapping):
            return {"s": {k: self.write(v) for k, v in mapping.items()}}
        return {"v": [[self.write(k), self.write(v)] for k, v in mapping.items()]}

    def _mutable(self, value: Any, node: dict[str, Any]) -> dict[str, Any]:
        kind = type(value)
        if kind is list:
            node["t"] = "list"
            node["v"] = [self.write(x) for x in value]
            return node if "i" in node else node["v"]  # a list nobody shares is a JSON array
        if kind is set:
            node.update(t="set", v=[self.write(x) for x in _ordered(value)])
        elif kind is bytearray:
            node.update(t="bytearray", v=_b64(value))
        elif kind is collections.deque:
            node.update(t="deque", v=[self.write(x) for x in value], maxlen=value.maxlen)
        elif kind is collections.defaultdict:
            factory = value.default_factory
            if factory is None or FACTORIES.get(getattr(factory, "__name__", "")) is factory:
                node.update(t="defaultdict", f=None if factory is None else factory.__name__)
            elif (named := self.definition(factory)) is not None:
                node.update(t="defaultdict", f=named)
            else:
                raise NotPortable(f"a defaultdict of {describe_kind(factory)}")
            node.update(self._pairs(value))
        elif kind in (dict, collections.OrderedDict, collections.Counter):
            node["t"] = kind.__name__
            node.update(self._pairs(value))
        else:  # an object of an essay's class
            named = self.definition(kind)
            if named is None:  # essay_class said it was one
                raise NotPortable(describe_kind(value))
            own, slots = self.state_of(value)
            node.update(t="obj", c=named, d={k: self.write(v) for k, v in own.items()})
            if slots:
                node["s"] = {k: self.write(v) for k, v in slots.items()}
        return node

    def _library(self, value: Any) -> dict[str, Any] | None:
        """The library values that travel: numpy arrays and scalars (as .npy parts), numpy
        Generators and random.Random (by their state); None for anything else."""
        kind = type(value)
        np = _numpy()
        if np is not None and (kind is np.ndarray or isinstance(value, np.generic)):
            data = self.npy(value)
            name = self.digest(data)
            self.out.parts[name] = data
            node: dict[str, Any] = {"t": "npy", "p": name}
            if isinstance(value, np.generic):
                node["scalar"] = True
            return node
        if np is not None and kind is np.random.Generator:
            bits = type(value.bit_generator).__name__
            if bits not in BIT_GENERATORS or type(value.bit_generator).__module__.split(".")[0] != "numpy":
                raise NotPortable(f"a numpy Generator of a {bits} (not one of numpy's own)")
            if "numpy" not in self.out.modules:
                self.out.modules.append("numpy")
            # its draws go on as the build's would; its seed sequence (spawn()) is not carried
            return {"t": "Generator", "bg": bits, "state": self.write(value.bit_generator.state)}
        if kind is random.Random:
            return {"t": "Random", "v": self.write(value.getstate())}
        return None

    def _plain(self, value: Any) -> dict[str, Any]:
        kind = type(value)
        node = self._library(value)
        if node is not None:
            return node
        if kind is complex:
            return {"t": "complex", "v": [_float(value.real), _float(value.imag)]}
        if kind is bytes:
            return {"t": "bytes", "v": _b64(value)}
        if kind is range:
            return {"t": "range", "v": [_int(value.start), _int(value.stop), _int(value.step)]}
        if kind is fractions.Fraction:
            return {"t": "Fraction", "v": [_int(value.numerator), _int(value.denominator)]}
        if kind is decimal.Decimal:
            return {"t": "Decimal", "v": str(value)}
        if kind is datetime.timedelta:
            return {"t": "timedelta", "v": [value.days, value.seconds, value.microseconds]}
        if kind is datetime.date:
            return {"t": "date", "v": [value.year, value.month, value.day]}
        if kind is datetime.datetime or kind is datetime.time:
            fields = ["year", "month", "day"] if kind is datetime.datetime else []
            fields += ["hour", "minute", "second", "microsecond"]
            node = {"t": kind.__name__, "v": [getattr(value, f) for f in fields], "fold": value.fold}
            if value.tzinfo is not None:
                node["tz"] = self.write(value.tzinfo)
            return node
        if kind is datetime.timezone:
            offset = value.utcoffset(None)
            name = value.tzname(None)
            default = datetime.timezone(offset).tzname(None)
            return {"t": "timezone", "v": self.write(offset), "name": None if name == default else name}
        if isinstance(value, type) and FACTORIES.get(value.__name__) is value:
            return {"t": "type", "n": value.__name__}  # a builtin type as a value: [int, float]
        if isinstance(value, (types.FunctionType, type)):
            named = self.definition(value)
            if named is not None:
                return named
        # refused before anything asks the object to describe itself: a library's object
        # may do real work for that (copy a GPU buffer back, draw a figure)
        raise NotPortable(describe_kind(value))


def describe_kind(value: Any) -> str:
    """What a value is, in words, for a reason the page shows ("a generator")."""
    import io

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
    ours = kind.__module__ in ("builtins", "__main__") or is_exported_module(kind.__module__)
    return a(describe_class(kind)) + ("" if ours else " (a library's object)")


def write_value(
    value: Any, namespace: Mapping[str, Any], digest: Callable[[bytes], str], npy: Callable[[Any], bytes]
) -> Written:
    """`value` as the bytes of a JSON file; NotPortable says what in it cannot travel."""
    writer = _Writer(namespace, digest, npy)
    try:
        writer.count(value)
        tree = writer.write(value)
    except RecursionError:
        raise NotPortable("a structure too deep to copy") from None
    text = json.dumps({"format": FORMAT, "version": VERSION, "value": tree}, separators=(",", ":"), allow_nan=False)
    writer.out.data = text.encode("utf-8")
    return writer.out


def mutable_ids(value: Any) -> set[int]:
    """The ids of the mutable objects in a value (lists, dicts, arrays, essay objects,
    itself included), valid while the value lives: two names whose values share one must
    travel together, or an update through one would not show through the other.
    NotPortable for a value that cannot travel."""
    writer = _Writer({}, lambda data: "", lambda value: b"")
    try:
        writer.count(value)
    except RecursionError:
        raise NotPortable("a structure too deep to copy") from None
    return writer.mutable


def load_npy(data: bytes, scalar: bool = False) -> Any:
    import io

    import numpy as np

    array = np.load(io.BytesIO(data), allow_pickle=False)
    return array[()] if scalar else array
