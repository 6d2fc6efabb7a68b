"""Citations from BibTeX (pipeline/citations.py): author-year in the text, a References list
at the end formatted by pybtex, warnings with file:line, and the .bib file as an input."""

from pathlib import Path

from builder.diagnostics import Diagnostics
from builder.pipeline.checks import check_essay
from builder.pipeline.citations import attach_bibliography, references_html
from builder.pipeline.parse import Prose, parse_essay
from builder.pipeline.render import prose_html, table_of_contents

BIB = r"""@book{knuth1997,
  author = {Donald E. Knuth},
  title = {The Art of Computer Programming},
  publisher = {Addison-Wesley},
  year = {1997},
}

@article{bengio2003,
  author = {Yoshua Bengio and R{\'e}jean Ducharme and Pascal Vincent},
  title = {A Neural Probabilistic Language Model},
  journal = {Journal of Machine Learning Research},
  volume = {3},
  pages = {1137--1155},
  year = {2003},
}

@misc{uncited,
  author = {No One},
  title = {Never cited},
  year = {2000},
}
"""
FRONT = "---\ntitle: E\nbibliography: refs.bib\n---\n"


def load(folder: Path, body: str, bib: str = BIB) -> tuple[str, str, list[tuple[str, int | None, str]]]:
    """(prose HTML, references HTML, problems) of an essay with `body` beside refs.bib."""
    (folder / "refs.bib").write_text(bib, encoding="utf-8")
    path = folder / "01-e.md"
    path.write_text(body, encoding="utf-8")
    diagnostics = Diagnostics()
    essay = parse_essay(path, diagnostics)
    attach_bibliography(essay, diagnostics)
    check_essay(essay, diagnostics)
    html = "".join(str(prose_html(b, essay.env)) for b in essay.blocks if isinstance(b, Prose))
    problems = [(Path(str(d.path)).name, d.line, d.message) for d in diagnostics]
    return html, str(references_html(essay)), problems


def test_citations_read_author_year_and_link_to_their_entries(tmp_path):
    text = FRONT + "As [@knuth1997] and @bengio2003 say [see @knuth1997, p. 3; -@bengio2003].\n"
    html, _refs, problems = load(tmp_path, text)
    assert html == (
        '<p>As (<a class="citation" href="#ref-knuth1997">Knuth 1997</a>) and '
        'Bengio et al. (<a class="citation" href="#ref-bengio2003">2003</a>) say '
        '(see <a class="citation" href="#ref-knuth1997">Knuth 1997</a>, p. 3; '
        '<a class="citation" href="#ref-bengio2003">2003</a>).</p>\n'
    )
    assert problems == []


def test_the_references_list_the_cited_works_sorted_and_formatted_by_pybtex(tmp_path):
    _html, refs, _problems = load(tmp_path, FRONT + "# E\n\n## Intro\n\n@knuth1997 and [@bengio2003].\n")
    assert refs.startswith('<section class="references" aria-labelledby="references">\n<h2 id="references">References')
    assert refs.index('id="ref-bengio2003"') < refs.index('id="ref-knuth1997"')  # by author
    assert "<em>Journal of Machine Learning Research</em>, 3:1137–1155, 2003." in refs  # pybtex's plain style
    assert "Never cited" not in refs


def test_the_references_are_in_the_table_of_contents(tmp_path):
    path = tmp_path / "01-e.md"
    (tmp_path / "refs.bib").write_text(BIB, encoding="utf-8")
    path.write_text(FRONT + "# E\n\n## Intro\n\n@knuth1997\n", encoding="utf-8")
    essay = parse_essay(path)
    attach_bibliography(essay, Diagnostics())
    assert [e.text for e in table_of_contents(essay)] == ["Intro", "References"]


def test_two_works_of_one_author_and_year_get_letters(tmp_path):
    bib = BIB + "@book{knuth1997b, author={Donald E. Knuth}, title={Another}, publisher={P}, year={1997}}\n"
    html, _refs, _problems = load(tmp_path, FRONT + "[@knuth1997; @knuth1997b]\n", bib)
    # in title order: "Another" (knuth1997b) is 1997a, "The Art..." (knuth1997) 1997b
    assert '"#ref-knuth1997">Knuth 1997b</a>; ' in html and '"#ref-knuth1997b">Knuth 1997a</a>)' in html


def test_an_unknown_key_warns_at_its_line_with_the_closest_key_and_shows_its_source(tmp_path):
    html, _refs, problems = load(tmp_path, FRONT + "# E\n\nAs\n[@knuht1997] says.\n")
    assert "[@knuht1997] says." in html
    assert problems == [("01-e.md", 8, "@knuht1997 is in no bibliography of this essay: did you mean @knuth1997?")]


def test_a_missing_bibliography_warns_at_its_front_matter_line(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "refs.bib").write_text(BIB, encoding="utf-8")
    path = tmp_path / "01-e.md"
    path.write_text("---\ntitle: E\nbibliography: ref.bib\n---\n@knuth1997\n", encoding="utf-8")
    diagnostics = Diagnostics()
    essay = parse_essay(path)
    attach_bibliography(essay, diagnostics)
    assert next((d.line, d.message) for d in diagnostics) == (
        3,
        "the bibliography ref.bib is not in the essays folder: did you mean data/refs.bib?",
    )


