"""Turn Python values into output records.

This module runs in both hosts: CPython at build time and Pyodide in the page. It must
stay pure Python (no numpy import: arrays are recognised by their attributes), so an
unedited cell formats the same way in both places by construction.
"""

from __future__ import annotations

import json
import re
import types
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

MAX_STRING = 100  # characters of a string value before it is cut with "…"
MAX_REPR = 200  # characters of any other one-line value
EDGE = 3  # items shown at each end of a long sequence
MAX_LINES = 1000  # an output over this many lines is cut...
MAX_BYTES = 100_000  # ...and so is one over this many bytes
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

# Output kinds. "stream" is what a cell printed; "value" a formatted value (labelled when
# it came from a name or a show(value, label) call); "figure" a Plotly figure as JSON;
# "error" a traceback; "note" a message from the runtime itself (timeouts, rebuilt state).
OutputKind = Literal["stream", "value", "figure", "error", "note"]
KINDS: tuple[OutputKind, ...] = get_args(OutputKind)


@dataclass
class Output:
    """One record of a cell's output. Plain data: it crosses process and host borders."""

    kind: OutputKind
    text: str = ""
    label: str | None = None
    figure: dict | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Output:
        return cls(**data)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def limit_output(text: str, more_bytes: int = 0) -> str:
    """Cut a long output, saying how much was cut, so one cell cannot flood a page.
    `more_bytes`: bytes already dropped before `text` reached here (read from a file)."""
    lines = text.split("\n")
    note = ""
    if len(lines) > MAX_LINES:
        note = f"… {len(lines) - MAX_LINES:,} more lines cut"
        lines = lines[:MAX_LINES]
        text = "\n".join(lines)
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_BYTES or more_bytes:
        dropped = max(0, len(encoded) - MAX_BYTES) + more_bytes
        text = encoded[:MAX_BYTES].decode("utf-8", errors="ignore")
        note = f"… {dropped:,} more bytes cut"
    return f"{text}\n{note}" if note else text


# ----- value formatting ------------------------------------------------------------------


def _is_array(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "tolist")


def _is_numpy_scalar(value: Any) -> bool:
    return hasattr(value, "dtype") and getattr(value, "shape", None) == () and hasattr(value, "item")


def _number(value: Any) -> str:
    # str() of a numpy scalar is the shortest text that reads back in its own dtype:
    # float32 0.1 prints as 0.1, not as the float64 0.10000000149011612
    if isinstance(value, str):
        return repr(cut(str(value), MAX_STRING))
    if isinstance(value, bytes):
        return repr(bytes(value[:MAX_STRING])) + ("…" if len(value) > MAX_STRING else "")
    return str(value) if _is_numpy_scalar(value) else repr(value)


def _scalar(value: Any) -> str:
    """A short form for an element inside a container."""
    if isinstance(value, (str, int, float, complex, bool)) or _is_numpy_scalar(value):
        return _number(value)
    return format_value(value)


def _edges(n: int) -> list[int | None]:
    """Indices shown along an axis of length n; None stands for the elided middle."""
    return list(range(n)) if n <= 2 * EDGE else [*range(EDGE), None, *range(n - EDGE, n)]


def _items(items: list, fmt) -> str:
    return ", ".join("…" if i is None else fmt(items[i]) for i in _edges(len(items)))


def _sequence(name: str, items: list) -> str:
    return f"{name}({len(items)}) [{_items(items, _scalar)}]"


