"""Entry points for the page host: the page's JavaScript calls these inside Pyodide.

One kernel per page. Outputs become HTML through runtime/html.py, the same code the
builder uses, so an unedited cell's output in the page is the build's, by construction.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable

from . import ui
from .analysis import changing_names
from .html import outputs_html
from .kernel import Capture, Kernel
from .stream import StreamCapture

_kernel: Kernel | None = None


def setup(home: str) -> None:
    """Prepare Pyodide's file system and import path, in the page and in the Node test:
    the essays' folder is the working directory (as at build time), and modules beside
    the essays and the runtime import. The folder exists even when the site has no assets."""
    os.environ.setdefault("MPLBACKEND", "agg")  # figures are drawn to SVG, never to a window
    essays = os.path.join(home, "essays")
    modules = os.path.join(home, "modules")  # the essays' exported modules (data-export cells)
    os.makedirs(essays, exist_ok=True)
    os.makedirs(modules, exist_ok=True)
    for path in (modules, essays, home):
        if path not in sys.path:
            sys.path.insert(0, path)
    os.chdir(essays)


def kernel() -> Kernel:
    global _kernel
    if _kernel is None:
        _kernel = Kernel()
    return _kernel


def run(
    source: str,
    label: str,
    show: str = "names",
    values: str = "{}",
    emit: Callable[[str], object] | None = None,
) -> str:
    """Run one iteration of a cell; return JSON {"html": ..., "ok": bool, "interrupted": bool}.
    `show`: how the cell shows its values (its data-show as the build resolved it).
    `values`: JSON of the reader's values of the cell's controls, by label (runtime/ui.py):
    the calls that make them return these instead of the build's defaults.
    `emit`: given what the cell prints while it runs, in batches (runtime/stream.py); the
    outputs returned at the end replace that text.

    Tracebacks name the cell (`File "cell 3", line 2`) with the line numbers of the code as
    the reader sees it in the editor, which may differ from the essay file after edits.
    `interrupted`: the cell ended in a KeyboardInterrupt, which is how the page's Stop ends
    a running cell; the kernel says so where it caught it (CellRun.interrupted), so a
    cell that merely prints or raises an error ending in that word is a failure, not a Stop.
    """
    k = kernel()
    if emit is not None:
        k.capture = lambda: StreamCapture(emit)
    ui.set_values(json.loads(values))
    try:
        ran = k.execute(source, filename=label, line=1, iterations=1, show=show)
    finally:
        k.capture = Capture
        ui.set_values({})  # the next cell's controls start from their defaults
    interrupted = not ran.ok and ran.interrupted
    return json.dumps({"html": outputs_html(ran.outputs), "ok": ran.ok, "interrupted": interrupted})


def cell_names(source: str) -> str:
    """JSON {"defines": [...], "reads": [...] or null} of a cell's code, for the page's
    reactive re-runs of a cell the reader edited (the build ships the others' names). reads
    is null when the code does not parse: it could read anything."""
    found = changing_names(source)
    if found is None:
        return json.dumps({"defines": [], "reads": None})
    reads, binds = found
    return json.dumps({"defines": sorted(binds), "reads": sorted(reads)})
