"""Turn Python values into output records.

This module runs in both hosts: CPython at build time and Pyodide in the page. It must
stay pure Python (no numpy import: arrays are recognised by their attributes), so an
unedited cell formats the same way in both places by construction.
"""

from __future__ import annotations

import json
import re
import sys
import types
from collections.abc import Callable, Sequence
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
# "html" a value's own rich form (the display protocol: HTML, Markdown, LaTeX, SVG, PNG,
# JPEG; `mime` says which), trusted like the author's Markdown; "dot" a Graphviz diagram
# (`text` its DOT source, `html` its SVG once a host has drawn it); "error" a traceback;
# "note" a message from the runtime itself (timeouts, rebuilt state); "control" an input a
# reader moves (runtime/ui.py: `control` its settings, `text` its value as shown).
OutputKind = Literal["stream", "value", "figure", "html", "dot", "error", "note", "control"]
KINDS: tuple[OutputKind, ...] = get_args(OutputKind)


@dataclass
class Output:
    """One record of a cell's output. Plain data: it crosses process and host borders."""

    kind: OutputKind
    text: str = ""
    label: str | None = None
    figure: dict[str, Any] | None = field(default=None, repr=False)
    html: str | None = field(default=None, repr=False)  # "html": the markup; "dot": its SVG
    mime: str | None = None  # "html": the media type it came from
    control: dict[str, Any] | None = field(default=None, repr=False)  # "control": runtime/ui.py's settings

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Output:
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
    # a class (np.ndarray, np.float64) has these attributes too, as descriptors: not an array
    return (
        not isinstance(value, type) and hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "tolist")
    )


def _is_numpy_scalar(value: Any) -> bool:
    return (
        not isinstance(value, type)
        and hasattr(value, "dtype")
        and getattr(value, "shape", None) == ()
        and hasattr(value, "item")
    )


# numpy's print options as numpy starts: while they hold, a number prints as str() does
_NUMPY_DEFAULTS = {"precision": 8, "suppress": False, "floatmode": "maxprec", "formatter": None, "sign": "-"}


def _numpy_text(value: Any) -> str | None:
    """A numpy float or complex as numpy prints it under the print options a cell set
    (np.set_printoptions(precision=3, suppress=True)), as Jupyter does; None while the
    options are numpy's defaults, or for other kinds, which they do not change."""
    numpy = sys.modules.get("numpy")  # loaded, since the value is one of its scalars
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if numpy is None or kind not in ("f", "c"):
        return None
    options = numpy.get_printoptions()
    if all(options.get(key) == default for key, default in _NUMPY_DEFAULTS.items()):
        return None
    return str(numpy.array2string(numpy.asarray(value)))


def _number(value: Any) -> str:
    # str() of a numpy scalar is the shortest text that reads back in its own dtype:
    # float32 0.1 prints as 0.1, not as the float64 0.10000000149011612
    if isinstance(value, str):
        return repr(cut(str(value), MAX_STRING))
    if isinstance(value, bytes):
        return repr(bytes(value[:MAX_STRING])) + ("…" if len(value) > MAX_STRING else "")
    if not _is_numpy_scalar(value):
        return repr(value)
    return _numpy_text(value) or str(value)


def _scalar(value: Any) -> str:
    """A short form for an element inside a container."""
    if isinstance(value, (str, int, float, complex, bool)) or _is_numpy_scalar(value):
        return _number(value)
    return format_value(value)


def _edges(n: int) -> list[int | None]:
    """Indices shown along an axis of length n; None stands for the elided middle."""
    return list(range(n)) if n <= 2 * EDGE else [*range(EDGE), None, *range(n - EDGE, n)]


def _items(items: Sequence[Any], fmt: Callable[[Any], str]) -> str:
    return ", ".join("…" if i is None else fmt(items[i]) for i in _edges(len(items)))


def _sequence(name: str, items: Sequence[Any]) -> str:
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

    def block(matrix: Any, fmt: Callable[[Any], str]) -> list[str]:
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


def figure_json(value: Any) -> dict[str, Any]:
    """A figure as plain JSON data: {"data": [...], "layout": {...}}."""
    raw = value.to_plotly_json() if hasattr(value, "to_plotly_json") else value
    # a round trip through JSON turns numpy arrays into lists and drops plotly objects
    plain = json.loads(json.dumps(raw, default=_jsonable))
    return {"data": plain.get("data", []), "layout": plain.get("layout", {})}


# ----- the display protocol ------------------------------------------------------------------

