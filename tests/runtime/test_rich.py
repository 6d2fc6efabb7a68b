"""The display protocol, as Jupyter users know it: each _repr_*_ method, mimebundles,
Jupyter's order of preference, matplotlib figures and pandas tables; and Graphviz
diagrams drawn at build time."""

from __future__ import annotations

import shutil

import pytest

from builder.execution import diagrams
from runtime.display import Dot, to_output
from runtime.html import output_html
from runtime.kernel import Kernel


def rich(**forms):
    # the methods must be on the class: build one per call
    cls = type("Value", (), {f"_repr_{name}_": (lambda self, r=r: r) for name, r in forms.items()})
    return to_output(cls(), "v")


@pytest.mark.parametrize(
    "forms, mime, fragment",
    [
        ({"html": "<b>h</b>"}, "text/html", "<b>h</b>"),
        ({"markdown": "**m**"}, "text/markdown", "<strong>m</strong>"),
        ({"latex": r"$\frac{1}{2}$"}, "text/latex", "<mfrac>"),
        ({"svg": "<svg><circle r='1'/></svg>"}, "image/svg+xml", "<circle"),
        ({"png": b"\x89PNG"}, "image/png", 'src="data:image/png;base64,iVBORw=="'),
        ({"jpeg": b"\xff\xd8"}, "image/jpeg", 'src="data:image/jpeg;base64,/9g="'),
    ],
)
def test_each_display_method(forms, mime, fragment):
    out = rich(**forms)
    assert (out.kind, out.mime, out.label) == ("html", mime, "v")
    assert fragment in out.html
    assert 'class="output-label">v:</span>' in output_html(out)


def test_jupyters_order_of_preference():
    out = rich(png=b"x", svg="<svg/>", latex="$x$", markdown="*m*", html="<i>h</i>")
    assert out.mime == "text/html"
    assert rich(png=b"x", svg="<svg/>").mime == "image/svg+xml"
    assert rich(html=None, png=b"x").mime == "image/png"  # a method may decline with None


def test_a_mimebundle_and_its_metadata():
    class Bundle:
        def _repr_mimebundle_(self, include=None, exclude=None):
            return {"text/plain": "plain", "image/svg+xml": "<svg id='b'/>"}, {"image/svg+xml": {}}

    out = to_output(Bundle())
    assert out.mime == "image/svg+xml" and "id='b'" in out.html


def test_print_stays_escaped_text_and_plain_values_stay_values():
    out = Kernel().execute("print('<b>not bold</b>')\nx = 1").outputs
    assert [o.kind for o in out] == ["stream", "value"]
    assert "&lt;b&gt;" in output_html(out[0])


def test_a_class_is_not_its_instances():
    class WithHtml:
        def _repr_html_(self):
            return "<b>x</b>"

    assert to_output(WithHtml).kind == "value"


def test_a_failing_display_method_is_the_cells_error_not_a_crash():
    out = (
        Kernel()
        .execute("class Bad:\n    def _repr_html_(self):\n        raise ValueError('no html')\nbad = Bad()")
        .outputs
    )
    assert [o.kind for o in out[-1:]] == ["error"] and "ValueError: no html" in out[-1].text


def test_a_pandas_dataframe_is_a_table():
    pd = pytest.importorskip("pandas", reason="pandas comes with the plots extra: pip install -e '.[plots]'")
    out = to_output(pd.DataFrame({"a": [1, 2], "b": ["<x>", "y"]}), "df")
    assert out.kind == "html" and out.label == "df" and "<table" in out.html
    assert "&lt;x&gt;" in out.html  # pandas escapes its cells


def test_matplotlib_figures_as_values_and_as_drawn(monkeypatch):
    pytest.importorskip("matplotlib", reason="matplotlib comes with the plots extra: pip install -e '.[plots]'")
    monkeypatch.setenv("MPLBACKEND", "agg")
    k = Kernel()
    drawn = k.execute("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nNone").outputs
    assert [(o.kind, o.mime) for o in drawn] == [("html", "image/svg+xml")]
    assert drawn[0].html.startswith("<svg")
    shown = k.execute("fig, ax = plt.subplots()\nax.plot([3, 1])\nshow(fig, 'chart')").outputs
    # shown once, as show() labelled it: not again as `fig`, and its axes are not listed
    assert [(o.kind, o.label) for o in shown] == [("html", "chart")]
    assert k.execute("plt.get_fignums()").outputs[0].text == "list(0) []"  # closed after each cell
    again = k.execute("f2, _ = plt.subplots()\nf2").outputs[0].html
    assert again == k.execute("f3, _ = plt.subplots()\nf3").outputs[0].html  # the same figure, the same SVG


# ----- diagrams ------------------------------------------------------------------------------


def test_a_dot_value_is_a_diagram_record():
    out = to_output(Dot("digraph { a -> b }"), "g")
    assert (out.kind, out.text, out.html) == ("dot", "digraph { a -> b }", None)
    pending = output_html(out)
    assert 'data-dot="digraph { a -&gt; b }"' in pending and "<pre" in pending  # the page draws it


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (make test installs it)")
def test_the_build_draws_diagrams_with_graphviz():
    (out,) = diagrams.draw([to_output(Dot("digraph { a -> b }"))])
    assert out.html.startswith("<svg") and "data-dot" not in output_html(out)


@pytest.mark.skipif(not diagrams.VIZ.is_dir(), reason="node_modules/@viz-js/viz is missing: run npm ci")
def test_without_graphviz_the_pages_renderer_draws_them(monkeypatch):
    which = shutil.which
    monkeypatch.setattr(diagrams.shutil, "which", lambda name: None if name == "dot" else which(name))
    (out,) = diagrams.draw([to_output(Dot("digraph { a -> b }"))])
    assert out.html.startswith("<svg")


def test_no_renderer_and_bad_dot_are_clear_errors(monkeypatch):
    monkeypatch.setattr(diagrams.shutil, "which", lambda name: None)
    _, error = diagrams.draw([to_output(Dot("digraph { a -> b }"))])
    assert error.kind == "error" and "no Graphviz renderer" in error.text and "apt install graphviz" in error.text
    monkeypatch.undo()
    if shutil.which("dot") or diagrams.VIZ.is_dir():
        _, error = diagrams.draw([to_output(Dot("digraph { a -> "))])
        assert "does not parse" in error.text


def test_a_figure_as_the_last_expression_is_drawn_once(monkeypatch):
    pytest.importorskip("matplotlib", reason="matplotlib comes with the plots extra: pip install -e '.[plots]'")
    monkeypatch.setenv("MPLBACKEND", "agg")
    k = Kernel()
    k.execute("import matplotlib.pyplot as plt")
    names = k.execute("fig, ax = plt.subplots()\nax.plot([1, 3])\nfig").outputs
    assert [(o.kind, o.label) for o in names] == [("html", "fig")]
    last = k.execute("fig, ax = plt.subplots()\nax.plot([1, 3])\nfig", show="last").outputs
    assert [(o.kind, o.label) for o in last] == [("html", None)]
    assert last[0].html == names[0].html