def test_invalid_bibtex_is_a_warning_at_the_bib_files_line(tmp_path):
    bib = "@book{a,\n  title = {T\n  year = 1999\n}\n@book{b, title={U}, year={2000}}\n"
    _html, refs, problems = load(tmp_path, FRONT + "[@a]\n", bib)
    assert refs == ""
    # pybtex notices the missing "}" where the next entry starts
    assert problems[0][:2] == ("refs.bib", 5) and problems[0][2].startswith("not valid BibTeX: ")
    assert ("01-e.md", 5, "@a is in no bibliography of this essay") in problems


def test_an_entry_pybtex_cannot_format_warns_at_its_line_and_still_lists(tmp_path):
    bib = BIB + "\n@article{broken, author={A Writer}, title={No journal}, year={2001}}\n"
    _html, refs, problems = load(tmp_path, FRONT + "[@broken]\n", bib)
    line = BIB.count("\n") + 2
    assert problems[0][:2] == ("refs.bib", line) and problems[0][2].startswith("broken cannot be formatted: ")
    assert '<li id="ref-broken">Writer. <em>No journal</em>. 2001.</li>' in refs


def test_a_bibliography_outside_the_essays_folder_is_refused(tmp_path):
    (tmp_path / "essays").mkdir()
    (tmp_path / "refs.bib").write_text(BIB, encoding="utf-8")
    path = tmp_path / "essays" / "01-e.md"
    path.write_text("---\nbibliography: ../refs.bib\n---\n@knuth1997\n", encoding="utf-8")
    diagnostics = Diagnostics()
    attach_bibliography(parse_essay(path), diagnostics)
    assert next((d.line, d.message) for d in diagnostics) == (
        2,
        "the bibliography ../refs.bib is outside the essays folder: move it beside the essays",
    )


def test_what_a_bib_file_holds_is_escaped(tmp_path):
    bib = '@misc{x, author={A <b>B</b>}, title={T <script>alert(1)</script>}, year={1}, url={https://e.org/" onclick="y}}\n'
    _html, refs, _problems = load(tmp_path, FRONT + "[@x]\n", bib)
    assert "<script>" not in refs and "<b>" not in refs
    assert '<a href="https://e.org/&#34; onclick=&#34;y">' in refs


def test_the_bib_file_is_an_input_of_the_build_and_the_watcher(project):
    from builder.paths import source_files
    from builder.serve.watch import DevServer

    project.write("refs.bib", BIB)
    project.write("01-e.md", FRONT + "# E\n\nAs @knuth1997 wrote.\n")
    project.build()
    assert "The Art of Computer Programming" in project.page("01-e.html")
    assert project.essays / "refs.bib" in source_files(project.essays)  # the cache's salt covers it
    project.write("refs.bib", BIB.replace("The Art of Computer Programming", "Concrete Mathematics"))
    project.build()
    page = project.page("01-e.html")
    assert "Concrete Mathematics" in page and '<a href="#references">References</a>' in page
    dev = DevServer(project.config(quiet=True), "127.0.0.1", 0)
    try:
        dev.changed(str(project.essays / "refs.bib"))
        assert dev._dirty  # a save of the .bib rebuilds
    finally:
        dev.stop()


def test_a_citation_inside_a_links_text_is_not_a_second_link(tmp_path):
    html, _refs, _problems = load(tmp_path, FRONT + "[as @knuth1997 wrote](https://example.org)\n")
    assert html == '<p><a href="https://example.org">as Knuth (1997) wrote</a></p>\n'


def test_essays_toml_names_a_bibliography_for_every_essay_that_names_none(project):
    (project.root / "essays.toml").write_text('bibliography = "refs.bib"\n', encoding="utf-8")
    project.write("refs.bib", BIB)
    project.write("01-one.md", "# One\n\nAs @knuth1997 wrote.\n")
    project.write("02-two.md", "---\nbibliography: false\n---\n# Two\n\nAsk @knuth1997.\n")
    result = project.build()
    assert [str(d) for d in result.diagnostics] == []
    assert 'Knuth (<a class="citation" href="#ref-knuth1997">1997</a>) wrote.' in project.page("01-one.html")
    two = project.page("02-two.html")
    assert "Ask @knuth1997." in two and "References" not in two


def test_links_to_the_references_and_an_entry_are_known_anchors(tmp_path):
    from builder.pipeline.links import anchors

    path = tmp_path / "01-e.md"
    (tmp_path / "refs.bib").write_text(BIB, encoding="utf-8")
    path.write_text(FRONT + "# E\n\n@knuth1997, see [the list](#references).\n", encoding="utf-8")
    essay = parse_essay(path)
    attach_bibliography(essay, Diagnostics())
    assert {"references", "ref-knuth1997"} <= anchors(essay)
    assert "ref-bengio2003" not in anchors(essay)  # not cited, not listed


def test_an_essay_with_its_own_references_heading_keeps_that_id(tmp_path):
    _html, refs, problems = load(tmp_path, FRONT + "# E\n\n## References\n\nSee @knuth1997.\n")
    assert refs.startswith('<section class="references" aria-labelledby="bibliography">\n<h2 id="bibliography">')
    assert problems == []


def test_a_key_cited_twice_is_listed_once_and_an_unknown_one_warned_once(tmp_path):
    _html, refs, problems = load(tmp_path, FRONT + "@knuth1997 [@knuth1997] @nobody\n\n@nobody\n")
    assert refs.count('<li id="ref-knuth1997">') == 1
    assert [p[1:] for p in problems] == [(5, "@nobody is in no bibliography of this essay")]