# Jupyter's order of preference among the forms a value offers
PREFERENCE = ("text/html", "text/markdown", "text/latex", "image/svg+xml", "image/png", "image/jpeg")
METHODS = {
    "text/html": "_repr_html_",
    "text/markdown": "_repr_markdown_",
    "text/latex": "_repr_latex_",
    "image/svg+xml": "_repr_svg_",
    "image/png": "_repr_png_",
    "image/jpeg": "_repr_jpeg_",
}


def _method(value: Any, name: str) -> Any:
    """A display method of the value's class (looked up on the class, so a value whose
    __getattr__ answers everything is not taken for a rich one), bound to the value."""
    if isinstance(value, type):
        return None  # a class, not an instance: DataFrame itself is no table
    function = getattr(type(value), name, None)
    return function.__get__(value) if callable(function) else None


def _bundle(value: Any) -> dict[str, Any]:
    """Every form the value offers, by media type."""
    forms: dict[str, Any] = {}
    mimebundle = _method(value, "_repr_mimebundle_")
    if mimebundle is not None:
        data = mimebundle(include=None, exclude=None)
        if isinstance(data, tuple):  # (data, metadata)
            data = data[0]
        forms.update(data or {})
    for mime, name in METHODS.items():
        method = _method(value, name) if mime not in forms else None
        if method is not None:
            result = method()
            if isinstance(result, tuple):
                result = result[0]
            if result is not None:
                forms[mime] = result
    return forms


def is_matplotlib_figure(value: Any) -> bool:
    return any(c.__module__ == "matplotlib.figure" and c.__name__ == "Figure" for c in type(value).__mro__)


def figure_svg(figure: Any) -> str:
    """A matplotlib figure as inline SVG."""
    import io

    import matplotlib

    buffer = io.StringIO()
    # a fixed salt for the SVG's ids and no date: the same figure gives the same page
    with matplotlib.rc_context({"svg.hashsalt": "essays"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # no XML prolog or doctype inside a page


def _markdown_html(text: str) -> str | None:
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # in the page, unless the site ships it
        return None
    # render() is typed as returning Any (its renderer is pluggable); the HTML one gives text
    return str(MarkdownIt("commonmark", {"html": True}).render(text))


def _latex_html(text: str) -> str | None:
    from .typeset import MathError, to_mathml

    latex = text.strip()
    display = latex.startswith(("$$", r"\["))
    for opening, closing in (("$$", "$$"), (r"\[", r"\]"), ("$", "$"), (r"\(", r"\)")):
        if latex.startswith(opening) and latex.endswith(closing) and len(latex) >= len(opening) + len(closing):
            latex = latex[len(opening) : len(latex) - len(closing)]
            break
    try:
        return to_mathml(latex, display=display)
    except MathError:
        return None


def _image_html(mime: str, data: Any) -> str:
    import base64

    # PNG and JPEG come as bytes, or as base64 text from a mimebundle
    encoded = base64.b64encode(data).decode("ascii") if isinstance(data, bytes) else "".join(str(data).split())
    return f'<img src="data:{mime};base64,{encoded}" alt="">'


def rich_output(value: Any, label: str | None = None) -> Output | None:
    """The value's own rich form, when it has one: a Graphviz diagram, a matplotlib figure,
    or the best of what the display protocol offers. None for a plain value."""
    dot = _method(value, "_repr_dot_")
    if dot is not None:
        return Output("dot", text=str(dot()), label=label)
    if is_matplotlib_figure(value):
        return Output("html", label=label, html=figure_svg(value), mime="image/svg+xml")
    forms = _bundle(value)
    for mime in PREFERENCE:
        if mime not in forms:
            continue
        data = forms[mime]
        if mime in ("text/html", "image/svg+xml"):
            html: str | None = data.decode("utf-8") if isinstance(data, bytes) else str(data)
        elif mime == "text/markdown":
            html = _markdown_html(str(data))
        elif mime == "text/latex":
            html = _latex_html(str(data))
        else:
            html = _image_html(mime, data)
        if html is not None:
            return Output("html", label=label, html=html, mime=mime)
    return None


def to_output(value: Any, label: str | None = None) -> Output:
    """One value as an output record: a chart for figures, the value's own rich form when
    it has one (see rich_output), formatted text otherwise. An Output is itself already
    (runtime/ui.py's controls reach the cell's output through display())."""
    if isinstance(value, Output):
        return value
    if is_figure(value):  # a Plotly figure offers HTML too, but its JSON makes a live chart
        try:
            return Output("figure", label=label, figure=figure_json(value))
        except (TypeError, ValueError) as exc:
            return Output("error", label=label, text=f"figure could not be serialised: {exc}")
    rich = rich_output(value, label)
    if rich is not None:
        return rich
    return Output("value", label=label, text=limit_output(format_value(value)))
