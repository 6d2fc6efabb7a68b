"""Output records -> HTML. The one place where outputs become markup, for both hosts.

Everything a cell produced is untrusted: text is escaped, and figure JSON embedded in a
<script type="application/json"> has <, > and & escaped so nothing can close the tag.
"""

from __future__ import annotations

import json
import math
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


def _attr(value: object) -> str:
    """A number or string as an attribute's value; "" for None (the attribute is left out)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return escape(str(value))


def control_html(output: Output) -> str:
    """A reader's input (runtime/ui.py), labelled, with its value shown beside it. It is
    `disabled` as written: without JavaScript it shows the build's value and nothing
    pretends to re-run; the page enables it. The page reads data-control-* to know how to
    turn the input's position into the value it sends back."""
    spec = output.control or {}
    kind = spec.get("type")
    label = escape(str(spec.get("label", output.label or "")))
    # outside the <label>, so the input's name is the label alone; aria-valuetext says the value
    shown = f'<output class="control-value" aria-hidden="true">{escape(output.text)}</output>'
    attrs = f'data-control="{escape(str(kind))}" data-label="{label}"'
    # the <label> around it lets a click on the words focus it; aria-label makes its name
    # the label alone (a <select>'s name would otherwise take in its chosen option)
    named = f'aria-label="{label}"'
    if kind == "slider":
        log = spec.get("scale") == "log"
        value, low, high, step = spec["value"], spec["min"], spec["max"], spec.get("step")
        if log:  # the range runs over the exponent: evenly through powers of ten
            value, low, high = math.log10(value), math.log10(low), math.log10(high)
        attrs += f' data-scale="{"log" if log else "linear"}"' + (" data-integer" if spec.get("integer") else "")
        field = (
            f'<input type="range" min="{_attr(low)}" max="{_attr(high)}" '
            f'step="{_attr(step)}" value="{_attr(value)}" '
            f'aria-valuetext="{escape(output.text)}" {named} disabled>'
        )
    elif kind == "select":
        options = "".join(
            f'<option value="{i}"{" selected" if i == spec.get("value") else ""}>{escape(str(o))}</option>'
            for i, o in enumerate(spec.get("options", []))
        )
        field = f"<select {named} disabled>{options}</select>"
        shown = ""  # a select, a box and a number field show their value themselves
    elif kind == "checkbox":
        field = f'<input type="checkbox"{" checked" if spec.get("value") else ""} {named} disabled>'
        shown = ""
    else:
        bounds = "".join(
            f' {name}="{_attr(spec[name])}"' for name in ("min", "max", "step") if spec.get(name) is not None
        )
        field = f'<input type="number" value="{_attr(spec.get("value"))}"{bounds} {named} disabled>'
        shown = ""
    return (
        f'<div class="output output-control" {attrs}><label class="control">'
        f'<span class="control-label">{label}</span>{field}</label>{shown}</div>'
    )


def output_html(output: Output) -> str:
    kind = (
        output.kind
        if output.kind in ("stream", "value", "figure", "html", "dot", "error", "note", "control")
        else "value"
    )
    if kind == "control":
        return control_html(output)
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
