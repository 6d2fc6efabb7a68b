"""Reading the state's typed JSON (runtime/state_json.py describes the format), in the page
and at build time, where every value written is read back before it is shipped.

The reader constructs only the types of the format's closed list: a tag it does not know
is refused, a "def" is looked up in the page's namespace, an "ext" only in a module an
essay exports, and an object is made by object.__new__ and filled in, never by calling its
class. Every refusal is a StateFormatError that says what was wrong.
"""

from __future__ import annotations

import base64
import collections
import datetime
import decimal
import fractions
import importlib
import json
import random
import types
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TypeVar

from .state_json import BIT_GENERATORS, FACTORIES, FORMAT, VERSION, StateFormatError, describe_class, load_npy


def _refuse_constant(name: str) -> Any:
    raise StateFormatError(f"a bare {name} (the writer tags them)")


_T = TypeVar("_T")
_M = TypeVar("_M", bound="MutableMapping[Any, Any]")


class _Reader:
    def __init__(self, namespace: Mapping[str, Any], part: Callable[[str], bytes]) -> None:
        self.namespace = namespace
        self.part = part
        self.table: dict[int, Any] = {}
        self._exported: dict[str, str] | None = None

    def exported(self, module: str) -> bool:
        if self._exported is None:
            from .imports import exported_modules

            self._exported = exported_modules()
        return module in self._exported

    def read(self, node: Any) -> Any:
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is list:
            return [self.read(x) for x in node]
        if type(node) is not dict or not isinstance(node.get("t"), str):
            raise StateFormatError(f"a node that is neither a JSON value nor tagged: {str(node)[:60]}")
        tag = node["t"]
        handler = getattr(self, "read_" + tag, None) if tag.isidentifier() else None
        if handler is None:
            raise StateFormatError(f"an unknown tag {tag!r}")
        value = handler(node)
        if "i" in node and node["i"] not in self.table:  # a shared array, tuple, date, ...
            self._made(node, value)
        return value

    def _made(self, node: dict[str, Any], value: _T) -> _T:
        if "i" in node:
            if type(node["i"]) is not int or node["i"] in self.table:
                raise StateFormatError(f"a node numbered {node['i']!r} twice or oddly")
            self.table[node["i"]] = value
        return value

    def _items(self, node: dict[str, Any], key: str = "v") -> list[Any]:
        items = node.get(key)
        if type(items) is not list:
            raise StateFormatError(f"a {node['t']} without its list of items")
        return items

    def _fill(self, node: dict[str, Any], target: _M) -> _M:
        """Read a mapping's pairs into `target` (made and numbered first)."""
        if "s" in node:
            pairs = node["s"]
            if type(pairs) is not dict:
                raise StateFormatError(f"a {node['t']} whose names are not an object")
            for k, v in pairs.items():
                target[k] = self.read(v)
        else:
            for pair in self._items(node):
                if type(pair) is not list or len(pair) != 2:
                    raise StateFormatError(f"a {node['t']} entry that is not a pair")
                key = self.read(pair[0])  # the key first, as it was written (refs follow)
                target[key] = self.read(pair[1])
        return target

    def read_ref(self, node: dict[str, Any]) -> Any:
        if node.get("i") not in self.table:
            raise StateFormatError(f"a reference to object {node.get('i')!r}, which is not made yet")
        return self.table[node["i"]]

    def read_int(self, node: dict[str, Any]) -> int:
        return int(self._text(node), 16)

    def read_float(self, node: dict[str, Any]) -> float:
        text = self._text(node)
        if text not in ("nan", "inf", "-inf"):
            raise StateFormatError(f"a float {text!r} that is not nan or infinite")
        return float(text)

    def _text(self, node: dict[str, Any]) -> str:
        if type(node.get("v")) is not str:
            raise StateFormatError(f"a {node['t']} without its text")
        return str(node["v"])

    def _numbers(self, node: dict[str, Any], count: int, kinds: tuple[type, ...] = (int,)) -> list[Any]:
        got = [self.read(x) for x in self._items(node)]
        if len(got) != count or not all(type(x) in kinds for x in got):
            raise StateFormatError(f"a {node['t']} with other than {count} numbers")
        return got

    def read_complex(self, node: dict[str, Any]) -> complex:
        re, im = self._numbers(node, 2, (float,))
        return complex(re, im)

    def read_bytes(self, node: dict[str, Any]) -> bytes:
        return self._made(node, base64.b64decode(self._text(node), validate=True))

    def read_bytearray(self, node: dict[str, Any]) -> bytearray:
        return self._made(node, bytearray(base64.b64decode(self._text(node), validate=True)))

    def read_range(self, node: dict[str, Any]) -> range:
        return self._made(node, range(*self._numbers(node, 3)))

    def read_slice(self, node: dict[str, Any]) -> slice:
        start, stop, step = (self.read(x) for x in self._items(node))
        return self._made(node, slice(start, stop, step))

    def read_tuple(self, node: dict[str, Any]) -> tuple[Any, ...]:
        return self._made(node, tuple(self.read(x) for x in self._items(node)))

    def read_frozenset(self, node: dict[str, Any]) -> frozenset[Any]:
        return self._made(node, frozenset(self.read(x) for x in self._items(node)))

    def read_list(self, node: dict[str, Any]) -> list[Any]:
        made: list[Any] = self._made(node, [])
        made.extend(self.read(x) for x in self._items(node))
        return made

    def read_set(self, node: dict[str, Any]) -> set[Any]:
        made: set[Any] = self._made(node, set())
        made.update(self.read(x) for x in self._items(node))
        return made

    def read_deque(self, node: dict[str, Any]) -> collections.deque[Any]:
        maxlen = node.get("maxlen")
        if maxlen is not None and type(maxlen) is not int:
            raise StateFormatError("a deque whose maxlen is not a number")
        made: collections.deque[Any] = self._made(node, collections.deque(maxlen=maxlen))
        made.extend(self.read(x) for x in self._items(node))
        return made

    def read_dict(self, node: dict[str, Any]) -> dict[Any, Any]:
        return self._fill(node, self._made(node, {}))

    def read_OrderedDict(self, node: dict[str, Any]) -> collections.OrderedDict[Any, Any]:
        return self._fill(node, self._made(node, collections.OrderedDict()))

    def read_Counter(self, node: dict[str, Any]) -> collections.Counter[Any]:
        return self._fill(node, self._made(node, collections.Counter()))

    def read_defaultdict(self, node: dict[str, Any]) -> collections.defaultdict[Any, Any]:
        named = node.get("f")
        if named is None:
            factory: Any = None
        elif type(named) is str and named in FACTORIES:
            factory = FACTORIES[named]
        elif type(named) is dict and named.get("t") in ("def", "ext"):
            factory = self.read(named)
        else:
            raise StateFormatError(f"a defaultdict whose factory {str(named)[:40]!r} is not on the list")
        return self._fill(node, self._made(node, collections.defaultdict(factory)))

    def read_type(self, node: dict[str, Any]) -> type:
        name = node.get("n")
        if type(name) is not str or name not in FACTORIES:
            raise StateFormatError(f"a type {str(name)[:40]!r} that is not on the list")
        return FACTORIES[name]

    def read_Fraction(self, node: dict[str, Any]) -> fractions.Fraction:
        numerator, denominator = self._numbers(node, 2)
        return fractions.Fraction(numerator, denominator)

    def read_Decimal(self, node: dict[str, Any]) -> decimal.Decimal:
        return decimal.Decimal(self._text(node))

    def read_timedelta(self, node: dict[str, Any]) -> datetime.timedelta:
        days, seconds, micro = self._numbers(node, 3)
        return datetime.timedelta(days, seconds, micro)

    def read_date(self, node: dict[str, Any]) -> datetime.date:
        return datetime.date(*self._numbers(node, 3))

    def _tz(self, node: dict[str, Any]) -> datetime.tzinfo | None:
        if "tz" not in node:
            return None
        tz = self.read(node["tz"])
        if type(tz) is not datetime.timezone:
            raise StateFormatError(f"a {node['t']} whose time zone is not a timezone")
        return tz

    def _fold(self, node: dict[str, Any]) -> int:
        fold = node.get("fold", 0)
        if fold not in (0, 1):
            raise StateFormatError(f"a {node['t']} whose fold is {fold!r}")
        return int(fold)

    def read_datetime(self, node: dict[str, Any]) -> datetime.datetime:
        y, mo, d, h, mi, sec, us = self._numbers(node, 7)
        return datetime.datetime(y, mo, d, h, mi, sec, us, tzinfo=self._tz(node), fold=self._fold(node))

    def read_time(self, node: dict[str, Any]) -> datetime.time:
        h, mi, sec, us = self._numbers(node, 4)
        return datetime.time(h, mi, sec, us, tzinfo=self._tz(node), fold=self._fold(node))

    def read_timezone(self, node: dict[str, Any]) -> datetime.timezone:
        offset = self.read(node.get("v"))
        name = node.get("name")
        if type(offset) is not datetime.timedelta or (name is not None and type(name) is not str):
            raise StateFormatError("a timezone without its offset")
        return datetime.timezone(offset) if name is None else datetime.timezone(offset, name)

    def read_npy(self, node: dict[str, Any]) -> Any:
        name = node.get("p")
        if type(name) is not str or not name.isalnum():
            raise StateFormatError("an array without its part's digest")
        return load_npy(self.part(name), bool(node.get("scalar")))

    def read_Generator(self, node: dict[str, Any]) -> Any:
        import numpy as np

        bits = node.get("bg")
        if type(bits) is not str or bits not in BIT_GENERATORS:
            raise StateFormatError(f"a Generator whose bit generator {str(bits)[:40]!r} is not on the list")
        state = self.read(node.get("state"))
        maker = getattr(np.random, bits)()  # seeded from the OS, then given the build's state
        try:
            maker.state = state
        except (TypeError, ValueError, KeyError) as exc:
            raise StateFormatError(f"a {bits} state that numpy refuses ({exc})") from None
        return np.random.Generator(maker)

    def read_Random(self, node: dict[str, Any]) -> random.Random:
        made = random.Random()
        try:
            made.setstate(self.read(node.get("v")))
        except (TypeError, ValueError) as exc:
            raise StateFormatError(f"a Random state that random refuses ({exc})") from None
        return made

    def read_def(self, node: dict[str, Any]) -> Any:
        name = node.get("n")
        if type(name) is not str:
            raise StateFormatError("a definition without its name")
        found = self.namespace.get(name)
        if found is None:
            raise StateFormatError(f"the essay's {name} is not defined")
        if not isinstance(found, (types.FunctionType, type)):
            raise StateFormatError(f"the essay's {name} is not a function or class")
        return found

    def read_ext(self, node: dict[str, Any]) -> Any:
        module, qualname = node.get("m"), node.get("q")
        if type(module) is not str or type(qualname) is not str:
            raise StateFormatError("a module's definition without its names")
        parts = qualname.split(".")
        if not self.exported(module) or any(not p.isidentifier() or p.startswith("__") for p in parts):
            raise StateFormatError(f"{module}.{qualname}, which no essay exports")
        found: Any = importlib.import_module(module)
        for part in parts:
            found = getattr(found, part, None)
        if not isinstance(found, (types.FunctionType, type)) or found.__module__ != module:
            raise StateFormatError(f"{module}.{qualname}, which is not a function or class of {module}")
        return found

    def read_obj(self, node: dict[str, Any]) -> Any:
        named = node.get("c")
        if type(named) is not dict or named.get("t") not in ("def", "ext"):
            raise StateFormatError("an object without its class")
        cls = self.read(named)
        plain = isinstance(cls, type) and all(
            b.__module__ == "__main__" or self.exported(b.__module__) for b in cls.__mro__[:-1]
        )
        if not plain:
            raise StateFormatError(f"an object of {describe_class(cls)}, which is not an essay's plain class")
        made = self._made(node, object.__new__(cls))
        own, slots = node.get("d", {}), node.get("s", {})
        if type(own) is not dict or type(slots) is not dict:
            raise StateFormatError("an object whose attributes are not an object")
        if own:
            # its __dict__, filled without calling the class's __setattr__
            object.__getattribute__(made, "__dict__").update({k: self.read(v) for k, v in own.items()})
        for name, value in slots.items():
            slot = next((b.__dict__[name] for b in cls.__mro__ if name in b.__dict__), None)
            if not isinstance(slot, types.MemberDescriptorType):
                raise StateFormatError(f"{describe_class(cls)} has no slot {name!r}")
            slot.__set__(made, self.read(value))
        return made


def read_value(data: bytes, namespace: Mapping[str, Any], part: Callable[[str], bytes]) -> Any:
    """The value a state file holds; StateFormatError says why a file is refused.
    `namespace`: where "def" names are found; `part(digest)`: an array's .npy bytes."""
    try:
        document = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, StateFormatError):
            raise
        raise StateFormatError(f"not a state file ({exc})") from None
    if type(document) is not dict or document.get("format") != FORMAT:
        raise StateFormatError("not a state file")
    if document.get("version") != VERSION:
        raise StateFormatError(f"a state file of version {document.get('version')!r}, not {VERSION}")
    return _Reader(namespace, part).read(document.get("value"))
