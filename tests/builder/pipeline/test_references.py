"""Numbered figures, tables and equations, and `@fig-…` references (pipeline/references.py)."""

from pathlib import Path

from builder.diagnostics import Diagnostics
from builder.pipeline.checks import check_essay
from builder.pipeline.links import anchors
from builder.pipeline.parse import Prose, parse_text
from builder.pipeline.render import prose_html

PATH = Path("/nonexistent/01-e.md")


def html_of(text: str) -> str:
    essay = parse_text(text, PATH)
    return "".join(str(prose_html(b, essay.env)) for b in essay.blocks if isinstance(b, Prose))


def problems_of(text: str) -> list[tuple[int | None, str, str]]:
    diagnostics = Diagnostics()
    check_essay(parse_text(text, PATH, diagnostics), diagnostics)
    return [(d.line, d.kind, d.message) for d in diagnostics if "essays folder" not in d.message]


def test_an_image_with_a_fig_id_alone_in_its_paragraph_is_a_numbered_figure():
    html = html_of("![Walks of *50* steps](data/w.svg){#fig-walks}\n")
    assert html == (
        '<figure id="fig-walks" class="numbered-figure">\n'
        '<img src="data/w.svg" alt="Walks of 50 steps" />\n'
        '<figcaption><span class="target-number">Figure 1:</span> Walks of <em>50</em> steps</figcaption>\n'
        "</figure>\n"
    )


def test_other_images_stay_as_they_were():
    assert html_of("![a](x.png)\n") == '<p><img src="x.png" alt="a" /></p>\n'
    assert html_of("See ![a](x.png){#fig-x} inline.\n").startswith("<p>See <img")


def test_references_name_and_link_each_kind_counted_in_page_order():
    text = (
        "See @fig-b, @fig-a, @tbl-t and @eq-e.\n\n"
        "![A](a.png){#fig-a}\n\n![B](b.png){#fig-b}\n\n"
        "| x |\n|---|\n| 1 |\n\n: Counts {#tbl-t}\n\n"
        "$$ y = x $$ {#eq-e}\n"
    )
    html = html_of(text)
    assert html.startswith(
        '<p>See <a class="crossref" href="#fig-b">Figure 2</a>, <a class="crossref" href="#fig-a">Figure 1</a>, '
        '<a class="crossref" href="#tbl-t">Table 1</a> and <a class="crossref" href="#eq-e">Equation 1</a>.</p>'
    )
    assert '<table id="tbl-t">\n<caption><span class="target-number">Table 1:</span> Counts</caption>' in html
    assert ": Counts" not in html
    assert '<span class="math-display numbered-equation" id="eq-e">' in html
    assert '<span class="equation-number">(1)</span></span>' in html
    assert "{#eq-e}" not in html


def test_a_bracketed_reference_and_trailing_punctuation():
    html = html_of("![A](a.png){#fig-a}\n\nAs shown ([@fig-a]). And @fig-a.\n")
    assert (
        '(<a class="crossref" href="#fig-a">Figure 1</a>). And <a class="crossref" href="#fig-a">Figure 1</a>.' in html
    )


def test_at_signs_in_mail_code_math_and_cells_are_left_alone():
    text = (
        "---\nbibliography: refs.bib\n---\n"
        "Write to me@example.org about `@fig-a` and $a@b$, or @ alone.\n\n"
        "<script>\n@decorator\ndef f():\n    pass\n</script>\n"
    )
    essay = parse_text(text, PATH)
    html = html_of(text)
    assert "me@example.org about <code>@fig-a</code>" in html and ", or @ alone." in html
    assert essay.cells[0].source == "@decorator\ndef f():\n    pass\n"


def test_without_a_bibliography_an_at_name_stays_text():
    assert html_of("Ask @karpathy [@who] about it.\n") == "<p>Ask @karpathy [@who] about it.</p>\n"


