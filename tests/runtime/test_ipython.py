"""display() in every cell, and the IPython.display stand-in (runtime/ipython.py)."""

import base64
import importlib.util
import sys

import pytest

from runtime import ipython
from runtime.kernel import Kernel

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _real_ipython() -> bool:
    spec = importlib.util.find_spec("IPython")
    return spec is not None and not isinstance(spec.loader, ipython._StandIn)


pytestmark = pytest.mark.skipif(_real_ipython(), reason="a real IPython is installed: the stand-in steps aside")


def kinds(outputs):
    return [(o.kind, o.label, o.text or o.html) for o in outputs]


def test_display_is_defined_in_every_cell_and_shows_each_value_in_order():
    ran = Kernel().execute('print("a")\ndisplay("hello", 3)\nprint("b")')
    assert ran.ok
    # printed text comes first, as for show(): the stream is one record
    assert kinds(ran.outputs) == [("stream", None, "a\nb"), ("value", None, "'hello'"), ("value", None, "3")]


def test_display_from_a_function_defined_in_an_earlier_cell():
    k = Kernel()
    k.execute("def report(x):\n    display(x * 2)")
    assert kinds(k.execute("report(21)").outputs) == [("value", None, "42")]


def test_ipython_display_classes_import_and_show_their_rich_form():
    k = Kernel()
    ran = k.execute(
        "from IPython.display import HTML, Markdown, Math, Image, SVG, display\n"
        'display(HTML("<b>bold</b>"))\n'
        'display(Markdown("*em*"))\n'
        'display(Math(r"x^2"))\n'
        'display(SVG(\'<?xml version="1.0"?><svg width="1"></svg>\'))'
    )
    assert ran.ok, ran.outputs
    html = [o for o in ran.outputs if o.kind == "html"]
    assert [o.mime for o in html] == ["text/html", "text/markdown", "text/latex", "image/svg+xml"]
    assert html[0].html == "<b>bold</b>"
    assert "<em>em</em>" in html[1].html
    assert 'display="block"' in html[2].html and "<msup>" in html[2].html
    assert html[3].html == '<svg width="1"></svg>'  # no XML prolog inside a page


def test_image_from_bytes_and_from_a_file(tmp_path, monkeypatch):
    (tmp_path / "dot.png").write_bytes(PNG)
    monkeypatch.chdir(tmp_path)
    k = Kernel()
    k.namespace["png"] = PNG
    out = k.execute('from IPython.display import Image\ndisplay(Image(png))\nImage("dot.png", width=40)').outputs
    first, second = (o for o in out if o.kind == "html")
    assert first.mime == "image/png" and first.html.startswith('<img src="data:image/png;base64,')
    assert second.mime == "text/html" and 'width="40"' in second.html


def test_image_at_a_url_is_linked_not_downloaded():
    out = ipython.Image(url="https://example.org/a.png")._repr_html_()
    assert out == '<img src="https://example.org/a.png" alt="">'


def test_import_ipython_gives_the_stand_in_and_get_ipython_is_none():
    ran = Kernel().execute("import IPython\nshell = IPython.get_ipython()\nIPython.display.HTML('<i>x</i>')")
    assert ran.ok
    assert kinds(ran.outputs)[-1] == ("html", None, "<i>x</i>")
    assert sys.modules["IPython.display"].HTML is ipython.HTML  # pickled by reference to runtime.ipython


def test_display_outside_a_cell_prints_the_repr(capsys):
    ipython.display(ipython.HTML("<p>x</p>"))
    assert capsys.readouterr().out == "HTML('<p>x</p>')\n"


def test_the_stand_in_is_installed_once():
    Kernel()
    Kernel()
    assert sum(isinstance(f, ipython._StandIn) for f in sys.meta_path) == 1


def test_matplotlib_draws_after_the_stand_in_was_imported(monkeypatch):
    pytest.importorskip("matplotlib", reason="matplotlib comes with the plots extra: pip install -e '.[plots]'")
    monkeypatch.setenv("MPLBACKEND", "agg")
    k = Kernel()
    # matplotlib reads sys.modules["IPython"] when it makes a canvas: the stand-in must answer
    ran = k.execute("import IPython.display\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nNone")
    assert ran.ok, ran.outputs
    assert [(o.kind, o.mime) for o in ran.outputs] == [("html", "image/svg+xml")]
