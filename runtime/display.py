"""Turn Python values into output records.

This module runs in both hosts: CPython at build time and Pyodide in the page. It must
stay pure Python (no numpy import: arrays are recognised by their attributes), so an
unedited cell formats the same way in both places by construction.
"""

from __future__ import annotations

import json
import types
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_STRING = 100  # characters of a string value before it is cut with "…"
MAX_REPR = 200  # characters of any other one-line value
EDGE = 3  # items shown at each end of a long sequence
MAX_LINES = 1000  # an output over this many lines is cut...
MAX_BYTES = 100_000  # ...and so is one over this many bytes

# Output kinds. "stream" is what a cell printed; "value" a formatted value (labelled when
# it came from a name or a show(value, label) call); "figure" a Plotly figure as JSON;
# "error" a traceback; "note" a message from the runtime itself (timeouts, rebuilt state).
KINDS = ("stream", "value", "figure", "error", "note")


@dataclass
class Output:
    """One record of a cell's output. Plain data: it crosses process and host borders."""

    kind: str
    text: str = ""
    label: str | None = None
    figure: dict | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Output":
        return cls(**data)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def limit_output(text: str) -> str:
    """Cut a long output, saying how much was cut, so one cell cannot flood a page."""
    lines = text.split("\n")
    note = ""
    if len(lines) > MAX_LINES:
        note = f"… {len(lines) - MAX_LINES:,} more lines cut"
        lines = lines[:MAX_LINES]
        text = "\n".join(lines)
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_BYTES:
        dropped = len(encoded) - MAX_BYTES
        text = encoded[:MAX_BYTES].decode("utf-8", errors="ignore")
        note = f"… {dropped:,} more bytes cut"
    return f"{text}\n{note}" if note else text


# ----- value formatting ------------------------------------------------------------------


def _is_array(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "tolist")


def _number(value: Any) -> str:
    # numpy scalars print like Python numbers through .item()
    if hasattr(value, "item") and hasattr(value, "dtype"):
        value = value.item()
    return repr(value)


def _items(items: list, fmt) -> str:
    if len(items) > 2 * EDGE:
        shown = [fmt(x) for x in items[:EDGE]] + ["…"] + [fmt(x) for x in items[-EDGE:]]
    else:
        shown = [fmt(x) for x in items]
    return ", ".join(shown)


def _scalar(value: Any) -> str:
    """A short form for an element inside a container."""
    if isinstance(value, str):
        return repr(cut(value, MAX_STRING))
    if isinstance(value, (int, float, complex, bool)) or (hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "shape", None) == ()):
        return _number(value)
    return format_value(value)


def _sequence(name: str, items: list) -> str:
    return f"{name}({len(items)}) [{_items(items, _scalar)}]"


def _matrix_rows(rows: list, fmt) -> list[str]:
    if len(rows) > 2 * EDGE:
        return [fmt(r) for r in rows[:EDGE]] + ["…"] + [fmt(r) for r in rows[-EDGE:]]
    return [fmt(r) for r in rows]


def _array(value: Any) -> str:
    shape = tuple(value.shape)
    dtype = str(value.dtype)
    if len(shape) == 0:
        return _number(value)
    if len(shape) == 1:
        return _sequence("array", value.tolist())
    dims = "×".join(str(n) for n in shape)
    if len(shape) > 3:
        return f"{dims} {dtype}"

    def row(r: list) -> str:
        return "[" + _items(r, _number) + "]"

    def plane(p: list) -> str:
        return "[" + ", ".join(_matrix_rows(p, row)) + "]"

    data = value.tolist()
    body = ",\n ".join(_matrix_rows(data, row if len(shape) == 2 else plane))
    return f"{dims} {dtype}\n[{body}]"


def format_value(value: Any) -> str:
    """Format a value the way the reference notebooks print it."""
    if hasattr(value, "dtype") and getattr(value, "shape", None) == () and hasattr(value, "item"):
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
        body = ", ".join(f"{_scalar(k)}: {_scalar(v)}" for k, v in value.items())
        return cut("{" + body + "}", MAX_REPR)
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return f"<function {getattr(value, '__qualname__', getattr(value, '__name__', '?'))}>"
    if isinstance(value, type):
        return f"<class {value.__qualname__}>"
    if hasattr(value, "dtype") and hasattr(value, "item"):
        return _number(value)
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break the cell's other outputs
        text = f"<{type(value).__name__} (repr failed: {exc})>"
    return cut(text, MAX_REPR)


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