def test_an_unknown_reference_warns_with_the_closest_id_and_shows_its_source():
    text = "# T\n\n![A](a.png){#fig-walks}\n\nAs\n@fig-walk shows.\n"
    assert "@fig-walk shows" in html_of(text)
    assert problems_of(text) == [(6, "link", "@fig-walk names no figure in this essay: did you mean @fig-walks?")]


def test_an_id_numbered_twice_warns_and_counts_once():
    text = "![A](a.png){#fig-a}\n\n![B](b.png){#fig-a}\n\n![C](c.png){#fig-c}\n\n@fig-c\n"
    assert "Figure 2</a>" in html_of(text)
    assert problems_of(text) == [(3, "markup", "the id fig-a is given to two figures: only the first is numbered")]


def test_a_link_to_a_figure_is_a_known_anchor():
    essay = parse_text("![A](a.png){#fig-a}\n\n$$x$$ {#eq-x}\n", PATH)
    assert {"fig-a", "eq-x"} <= anchors(essay)


def test_a_strict_build_fails_for_an_unknown_reference(project):
    from builder.cli import report_build

    project.write("01-e.md", "# E\n\nSee @fig-nothing.\n")
    result = project.build(strict=True)
    assert [str(d) for d in result.diagnostics.for_strict().errors()] == [
        "essays/01-e.md:3: @fig-nothing names no figure in this essay"
    ]
    assert report_build(result, project.config(strict=True)) == 1
    assert report_build(result, project.config()) == 0
    assert "See @fig-nothing." in project.page("01-e.html")


def test_a_reference_inside_a_links_text_is_its_name_without_a_link_of_its_own():
    html = html_of("![A](a.png){#fig-a}\n\n[see @fig-a](x.html) and [@fig-a][r]\n\n[r]: y.html\n")
    assert '<p><a href="x.html">see Figure 1</a> and <a href="y.html">Figure 1</a></p>' in html


def test_a_cell_with_data_figure_is_a_numbered_figure_counted_with_the_images(project):
    project.write(
        "01-e.md",
        "# E\n\n![A](data/a.svg){#fig-a}\n\n"
        '<script data-figure="fig-loss" data-caption="The *loss* falls">\nprint("plot")\n</script>\n\n'
        "@fig-loss follows @fig-a.\n",
    )
    project.write("data/a.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>")
    result = project.build()
    assert [str(d) for d in result.diagnostics] == []
    page = project.page("01-e.html")
    start = page.index('<figure id="fig-loss" class="numbered-figure cell-figure">\n<section class="cell')
    figure = page[start : page.index("</figure>", start)]
    assert "plot" in figure  # the cell's output, inside
    assert '<figcaption><span class="target-number">Figure 2:</span> The <em>loss</em> falls</figcaption>' in figure
    assert (
        '<a class="crossref" href="#fig-loss">Figure 2</a> follows <a class="crossref" href="#fig-a">Figure 1</a>'
        in page
    )


def test_data_figure_without_the_fig_prefix_or_a_lone_caption_warns():
    text = '<script data-figure="loss">\nx = 1\n</script>\n\n<script data-caption="A">\ny = 2\n</script>\n'
    assert problems_of(text) == [
        (1, "markup", 'cell 1: data-figure takes an id that starts with fig-, not "loss"'),
        (5, "markup", 'cell 2 has a data-caption but no data-figure="fig-…" to number it'),
    ]


def test_a_figure_id_that_a_heading_or_cell_also_has_is_an_id_used_twice():
    text = '## Fig\n\n![A](a.png){#fig}\n\n<script id="fig-a">\nx = 1\n</script>\n\n![B](b.png){#fig-a}\n\n$$x$$ {#eq-x}\n\n# eq-x\n'
    assert [p[2] for p in problems_of(text)] == [
        'the id "fig-a" of a figure is used by cell 1 at line 5 too: links find only one; give one of them another id',
        'the id "eq-x" of a heading is used by an equation at line 11 too: links find only one; give one of them another id',
    ]
