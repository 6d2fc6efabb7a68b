"""The build's problems listed in the pages for the author (issue 17, item 9): with
show_problems (essays serve, essays build --show-problems) every page lists them, each
linking to its cell; without it a page has no such list; the text is escaped."""

from __future__ import annotations

import re

from builder.diagnostics import Diagnostics
from builder.pipeline.parse import parse_essay
from builder.pipeline.problems import cell_at, page_problems

FAILING = """\
# Failing

Prose first.

<script>
ok = 1
</script>

A link to [nowhere](missing.md).

<script id="boom">
raise ValueError("<b>not bold</b> & more")
</script>
"""

OTHER = """\
# Other

<script>
print("fine")
</script>
"""


def panel(html: str) -> str:
    match = re.search(r'<aside class="build-problems".*?</aside>', html, re.S)
    return match.group(0) if match else ""


def test_with_show_problems_every_page_lists_the_problems_linked_to_their_cells(project):
    project.write("01-failing.md", FAILING, dedent=False)
    project.write("02-other.md", OTHER, dedent=False)
    project.build(show_problems=True)
    for page in ("01-failing.html", "02-other.html", "index.html"):
        listed = panel(project.page(page))
        assert 'href="01-failing.html#boom"' in listed, page
        assert "cell 2" in listed and "ValueError" in listed
        assert "missing.md" in listed  # the broken link's warning, linked to its page
    # the message is text: its markup is escaped, never made into elements
    listed = panel(project.page("02-other.html"))
    assert "<b>not bold</b>" not in listed and "&lt;b&gt;not bold&lt;/b&gt; &amp; more" in listed


def test_without_show_problems_a_page_has_no_list_but_shows_its_failed_cell_as_before(project):
    project.write("01-failing.md", FAILING, dedent=False)
    project.build()
    html = project.page("01-failing.html")
    assert panel(html) == "" and "build-problems" not in html
    assert "ValueError" in html  # the failed cell's own output, as ever


def test_a_build_without_problems_shows_no_list_even_when_asked(project):
    project.write("02-other.md", OTHER, dedent=False)
    project.build(show_problems=True)
    assert panel(project.page("02-other.html")) == ""


def test_a_line_maps_to_the_cell_that_holds_it_from_its_tag_to_its_end(tmp_path):
    path = tmp_path / "essay.md"
    path.write_text(FAILING)
    essay = parse_essay(path, Diagnostics())
    first, second = essay.cells
    assert cell_at(essay.cells, first.tag_line) is first
    assert cell_at(essay.cells, second.line) is second
    assert cell_at(essay.cells, second.line + 1) is second  # its </script>
    assert cell_at(essay.cells, 3) is None  # prose
    assert page_problems([], []).problems == []


def test_essays_serve_asks_for_the_list_and_essays_build_only_with_show_problems(project, monkeypatch):
    import builder.cli
    import builder.serve.watch

    seen = {}

    def serve(config, **kwargs) -> int:
        seen["serve"] = config
        return 0

    monkeypatch.setattr(builder.serve.watch, "serve", serve)
    builder.cli.main(["serve", str(project.essays), "-o", str(project.site)])
    assert seen["serve"].show_problems
    args = builder.cli.make_parser().parse_args(["build", str(project.essays)])
    assert not builder.cli.config_from(args).show_problems
    args = builder.cli.make_parser().parse_args(["build", str(project.essays), "--show-problems"])
    assert builder.cli.config_from(args).show_problems
