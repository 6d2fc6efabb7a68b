"""`display()` and a small stand-in for `IPython.display`, in both hosts.

Notebooks call `display(value)` and build rich values with `IPython.display`'s classes.
Neither the build's worker nor Pyodide has IPython, so a converted notebook would fail on
its first such line. The kernel puts `display` in every cell's namespace, and
`install_stand_in()` lets `import IPython.display` find this module's classes whenever no
real IPython is installed (the finder is the last one asked, so an installed IPython wins).

Each class is a plain value that offers one form of the display protocol
(`_repr_html_`, `_repr_markdown_`, ...), so runtime/display.py shows it as it shows any
rich value; nothing here renders HTML itself.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

# where display() sends a value: the running cell's show(), set by the kernel around a run
_sink: Callable[[Any], None] | None = None


def set_sink(sink: Callable[[Any], None] | None) -> None:
    global _sink
    _sink = sink


def display(*objs: Any, **_options: Any) -> None:
    """Show each value in the cell's output, as `show(value)` does. Options of IPython's
    display (`display_id`, `raw`, ...) are accepted and ignored: a static page has no
    output to update later."""
    for obj in objs:
        if _sink is not None:
            _sink(obj)
        else:  # outside a cell (a module imported on its own): what IPython does without a shell
            print(repr(obj))


def _read(filename: str | None, binary: bool) -> Any:
    if filename is None:
        return None
    with open(filename, "rb" if binary else "r", encoding=None if binary else "utf-8") as file:
        return file.read()


class _Text:
    """A text value given as `data`, or read from `filename` (relative to the essays folder,
    the working directory of every cell)."""

    def __init__(self, data: Any = None, url: str | None = None, filename: str | None = None) -> None:
        if data is None and url is not None:
            # nothing is downloaded at build time or in the page: say so in the output
            data = self._link(url)
        self.data: str = str(data) if data is not None else str(_read(filename, binary=False) or "")

    def _link(self, url: str) -> str:
        return url

    def __repr__(self) -> str:
        text = self.data if len(self.data) <= 40 else self.data[:39] + "…"
        return f"{type(self).__name__}({text!r})"


class HTML(_Text):
    """Markup shown as it is (trusted, like the author's Markdown)."""

    def _link(self, url: str) -> str:
        from html import escape

        return f'<a href="{escape(url)}">{escape(url)}</a>'

    def _repr_html_(self) -> str:
        return self.data


class Markdown(_Text):
    """Markdown, rendered where markdown-it-py is at hand (the build)."""

    def _repr_markdown_(self) -> str:
        return self.data


class Latex(_Text):
    """LaTeX math as written, its `$…$` or `$$…$$` delimiters included."""

    def _repr_latex_(self) -> str:
        return self.data


class Math(_Text):
    """A formula without delimiters, shown as display math (as IPython's Math is)."""

    def _repr_latex_(self) -> str:
        return "$$" + self.data.strip().strip("$") + "$$"


class SVG(_Text):
    """An SVG drawing: from its `<svg` on, so a file's XML prolog stays out of the page."""

    def _repr_svg_(self) -> str:
        start = self.data.find("<svg")
        return self.data[start:] if start >= 0 else self.data


_FORMATS = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg"}


class Image:
    """A PNG or JPEG from bytes or a file, or an image at a URL (linked, not downloaded).
    `width` and `height` are kept as the `<img>`'s attributes."""

    def __init__(
        self,
        data: Any = None,
        url: str | None = None,
        filename: str | None = None,
        format: str | None = None,
        width: int | str | None = None,
        height: int | str | None = None,
        **_options: Any,
    ) -> None:
        if isinstance(data, str) and data.startswith(("http://", "https://", "data:")):
            url, data = data, None
        elif isinstance(data, str):
            filename, data = data, None
        if filename is not None and format is None:
            format = os.path.splitext(filename)[1].lstrip(".")
        self.data: bytes | None = data if data is not None else _read(filename, binary=True)
        self.url = url
        if format is None and self.data is not None:
            format = "jpeg" if self.data.startswith(b"\xff\xd8") else "png"
        self.format = _FORMATS.get((format or "png").lower())
        if self.format is None and self.url is None:
            raise ValueError(f"Image: {format!r} is not PNG or JPEG")
        self.width, self.height = width, height

    def _size(self) -> str:
        from html import escape

        return "".join(
            f' {name}="{escape(str(value))}"'
            for name, value in (("width", self.width), ("height", self.height))
            if value is not None
        )

    def _repr_html_(self) -> str | None:
        from html import escape

        if self.url is not None:
            return f'<img src="{escape(self.url)}" alt=""{self._size()}>'
        if not self._size():
            return None  # the PNG or JPEG form below says it all
        import base64

        encoded = base64.b64encode(self.data or b"").decode("ascii")
        return f'<img src="data:image/{self.format};base64,{encoded}" alt=""{self._size()}>'

    def _repr_png_(self) -> bytes | None:
        return self.data if self.format == "png" and self.url is None else None

    def _repr_jpeg_(self) -> bytes | None:
        return self.data if self.format == "jpeg" and self.url is None else None

    def __repr__(self) -> str:
        return f"Image({self.url or self.format!r})"


def clear_output(wait: bool = False) -> None:
    """A static page keeps every output a cell made: there is nothing to clear."""


EXPORTS: Sequence[str] = ("HTML", "Markdown", "Latex", "Math", "SVG", "Image", "display", "clear_output")


def _no_shell() -> None:
    return None


class _StandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `IPython` and `IPython.display` when nothing else on sys.meta_path does."""

    NAMES = ("IPython", "IPython.display")

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.NAMES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=fullname == "IPython")

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        this = sys.modules[__name__]
        module.__doc__ = "A stand-in for IPython's display tools (runtime/ipython.py): IPython is not installed."
        for name in EXPORTS:
            setattr(module, name, getattr(this, name))
        if module.__name__ == "IPython":
            # libraries look for sys.modules["IPython"] to learn whether a notebook runs them
            # (matplotlib, pandas, tqdm): the answer they then ask for is get_ipython(), and
            # None says "no shell", as in a plain script. A version below any real one makes
            # matplotlib ask it rather than assume a modern IPython.
            module.get_ipython = _no_shell  # type: ignore[attr-defined]
            module.version_info = (0, 0, 0, "stand-in")  # type: ignore[attr-defined]
            module.__version__ = "0.0.0+essays.stand-in"  # type: ignore[attr-defined]


def install_stand_in() -> None:
    """Let `import IPython.display` find the stand-in when IPython is not installed; once."""
    if not any(isinstance(finder, _StandIn) for finder in sys.meta_path):
        sys.meta_path.append(_StandIn())
