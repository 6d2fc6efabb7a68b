import json
import re

from runtime.display import Output
from runtime.html import output_html, outputs_html, script_json


def test_text_outputs_are_escaped():
    html = output_html(Output("stream", text="<script>alert(1)</script> & <b>x</b>"))
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;" in html


def test_labels_are_escaped():
    html = output_html(Output("value", text="1", label="<img src=x onerror=alert(1)>"))
    assert "<img" not in html and "&lt;img" in html


def test_figure_json_cannot_close_its_script_tag():
    figure = {"data": [{"name": "</script><script>alert(1)</script>", "y": [1]}], "layout": {"title": "a & b"}}
    html = output_html(Output("figure", figure=figure))
    inner = re.search(r'<script type="application/json" data-figure-json>(.*?)</script>', html, re.S).group(1)
    assert "<" not in inner and ">" not in inner and "&" not in inner
    assert json.loads(inner) == figure


def test_script_json_round_trips():
    data = {"a": "<>&'\"", "b": [1, 2.5, None]}
    assert json.loads(script_json(data)) == data


def test_outputs_keep_their_order_and_kinds():
    html = outputs_html([Output("stream", text="a"), Output("value", text="1", label="x"), Output("error", text="E")])
    assert html.index("output-stream") < html.index("output-value") < html.index("output-error")
    assert '<span class="output-label">x:</span>' in html
