"""Entry points for the page host: the page's JavaScript calls these inside Pyodide.

One kernel per page. Outputs become HTML through runtime/html.py, the same code the
builder uses, so an unedited cell's output in the page is the build's, by construction.
"""

from __future__ import annotations

import json

from .html import outputs_html
from .kernel import Kernel

_kernel: Kernel | None = None


def kernel() -> Kernel:
    global _kernel
    if _kernel is None:
        _kernel = Kernel()
    return _kernel


def run(source: str, label: str) -> str:
    """Run one iteration of a cell; return JSON {"html": ..., "ok": bool}.

    Tracebacks name the cell (`File "cell 3", line 2`) with the line numbers of the code as
    the reader sees it in the editor, which may differ from the essay file after edits.
    """
    ran = kernel().execute(source, filename=label, line=1, iterations=1)
    return json.dumps({"html": outputs_html(ran.outputs), "ok": ran.ok})
