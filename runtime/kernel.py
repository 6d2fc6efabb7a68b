"""The kernel: one namespace, cells run in it one after another.

Both hosts use this very file: the builder's worker process under CPython, and the page
under Pyodide. Running a cell returns a list of Output records; rendering them is someone
else's job (runtime/html.py).
"""

from __future__ import annotations

import ast
import io
import linecache
import traceback
import types
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any, Callable

from .analysis import bound_names
from .display import Output, limit_output, to_output


@dataclass
class Compiled:
    """A cell compiled once and run many times (iterations reuse it)."""

    body: types.CodeType | None
    tail: types.CodeType | None  # a trailing bare expression, evaluated for its value
    names: list[str]


class Kernel:
    """A namespace plus the rules for running cells in it."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
        self._lines: dict[str, list[str]] = {}

    # -- compiling ---------------------------------------------------------------------

    def _remember_source(self, source: str, filename: str, line: int) -> None:
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
        self._remember_source(source, filename, line)
        tree = ast.parse(source, filename=filename)
        ast.increment_lineno(tree, line - 1)
        names = bound_names(tree)
        tail = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            expr = ast.Expression(tree.body.pop().value)
            tail = compile(expr, filename, "eval")
        body = compile(tree, filename, "exec") if tree.body else None
        return Compiled(body, tail, names)

    # -- running -----------------------------------------------------------------------

    def run(
        self,
        source: str,
        filename: str = "<cell>",
        line: int = 1,
        iterations: int = 1,
        on_iteration: Callable[[int, int], None] | None = None,
    ) -> list[Output]:
        """Run a cell `iterations` times; return the outputs of the last run (or of the
        run that failed)."""
        try:
            compiled = self.compile(source, filename, line)
        except SyntaxError as exc:
            text = "".join(traceback.format_exception_only(type(exc), exc))
            return [Output("error", text=text.rstrip("\n"))]
        outputs: list[Output] = []
        total = max(1, iterations)
        for i in range(total):
            # only the last run's outputs are kept, so only the last run formats them
            outputs, ok = self.run_compiled(compiled, final=i == total - 1)
            if on_iteration is not None:
                on_iteration(i + 1, iterations)
            if not ok:
                break
        return outputs

    def run_compiled(self, compiled: Compiled, final: bool = True) -> tuple[list[Output], bool]:
        """Run a compiled cell once. Returns (outputs, ok); when not `final`, outputs are
        only its error, if it failed."""
        ns = self.namespace
        stream = io.StringIO()
        shown: list[Output] = []

        def show(value: Any, label: str | None = None) -> None:
            """Show a value (or a chart) in the cell's output, with an optional label."""
            if final:
                shown.append(to_output(value, None if label is None else str(label)))

        ns["show"] = show
        value: Any = None
        error: Output | None = None
        with redirect_stdout(stream), redirect_stderr(stream):
            try:
                if compiled.body is not None:
                    exec(compiled.body, ns)
                if compiled.tail is not None:
                    value = eval(compiled.tail, ns)
            except BaseException as exc:  # SystemExit and KeyboardInterrupt too: a cell never ends the host
                error = Output("error", text=format_error(exc))

        if not final and error is None:
            return [], True
        outputs: list[Output] = []
        printed = stream.getvalue()
        if printed:
            outputs.append(Output("stream", text=limit_output(printed.rstrip("\n"))))
        outputs.extend(shown)
        if error is not None:
            outputs.append(error)
            return outputs, False
        for name in compiled.names:
            if name.startswith("_") or name not in ns or name == "show":
                continue
            if isinstance(ns[name], types.ModuleType):
                continue
            outputs.append(to_output(ns[name], label=name))
        if value is not None:
            outputs.append(to_output(value))
        return outputs, True


def format_error(exc: BaseException) -> str:
    """A traceback without the kernel's own frame, so it starts in the cell."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb)
    return limit_output("".join(lines).rstrip("\n"))

