"""runtime/ui.py: the controls' values in both hosts, their checks, and their HTML."""

import json
import re

import pytest

from runtime import page, ui
from runtime.analysis import listed_names
from runtime.html import outputs_html
from runtime.kernel import Kernel

IMPORT = "from runtime.ui import slider, select, checkbox, number\n"


@pytest.fixture(autouse=True)
def no_reader_values():
    ui.set_values({})
    yield
    ui.set_values({})


def run(source, values=None):
    """Run one cell in a fresh kernel with the reader's `values`: (namespace, outputs)."""
    kernel = Kernel()
    ui.set_values(values or {})
    ran = kernel.execute(IMPORT + source)
    assert ran.ok, [o.text for o in ran.outputs]
    return kernel.namespace, ran.outputs


def test_at_build_time_each_call_returns_its_default_as_a_plain_value():
    ns, _ = run(
        "t = slider('temperature', 0.1, 2.0, value=1.0, step=0.1)\n"
        "k = slider('names', 1, 50, value=10, integer=True)\n"
        "lo = slider('low', 0, 1)\n"
        "o = select('optimiser', ['sgd', 'adam'])\n"
        "o2 = select('size', [16, 32, 64], value=32)\n"
        "c = checkbox('decay')\n"
        "n = number('steps', 1000, min=1)\n"
        "f = number('rate', 0.5)\n"
    )
    assert (ns["t"], type(ns["t"])) == (1.0, float)
    assert (ns["k"], type(ns["k"])) == (10, int)
    assert ns["lo"] == 0.0
    assert ns["o"] == "sgd" and ns["o2"] == 32
    assert ns["c"] is False
    assert (ns["n"], type(ns["n"])) == (1000, int)
    assert (ns["f"], type(ns["f"])) == (0.5, float)


def test_the_readers_values_are_returned_checked_and_snapped():
    ns, _ = run(
        "t = slider('temperature', 0.1, 2.0, value=1.0, step=0.1)\n"
        "k = slider('names', 1, 50, value=10, integer=True)\n"
        "big = slider('big', 0, 1)\n"
        "lr = slider('lr', 0.001, 1.0, value=0.1, scale='log')\n"
        "o = select('optimiser', ['sgd', 'adam'])\n"
        "c = checkbox('decay')\n"
        "n = number('steps', 1000, min=1, max=5000)\n",
        {
            "temperature": 0.30000000000000004,  # a step's float noise
            "names": 12.6,
            "big": 7,  # past the end: the end
            "lr": 0.031622776601683794,
            "optimiser": 1,
            "decay": True,
            "steps": 9999,
        },
    )
    assert ns["t"] == 0.3
    assert (ns["k"], type(ns["k"])) == (13, int)
    assert ns["big"] == 1.0
    assert ns["lr"] == 0.03162
    assert ns["o"] == "adam" and ns["c"] is True and ns["n"] == 5000


def test_a_value_the_page_should_not_have_sent_falls_back_to_the_default():
    ns, _ = run(
        "t = slider('t', 0, 1, value=0.5)\no = select('o', ['a', 'b'])\nc = checkbox('c', True)\nn = number('n', 3)",
        {"t": "x", "o": 7, "c": "yes", "n": None},
    )
    assert (ns["t"], ns["o"], ns["c"], ns["n"]) == (0.5, "a", True, 3)


def test_values_apply_to_one_run_of_the_page_only():
    page._kernel = Kernel()
    try:
        source = IMPORT + "t = slider('t', 0, 10, value=1)\nprint(t)"
        first = json.loads(page.run(source, "cell 1", values=json.dumps({"t": 4})))
        again = json.loads(page.run(source, "cell 1"))
    finally:
        page._kernel = None
    assert "<pre>4.0</pre>" in first["html"] and "<pre>1.0</pre>" in again["html"]


