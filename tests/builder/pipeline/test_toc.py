"""Each page's table of contents (render.table_of_contents), in the sidebar and the phones'
menu, and `toc: false`."""

import re
from pathlib import Path

from builder.diagnostics import Diagnostics
from builder.pipeline.checks import check_essay
from builder.pipeline.parse import parse_text
from builder.pipeline.render import TocEntry, table_of_contents


def toc_of(text: str) -> list[tuple[int, str]]:
    return [(e.level, e.text) for e in table_of_contents(parse_text(text, Path("/nonexistent/01-e.md")))]


def test_the_h2_and_h3_headings_are_listed_without_their_permalinks():
    text = "# Title\n\n## One `code`\n\n### One a\n\n#### Too deep\n\n## Two\n"
    assert toc_of(text) == [(2, "One code"), (3, "One a"), (2, "Two")]


def test_an_essay_sectioned_by_h1s_lists_them_after_its_title():
    # converted notebooks often have a "#" heading per section
    text = "# Title\n\nIntro.\n\n# Data\n\n## Loading\n\n### Too deep\n\n# Model\n"
    assert toc_of(text) == [(2, "Data"), (3, "Loading"), (2, "Model")]


def test_toc_false_turns_it_off():
    assert toc_of("---\ntoc: false\n---\n# T\n\n## A\n") == []
    assert toc_of("---\ntoc: true\n---\n# T\n\n## A\n") == [(2, "A")]


def test_a_toc_that_is_not_a_boolean_is_a_warning_at_its_line(tmp_path):
    path = tmp_path / "01-e.md"
    path.write_text('---\ntitle: T\ntoc: "no"\n---\n## A\n', encoding="utf-8")
    diagnostics = Diagnostics()
    essay = parse_text(path.read_text(encoding="utf-8"), path, diagnostics)
    check_essay(essay, diagnostics)
    assert [(d.line, d.message) for d in diagnostics] == [
        (3, "toc: takes true or false, not 'no'; the page keeps its toc")
    ]
    assert table_of_contents(essay) == [TocEntry(2, "a", "A")]


def test_every_page_carries_its_contents_in_the_sidebar_and_the_phone_menu(project):
    project.write("01-one.md", "# One\n\n## Alpha\n\n### Beta\n\n## Gamma\n")
    project.write("02-two.md", "---\ntoc: false\n---\n# Two\n\n## Hidden\n")
    project.build()
    one = project.page("01-one.html")
    # once in the sidebar, once in the phones' menu
    assert len(re.findall(r'<ul class="nav-toc">', one)) == 2
    assert '<li class="toc-level-3"><a href="#beta">Beta</a></li>' in one
    assert "nav-toc" not in project.page("02-two.html")
