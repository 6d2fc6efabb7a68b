"""The kernel: one namespace, cells run in it one after another.

Both hosts use this very file: the builder's worker process under CPython, and the page
under Pyodide. Running a cell returns a list of Output records; rendering them is someone
else's job (runtime/html.py).
"""

from __future__ import annotations

import ast
import io
import linecache
import os
import re
import sys
import sysconfig
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import ipython, ui
from .analysis import listed_names
from .display import Output, figure_svg, is_matplotlib_figure, limit_output, to_output
from .imports import import_hint


class Captures(Protocol):
    """What the kernel needs of a capture (Capture here, builder/execution/capture.py's FdCapture)."""

    def __enter__(self) -> Captures: ...
    def __exit__(self, *exc_info: object) -> None: ...
    def reset(self) -> None: ...
    def text(self) -> str: ...


class _Buffer(io.StringIO):
    def close(self) -> None:
        """A cell that closes sys.stdout must not take the kernel's capture with it."""


class Capture:
    """What a cell writes to sys.stdout and sys.stderr while it runs. Whatever a cell does
    to the streams (replace, close), the kernel's are back after it. The page uses this
    one; the build's worker captures at the file-descriptor level (builder/execution/capture.py)."""

    def __init__(self) -> None:
        self.buffer = _Buffer()

    def __enter__(self) -> Capture:
        self._saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = self.buffer
        return self

    def __exit__(self, *exc_info: object) -> None:
        sys.stdout, sys.stderr = self._saved

    def reset(self) -> None:
        """Forget what was written so far: only the last iteration's output is shown."""
        self.buffer.seek(0)
        self.buffer.truncate(0)

    def text(self) -> str:
        return limit_output(self.buffer.getvalue().rstrip("\n"))


@dataclass
class CellRun:
    """What running a cell gave: its output records, and whether it succeeded (it raised
    nothing and every output could be made). `interrupted`: a KeyboardInterrupt ended it,
    set where the kernel caught it (the page's Stop raises one in the running cell)."""

    outputs: list[Output]
    ok: bool
    interrupted: bool = False


@dataclass
class Compiled:
    """A cell compiled once and run many times (iterations reuse it)."""

    body: types.CodeType | None
    tail: types.CodeType | None  # a trailing bare expression, evaluated for its value
    names: list[str]  # the names shown as `name: value` in the "names" style (listed_names)
    tail_name: str | None = None  # the trailing expression, when it is a bare name


# How a cell shows its values. "names" (the default): each name the cell binds, as
# `name: value`, then the trailing expression; "last" (Jupyter's): only the trailing
# expression. Both show what the cell printed, show()/display() and the figures it drew.
SHOW_STYLES = ("names", "last")