@pytest.mark.parametrize(
    ("call", "words"),
    [
        ("slider('t', 0, 1, value=2)", "value 2 is outside 0 to 1"),
        ("slider('t', 1, 1)", "start (1) must be below stop (1)"),
        ("slider('t', 0, 1, scale='log')", "a log scale needs start above 0"),
        ("slider('t', 0, 1, scale='cubic')", "scale must be 'linear' or 'log'"),
        ("slider('t', 0, 1, step=0)", "step must be above 0"),
        ("slider('t', 0, 10, integer=True, step=0.5)", "an integer slider needs a whole step"),
        ("slider('', 0, 1)", "label must be a non-empty string"),
        ("slider('t', 0, float('nan'))", "stop must be a finite number"),
        ("select('o', [])", "options is empty"),
        ("select('o', 'abc')", "options must be a list"),
        ("select('o', ['a', 'b'], value='c')", "'c' is not one of the options"),
        ("select('o', [[1]])", "an option must be a string or a number"),
        ("checkbox('c', 1)", "value must be True or False"),
        ("number('n', 5, min=6)", "value 5 is outside 6 to None"),
        ("number('n', 5, min=3, max=1)", "min (3) is above max (1)"),
        ("slider('t', 0, 1)\nslider('t', 0, 2)", "two controls in this cell are labelled 't'"),
    ],
)
def test_bad_arguments_fail_with_a_message_that_names_the_fix(call, words):
    kernel = Kernel()
    ran = kernel.execute(IMPORT + call, filename="essay.md", line=10)
    assert not ran.ok
    error = ran.outputs[-1].text
    assert words in error
    assert re.search(r'File "essay.md", line 1[12]\b', error)  # the call's line, in the essay


def test_the_control_heads_the_output_and_its_name_is_not_listed_again():
    _, outputs = run("print('before')\nt = slider('temperature', 0.1, 2.0, value=1.0, step=0.1)\ny = t * 2")
    assert [o.kind for o in outputs] == ["control", "stream", "value"]
    assert outputs[2].label == "y"
    assert listed_names(__import__("ast").parse("t = slider('t', 0, 1)\nu = ui.number('u', 1)\nv = 2")) == ["v"]


def test_an_iterated_cell_shows_each_control_once():
    kernel = Kernel()
    ran = kernel.execute(IMPORT + "t = slider('t', 0, 1)", iterations=3)
    assert ran.ok and [o.kind for o in ran.outputs] == ["control"]


def test_the_html_is_disabled_labelled_and_escaped():
    _, outputs = run(
        "t = slider('<b>t</b>', 0.1, 2.0, value=1.0, step=0.1)\n"
        "o = select('o\"', ['<i>a</i>', 'b'], value='b')\n"
        "c = checkbox('c', True)\n"
        "n = number('n', 5, min=1, max=10)\n"
    )
    html = outputs_html(outputs)
    assert "<b>" not in html and "<i>" not in html and "&lt;b&gt;t&lt;/b&gt;" in html
    assert 'data-label="o&quot;"' in html
    # every input is inside its <label>, with the label's text, and disabled
    fields = re.findall(r"<label class=\"control\">.*?</label>", html)
    assert len(fields) == 4
    assert all(re.search(r"<(input|select)[^>]* disabled", f) for f in fields)
    assert (
        '<input type="range" min="0.1" max="2" step="0.1" value="1" aria-valuetext="1.0" '
        'aria-label="&lt;b&gt;t&lt;/b&gt;" disabled>'
    ) in html
    assert '<select aria-label="o&quot;" disabled><option value="0">&lt;i&gt;a&lt;/i&gt;</option>' in html
    assert '<option value="1" selected>b</option>' in html
    assert '<input type="checkbox" checked aria-label="c" disabled>' in html
    assert '<input type="number" value="5" min="1" max="10" aria-label="n" disabled>' in html


def test_a_log_slider_runs_over_the_exponent():
    _, outputs = run("lr = slider('lr', 0.001, 1.0, value=0.1, scale='log')")
    html = outputs_html(outputs)
    assert 'data-scale="log"' in html
    assert 'min="-3" max="0" step="0.03" value="-1"' in html
    assert '<output class="control-value" aria-hidden="true">0.1</output>' in html


def test_cell_names_for_the_pages_edited_cells():
    assert json.loads(page.cell_names("import os\ndef f():\n    return lr * x\ny = f()")) == {
        "defines": ["f", "y"],  # not os: imported again, it is the same module
        "reads": ["f", "lr", "x"],
    }
    assert json.loads(page.cell_names("def (")) == {"defines": [], "reads": None}
