"""Callouts (builder/pipeline/callouts.py): GitHub's alerts and `:::` fences as asides."""

from pathlib import Path

from builder.diagnostics import Diagnostics
from builder.pipeline.checks import check_essay
from builder.pipeline.parse import Prose, parse_text
from builder.pipeline.render import prose_html


def html_of(text: str) -> str:
    essay = parse_text(text, Path("/nonexistent/01-e.md"))
    return "".join(str(prose_html(b, essay.env)) for b in essay.blocks if isinstance(b, Prose))


def warnings_of(text: str) -> list[str]:
    diagnostics = Diagnostics()
    check_essay(parse_text(text, Path("/nonexistent/01-e.md"), diagnostics), diagnostics)
    return [f"{d.line}: {d.message}" for d in diagnostics]


def test_each_github_alert_is_an_aside_named_by_its_visible_title():
    for kind in ("NOTE", "TIP", "IMPORTANT", "WARNING", "CAUTION"):
        html = html_of(f"> [!{kind}]\n> Read *this*.\n")
        name = kind.capitalize()
        assert html == (
            f'<aside class="callout callout-{kind.lower()}" role="note" aria-label="{name}">\n'
            f'<p class="callout-title">{name}</p>\n<p>Read <em>this</em>.</p>\n</aside>\n'
        )


def test_an_alert_marker_in_lower_case_counts_and_a_plain_quote_stays_a_quote():
    assert html_of("> [!tip]\n> x\n").startswith('<aside class="callout callout-tip"')
    assert html_of("> [!NOTICE]\n> x\n").startswith("<blockquote>")
    assert html_of("> just a quote\n") == "<blockquote>\n<p>just a quote</p>\n</blockquote>\n"


def test_a_fenced_callout_takes_its_type_and_title_from_the_fence():
    html = html_of("::: warning Slow *cell*\nIt trains for **a minute**.\n:::\n")
    assert html == (
        '<aside class="callout callout-warning" role="note" aria-label="Slow cell">\n'
        '<p class="callout-title">Slow <em>cell</em></p>\n'
        "<p>It trains for <strong>a minute</strong>.</p>\n</aside>\n"
    )


def test_a_fenced_callout_without_a_title_is_named_after_its_type():
    assert html_of("::: tip\nx\n:::\n").startswith('<aside class="callout callout-tip" role="note" aria-label="Tip">')


def test_quartos_spellings_of_the_type_are_read():
    for fence in ("::: callout-caution", "::: {.callout-caution}", "::: {.caution}"):
        assert html_of(f"{fence}\nx\n:::\n").startswith('<aside class="callout callout-caution"'), fence


def test_a_title_cannot_inject_markup_into_the_label():
    html = html_of('::: note Say "hi" & <bye>\nx\n:::\n')
    assert 'aria-label="Say “hi” &amp;">' in html
    assert "<bye>" not in html.split(">", 1)[0]


def test_an_unknown_fence_type_renders_as_a_note_and_warns_with_its_line():
    text = "# T\n\nSome text.\n\n::: nte\nx\n:::\n"
    assert html_of(text).count('<aside class="callout callout-note"') == 1
    assert warnings_of(text) == [
        '5: the callout type "nte" is not one the builder knows, shown as a note: did you mean note?'
    ]


def test_an_unknown_type_far_from_any_lists_the_known_ones():
    (warning,) = warnings_of("::: sidebar\nx\n:::\n")
    assert warning.endswith("(callouts are note, tip, important, warning, caution)")


def test_callouts_nest_and_hold_any_markdown():
    html = html_of(":::: note\nOuter.\n\n::: tip\n- a\n- b\n:::\n::::\n")
    assert html.count("<aside") == 2 and html.count("</aside>") == 2
    assert "<li>a</li>" in html