class Kernel:
    """A namespace plus the rules for running cells in it."""

    def __init__(self, capture: Callable[[], Captures] = Capture) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
        self._lines: dict[str, list[str]] = {}
        self.capture = capture
        self._figures_shown: set[int] = set()  # ids of matplotlib figures shown as values
        # the essays folder: every cell starts there, and tracebacks name files relative to it
        self.root = os.getcwd()
        self._interrupted = False  # the running cell caught a KeyboardInterrupt (CellRun.interrupted)
        ipython.install_stand_in()  # converted notebooks import IPython.display

    # -- compiling ---------------------------------------------------------------------

    def remember_source(self, source: str, filename: str, line: int) -> None:
        """Put the cell's lines into linecache at their place in the essay file, so a
        traceback quotes the code of the line it names."""
        lines = self._lines.setdefault(filename, [])
        cell_lines = source.splitlines(keepends=True)
        end = line - 1 + len(cell_lines)
        if len(lines) < end:
            lines.extend(["\n"] * (end - len(lines)))
        lines[line - 1 : end] = [s if s.endswith("\n") else s + "\n" for s in cell_lines]
        linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)

    def compile(self, source: str, filename: str = "<cell>", line: int = 1) -> Compiled:
        """Compile a cell so that its line numbers are the essay file's line numbers."""
        self.remember_source(source, filename, line)
        try:
            tree = ast.parse(source, filename=filename)
        except SyntaxError as exc:
            # parsed on its own, the cell starts at line 1: name the essay file's line, and
            # quote the cell's code (CPython reads the quoted line from a file of that name
            # on disk, which is the essay: its front matter, not the cell)
            if exc.lineno is not None:
                lines = source.splitlines()
                if 1 <= exc.lineno <= len(lines):
                    exc.text = lines[exc.lineno - 1] + "\n"
                exc.lineno += line - 1
            if exc.end_lineno is not None:
                exc.end_lineno += line - 1
            raise
        ast.increment_lineno(tree, line - 1)
        names = listed_names(tree)
        tail = tail_name = None
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr):
            tree.body.pop()
            tail = compile(ast.Expression(last.value), filename, "eval")
            tail_name = last.value.id if isinstance(last.value, ast.Name) else None
        body = compile(tree, filename, "exec") if tree.body else None
        return Compiled(body, tail, names, tail_name)

    # -- running -----------------------------------------------------------------------

    def execute(
        self,
        source: str,
        filename: str = "<cell>",
        line: int = 1,
        iterations: int = 1,
        on_iteration: Callable[[int, int], None] | None = None,
        show: str = "names",
    ) -> CellRun:
        """Run a cell `iterations` times: the outputs of the last run (or of the run that
        failed), and whether it succeeded, decided here and nowhere else. The working
        directory is the same before and after. `show`: one of SHOW_STYLES."""
        try:
            compiled = self.compile(source, filename, line)
        except SyntaxError as exc:
            exc.filename = short_path(exc.filename or filename, self.root)
            text = "".join(traceback.format_exception_only(type(exc), exc))
            return CellRun([Output("error", text=text.rstrip("\n"))], ok=False)
        outputs: list[Output] = []
        ok = True
        total = max(1, iterations)
        self._interrupted = False
        cwd = os.getcwd()
        try:
            with self.capture() as capture:
                for i in range(total):
                    capture.reset()
                    # only the last run's outputs are kept, so only the last run formats them
                    outputs, ok = self.run_compiled(compiled, capture, final=i == total - 1, show=show)
                    if on_iteration is not None:
                        on_iteration(i + 1, iterations)
                    if not ok:
                        break
        finally:
            if os.getcwd() != cwd:  # a cell's os.chdir does not carry into the next cell
                os.chdir(cwd)
        return CellRun(outputs, ok and not any(o.kind == "error" for o in outputs), self._interrupted)

    def run_compiled(
        self, compiled: Compiled, capture: Captures | None = None, final: bool = True, show: str = "names"
    ) -> tuple[list[Output], bool]:
        """Run a compiled cell once, its streams going to `capture` (a fresh one when None).
        Returns (outputs, ok); when not `final`, outputs are only its error, if it failed."""
        if capture is None:
            with self.capture() as fresh:
                return self.run_compiled(compiled, fresh, final, show)
        ns = self.namespace
        shown: list[Output] = []
        seen: list[Any] = []  # objects shown already (by show(), or by name): each is shown once

        def show_value(value: Any, label: str | None = None) -> None:
            """Show a value (or a chart) in the cell's output, with an optional label."""
            if final:
                shown.append(self.output(value, None if label is None else str(label)))
                seen.append(value)

        ns["show"] = show_value
        ns["display"] = ipython.display  # Jupyter's name for show(), in every cell
        ipython.set_sink(show_value)
        ui.begin_run()
        value: Any = None
        error: Output | None = None
        try:
            if compiled.body is not None:
                exec(compiled.body, ns)
            if compiled.tail is not None:
                value = eval(compiled.tail, ns)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: a cell never ends the host
            error = Output("error", text=format_error(exc, self.root))
            self._interrupted |= isinstance(exc, KeyboardInterrupt)
        finally:
            ipython.set_sink(None)

        if not final and error is None:
            return [], True
        outputs: list[Output] = []
        printed = capture.text()
        if printed:
            outputs.append(Output("stream", text=printed))
        outputs.extend(shown)
        if error is not None:
            outputs.append(error)
            return _controls_first(outputs), False
        listed: set[str] = set()
        for name in compiled.names if show == "names" else []:
            if name.startswith("_") or name not in ns or name in ("show", "display"):
                continue
            item = ns[name]
            if isinstance(item, types.ModuleType) or _is_axes(item) or _seen(item, seen):
                continue  # `fig, ax = plt.subplots()`: the figure is the output, not its axes
            listed.add(name)
            seen.append(item)
            outputs.append(self.output(item, label=name))
        # a trailing `x` after `x = ...` is shown by its name already; `fig` after show(fig), too
        if value is not None and compiled.tail_name not in listed and not _seen(value, seen):
            outputs.append(self.output(value))
        outputs.extend(self._drawn_figures())
        return _controls_first(outputs), True

    def _drawn_figures(self) -> list[Output]:
        """The matplotlib figures a cell drew and left open (as `plt.plot` does), as SVG,
        the way Jupyter shows them; then closed, so the next cell starts with none."""
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is None:
            return []
        outputs = []
        for number in pyplot.get_fignums():
            figure = pyplot.figure(number)
            if id(figure) in self._figures_shown:
                continue  # the cell showed it as a value already: once is enough
            try:
                outputs.append(Output("html", html=figure_svg(figure), mime="image/svg+xml"))
            except Exception as exc:
                outputs.append(Output("error", text="this figure could not be drawn:\n" + format_error(exc, self.root)))
        pyplot.close("all")
        self._figures_shown.clear()
        return outputs

    def output(self, value: Any, label: str | None = None) -> Output:
        """A value as an output record; a value that cannot be formatted (a broken
        __repr__, a formatter's bug) becomes an error record, never a dead host."""
        if is_matplotlib_figure(value):
            self._figures_shown.add(id(value))
        try:
            return to_output(value, label)
        except BaseException as exc:
            self._interrupted |= isinstance(exc, KeyboardInterrupt)  # a Stop while the value was formatted
            return Output("error", label=label, text="this value could not be shown:\n" + format_error(exc, self.root))