def _array(value: Any) -> str:
    """Only the corners of an array are read: formatting a 200,000-row matrix costs what
    formatting a 7×7 one does."""
    shape, dtype = tuple(value.shape), value.dtype
    if len(shape) == 0:
        return _number(value)
    if not any(c.__name__ == "ndarray" and c.__module__ == "numpy" for c in type(value).__mro__):
        # array-like but not numpy's (a matrix class of an essay): numpy's view of it when
        # it offers one (cheap, so still only corners are read), else its nested lists
        as_array = getattr(value, "__array__", None)
        viewed = as_array() if callable(as_array) else None
        value = viewed if viewed is not None and _is_array(viewed) and tuple(viewed.shape) == shape else value.tolist()
    if len(shape) == 1:
        return _sequence("array", value)
    dims = "×".join(str(n) for n in shape)
    if len(shape) > 3:
        return f"{dims} {dtype}"

    def line(vector: Any) -> str:
        return "[" + _items(vector, _number) + "]"

    def block(matrix: Any, fmt) -> list[str]:
        return ["…" if i is None else fmt(matrix[i]) for i in _edges(len(matrix))]

    if len(shape) == 2:
        rows = block(value, line)
    else:
        rows = block(value, lambda plane: "[" + ", ".join(block(plane, line)) + "]")
    return f"{dims} {dtype}\n[" + ",\n ".join(rows) + "]"


def format_value(value: Any) -> str:
    """Format a value the way the reference notebooks print it."""
    if _is_numpy_scalar(value):
        return _number(value)  # numpy scalars (np.float64 is also a float) print as numbers
    if value is None or isinstance(value, (bool, int, float, complex)):
        return repr(value)
    if isinstance(value, str):
        return repr(cut(value, MAX_STRING))
    if _is_array(value):
        return _array(value)
    if isinstance(value, (list, tuple)):
        return _sequence(type(value).__name__, list(value))
    if isinstance(value, (set, frozenset)):
        try:
            items = sorted(value)
        except TypeError:
            items = list(value)
        return _sequence(type(value).__name__, items)
    if isinstance(value, dict):
        parts, length = [], 0
        for key, item in value.items():  # stop once the line is long enough to be cut
            parts.append(f"{_scalar(key)}: {_scalar(item)}")
            length += len(parts[-1]) + 2
            if length > MAX_REPR:
                break
        return cut("{" + ", ".join(parts) + ("…" if len(parts) < len(value) else "") + "}", MAX_REPR)
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return f"<function {getattr(value, '__qualname__', getattr(value, '__name__', '?'))}>"
    if isinstance(value, type):
        return f"<class {value.__qualname__}>"
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break the cell's other outputs
        text = f"<{type(value).__name__} (repr failed: {exc})>"
    # "<Foo object at 0x7f3a...>": the address changes every run; the page should not
    return cut(ADDRESS.sub("", text), MAX_REPR)


# ----- diagrams ----------------------------------------------------------------------------


class Dot:
    """A Graphviz diagram from its DOT source: `show(Dot("digraph { a -> b }"))`, or end a
    cell with one. Any value with a `_repr_dot_()` method that returns DOT source shows the
    same way, drawn as SVG at build time and again in the page after an edit."""

    def __init__(self, source: str) -> None:
        self.source = source

    def _repr_dot_(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"Dot({cut(self.source, 60)!r})"


# ----- figures ---------------------------------------------------------------------------


def is_figure(value: Any) -> bool:
    if hasattr(value, "to_plotly_json"):
        return True
    return isinstance(value, dict) and "data" in value and isinstance(value["data"], (list, tuple))


def _jsonable(value: Any) -> Any:
    """json.dumps default= hook: arrays, numpy scalars and plotly objects."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_plotly_json"):
        return value.to_plotly_json()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def figure_json(value: Any) -> dict:
    """A figure as plain JSON data: {"data": [...], "layout": {...}}."""
    raw = value.to_plotly_json() if hasattr(value, "to_plotly_json") else value
    # a round trip through JSON turns numpy arrays into lists and drops plotly objects
    plain = json.loads(json.dumps(raw, default=_jsonable))
    return {"data": plain.get("data", []), "layout": plain.get("layout", {})}


def to_output(value: Any, label: str | None = None) -> Output:
    """One value as an output record: a chart for figures, formatted text otherwise."""
    if is_figure(value):
        try:
            return Output("figure", label=label, figure=figure_json(value))
        except (TypeError, ValueError) as exc:
            return Output("error", label=label, text=f"figure could not be serialised: {exc}")
    return Output("value", label=label, text=limit_output(format_value(value)))
