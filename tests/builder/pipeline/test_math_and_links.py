"""Math typeset at build time (MathML, no script), and links between essays."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import essays

from builder.diagnostics import Diagnostics
from builder.pipeline.parse import parse_text
from builder.pipeline.render import prose_html
from runtime.typeset import MathError, to_mathml


def html_of(text: str) -> tuple[str, list[str]]:
    diagnostics = Diagnostics()
    essay = parse_text(text, Path("01-m.md"), diagnostics)
    return "".join(prose_html(b, essay.env) for b in essay.blocks), [str(d) for d in diagnostics]


def test_inline_and_display_math_become_mathml():
    html, warnings = html_of("Energy $E = mc^2$ here.\n\n$$\n\\sum_i p_i = 1\n$$\n")
    assert warnings == []
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"><mrow><mi>E</mi>' in html
    assert '<div class="math-display"><math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in html
    assert "<script" not in html


def test_dollars_that_are_not_math_stay_text():
    html, warnings = html_of("It costs $5 and $10, or \\$3 with a coupon; $3.50, and $x$ is math.\n")
    assert warnings == []
    assert "It costs $5 and $10, or $3 with a coupon; $3.50, and <math" in html
    assert html.count("<math") == 1


def test_a_formula_that_does_not_parse_is_a_warning_and_shows_its_source():
    html, warnings = html_of("# T\n\nFine $a$.\n\nBroken, on the second\nline: $\\frac{a$ here.\n")
    assert warnings == ["01-m.md:6: the formula `\\frac{a` does not parse (1 brace never closed)"]
    assert '<code class="math-error" title="1 brace never closed">$\\frac{a$</code>' in html


@pytest.mark.parametrize(
    "latex, why",
    [
        ("\\frac{a}", "missing a part"),
        ("\\nosuch x", "unknown command"),
        ("}", "never opened"),
        # latex2mathml leaves aligned's & unescaped: not XML, so a warning, not a crash
        ("\\begin{aligned} a &= b \\\\ c &= d \\end{aligned}", "could not typeset"),
    ],
)
def test_what_the_checks_catch(latex, why):
    with pytest.raises(MathError, match=why):
        to_mathml(latex)


ONE = """\
# One

## Softmax, step 8

<script id="probs">
p = 1
</script>

See [the sum](#softmax-step-8), [two](02-two.md), [its loop](02-two.md#the-loop).
"""

TWO = """\
# Two

## The loop

Back to [softmax](01-one.md#softmax-step-8) and [probs](01-one.md#probs); a [lost
link](01-one.md#nowhere), [a missing essay](07-none.md) and [elsewhere](https://example.org/x.md).
"""


@pytest.mark.slow
def test_links_between_essays_resolve_and_broken_ones_are_named(project):
    project.write("01-one.md", ONE)
    project.write("02-two.md", TWO)
    out = essays("build", cwd=project.root)
    assert out.returncode == 0
    one, two = project.page("01-one.html"), project.page("02-two.html")
    assert 'href="02-two.html"' in one and 'href="02-two.html#the-loop"' in one and 'href="#softmax-step-8"' in one
    assert 'href="01-one.html#softmax-step-8"' in two and 'href="01-one.html#probs"' in two
    assert 'href="https://example.org/x.md"' in two
    assert "essays: warning: essays/02-two.md:5: 01-one.md has no anchor #nowhere" in out.stderr
    assert "essays: warning: essays/02-two.md:6: the link to 07-none.md names no essay in essays" in out.stderr
    strict = essays("build", "--strict", cwd=project.root)
    assert strict.returncode == 1 and "2 problems:" in strict.stderr


@pytest.mark.slow
def test_math_reads_with_javascript_off(project):
    project.write("01-m.md", "# M\n\nThe loss $L = -\\log p$.\n")
    assert essays("build", cwd=project.root).returncode == 0
    page = project.page("01-m.html")
    assert "<math" in page and "katex" not in page.lower() and "mathjax" not in page.lower()


def test_double_dollars_in_the_middle_of_a_sentence_are_display_math():
    html, warnings = html_of("The sum $$\\sum_i p_i = 1$$ holds, and $x$ is inline.\n")
    assert warnings == []
    assert '<span class="math-display"><math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in html
    assert html.count('display="inline"') == 1  # $x$ only
    assert "<div" not in html  # a paragraph may not hold a <div>


def test_double_dollars_that_do_not_parse_show_their_source_with_both_dollars():
    html, warnings = html_of("See $$\\frac{1}{$$ here.\n")
    assert len(warnings) == 1
    assert '<code class="math-error"' in html and "$$\\frac{1}{$$</code>" in html


@pytest.mark.parametrize(
    ("latex", "after_name"),
    [
        (r"\log p", '<mo lspace="0" rspace="0.1667em">\u2061</mo><mi>p</mi>'),
        (r"\log_2 p", '</msub><mo lspace="0" rspace="0.1667em">\u2061</mo><mi>p</mi>'),
        (r"\exp(x)", '<mo lspace="0" rspace="0">\u2061</mo><mo stretchy="false">(</mo>'),
    ],
)
def test_function_names_are_applied_with_teXs_spacing(latex, after_name):
    mathml = to_mathml(latex)
    assert after_name in mathml
    assert mathml.count("\u2061") == 1


def test_letters_and_a_lone_name_get_no_function_application():
    assert "\u2061" not in to_mathml("x y^2")
    assert "\u2061" not in to_mathml(r"\log")