def _controls_first(outputs: list[Output]) -> list[Output]:
    """A cell's controls (runtime/ui.py) head its output, where the reader looks for what to
    move, whatever the cell printed before making them; the rest keep their order."""
    return sorted(outputs, key=lambda o: o.kind != "control")


def _seen(value: Any, seen: list[Any]) -> bool:
    """`value` is one of the objects in `seen`. Numbers, strings and tuples are left out:
    two names bound to 5 are the same object to Python, but two values to the reader."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, tuple)):
        return False
    return any(value is other for other in seen)


def _is_axes(value: Any) -> bool:
    """A matplotlib Axes: `<Axes: >` says nothing its figure does not show better."""
    return any(c.__module__.startswith("matplotlib.axes") for c in type(value).__mro__)


# the folder that holds this package (the checkout, or site-packages): the runtime's and the
# builder's own files are named from there on, as "runtime/display.py"
_PACKAGES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_STDLIB = sysconfig.get_paths().get("stdlib", "")
_LIBRARIES = ("site-packages", "dist-packages")  # "…/site-packages/numpy/...": whichever install
# the Python installation (a virtual environment's too), unless it is the system's own
_PREFIXES = sorted(
    {p for p in (sys.prefix, sys.base_prefix, sys.exec_prefix) if p and p not in ("/", "/usr", "/usr/local")},
    key=len,
    reverse=True,
)
_HOME = os.path.expanduser("~")


def _inside(filename: str, folder: str) -> str | None:
    """`filename` relative to `folder` ("" for the folder itself), or None when outside."""
    folder = folder.rstrip(os.sep)
    if not folder:
        return None
    if filename == folder:
        return ""
    return filename[len(folder) + 1 :] if filename.startswith(folder + os.sep) else None


def short_path(filename: str, root: str, *folders: str) -> str:
    """A file name fit to publish, never naming the author's folders: relative to the
    essays folder `root` (or to one of `folders`: the essays' modules), from site-packages
    or the standard library on, relative to the checkout for the runtime's own files, and
    "~" for the home folder. Any other name is returned as it is."""
    for folder in (root, *folders):
        if (rest := _inside(filename, folder)) is not None:
            return rest or "."
    for library in _LIBRARIES:
        marker = os.sep + library + os.sep
        if marker in filename:
            return "…" + filename[filename.rindex(marker) :]
    if _STDLIB and (rest := _inside(filename, _STDLIB)) is not None:
        return "…" + os.sep + os.path.basename(_STDLIB) + (os.sep + rest if rest else "")
    if (rest := _inside(filename, _PACKAGES)) is not None:
        return rest or "…"
    for prefix in _PREFIXES:
        if (rest := _inside(filename, prefix)) is not None:
            return "…" + os.sep + rest
    if len(_HOME) > 1 and (rest := _inside(filename, _HOME)) is not None:
        return "~" + (os.sep + rest if rest else "")
    return filename


def scrub_paths(text: str, root: str, *folders: str) -> str:
    """`text` (a traceback, a crash's dump, an error message) with every file name under
    one of the author's folders shortened by short_path. Scrubbing twice changes nothing."""
    starts = {root, *folders, _STDLIB, _PACKAGES, *_PREFIXES, _HOME if len(_HOME) > 1 else ""}
    starts = {s.rstrip(os.sep) for s in starts if s and s.rstrip(os.sep)}
    if not starts:
        return text
    sep = re.escape(os.sep)
    # a folder's name, whole (not "/essays" of "/essays2"), and the rest of the file's name
    # up to a space, quote or bracket; the longest folder first, as it is the most precise
    alternatives = "|".join(re.escape(s) for s in sorted(starts, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w.~-])(?:{alternatives})(?:{sep}[^\s\"'<>()\[\]]*)?(?![\w.-])")
    return pattern.sub(lambda m: short_path(m.group(), root, *folders), text)


def format_error(exc: BaseException, root: str | None = None) -> str:
    """A traceback without the kernel's own frame, so it starts in the cell; with `root`,
    file names are shortened by short_path."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    report = traceback.TracebackException(type(exc), exc, tb)
    if root is not None:
        seen: set[int] = set()
        todo = [report]
        while todo:  # the exception, and those it was raised from or during
            item = todo.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            for frame in item.stack:
                frame.filename = short_path(frame.filename, root)
            if getattr(item, "filename", None):  # a SyntaxError in a module the cell imported
                item.filename = short_path(item.filename, root)
            todo.extend(e for e in (item.__cause__, item.__context__) if e is not None)
    text = "".join(report.format()).rstrip("\n")
    if isinstance(exc, ImportError):  # from an essay's module: name the essay, suggest a name
        message = str(exc)
        hinted = import_hint(exc, message)
        at = text.rfind(message)
        if hinted != message and at >= 0:
            text = text[:at] + hinted + text[at + len(message) :]
    # an exception's message may name a file too ("No such file or directory: '/home/...'")
    return limit_output(scrub_paths(text, root) if root is not None else text)
