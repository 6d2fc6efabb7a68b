"""Graphviz diagrams drawn at build time: a cell's "dot" outputs get their SVG here, in the
worker, so the page shows them with JavaScript off. Graphviz's own `dot` program draws
them when it is installed; otherwise the WebAssembly build the page uses (npm's
@viz-js/viz) under Node. Neither there is a clear error in the cell, never a crash.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from runtime.display import Output

ROOT = Path(__file__).resolve().parents[2]
VIZ = ROOT / "node_modules" / "@viz-js" / "viz"
TIMEOUT = 30.0  # seconds one diagram may take


class DiagramError(Exception):
    """The diagram could not be drawn: no renderer, or DOT that does not parse."""


def _with_dot(source: str, program: str) -> str:
    done = subprocess.run(
        [program, "-Tsvg"], input=source, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise DiagramError(f"the DOT source does not parse: {done.stderr.strip() or f'exit code {done.returncode}'}")
    return done.stdout


def _with_viz(source: str) -> str:
    script = (
        'import { instance } from "@viz-js/viz";'
        'let input = ""; process.stdin.setEncoding("utf8");'
        "for await (const chunk of process.stdin) input += chunk;"
        "const viz = await instance();"
        'const result = viz.render(input, { format: "svg" });'
        "process.stdout.write(JSON.stringify(result));"
    )
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        input=source,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise DiagramError(f"@viz-js/viz failed: {done.stderr.strip()[-300:]}")
    result = json.loads(done.stdout)
    if result.get("status") != "success":
        messages = "; ".join(e.get("message", "").strip() for e in result.get("errors", []))
        raise DiagramError(f"the DOT source does not parse: {messages}")
    return str(result["output"])


def to_svg(source: str) -> str:
    program = shutil.which("dot")
    if program:
        svg = _with_dot(source, program)
    elif VIZ.is_dir() and shutil.which("node"):
        svg = _with_viz(source)
    else:
        raise DiagramError(
            "no Graphviz renderer: install Graphviz (Debian: apt install graphviz) or run `npm ci` "
            "for @viz-js/viz, then build again"
        )
    return svg[svg.index("<svg") :] if "<svg" in svg else svg  # no XML prolog inside a page


def draw(outputs: list[Output]) -> list[Output]:
    """The outputs with every diagram drawn; a diagram that cannot be drawn is followed by
    an error saying why (its source still shows)."""
    drawn: list[Output] = []
    for output in outputs:
        drawn.append(output)
        if output.kind == "dot" and output.html is None:
            try:
                output.html = to_svg(output.text)
            except (DiagramError, OSError, subprocess.TimeoutExpired) as exc:
                drawn.append(Output("error", label=output.label, text=f"the diagram could not be drawn: {exc}"))
    return drawn
