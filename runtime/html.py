"""Output records -> HTML. The one place where outputs become markup, for both hosts.

Everything a cell produced is untrusted: text is escaped, and figure JSON embedded in a
<script type="application/json"> has <, > and & escaped so nothing can close the tag.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape

from .display import Output


def script_json(data: object) -> str:
    """JSON that is safe inside a <script> element."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _label(label: str | None) -> str:
    if label is None:
        return ""
    return f'<span class="output-label">{escape(label)}:</span>'


def output_html(output: Output) -> str:
    kind = output.kind if output.kind in ("stream", "value", "figure", "html", "dot", "error", "note") else "value"
    if kind == "html":
        # the value's own markup (a table, an SVG, MathML): trusted like the author's Markdown
        mime = f' data-mime="{escape(output.mime)}"' if output.mime else ""
        return f'<div class="output output-html"{mime}>{_label(output.label)}<div class="rich">{output.html or ""}</div></div>'
    if kind == "dot":
        # drawn at build time when a renderer was there; otherwise the page draws it from
        # data-dot (diagrams.js), and meanwhile, or with JavaScript off, shows the source
        drawn = output.html or f'<pre class="dot-source">{escape(output.text)}</pre>'
        pending = "" if output.html else f' data-dot="{escape(output.text)}"'
        return f'<div class="output output-dot"{pending}>{_label(output.label)}<div class="diagram">{drawn}</div></div>'
    if kind == "figure":
        return (
            f'<div class="output output-figure">{_label(output.label)}'
            f'<div class="figure" data-figure></div>'
            f'<script type="application/json" data-figure-json>{script_json(output.figure)}</script>'
            f'<noscript><p class="figure-fallback">An interactive chart: it needs JavaScript.</p></noscript>'
            f"</div>"
        )
    # A value whose text spans lines (a matrix) goes below its label, not beside it.
    block = " output-block" if "\n" in output.text else ""
    return f'<div class="output output-{kind}{block}">{_label(output.label)}<pre>{escape(output.text)}</pre></div>'


def outputs_html(outputs: Iterable[Output]) -> str:
    return "".join(output_html(o) for o in outputs)
