"""essays.toml beside the essays folder (builder/settings.py)."""

import re

from support import cell_outputs

SETTINGS = """\
title = "Random walks"
description = "Walks you can run."
author = "A. Author"
base_url = "https://example.org/walks/"
repository = "https://github.com/example/walks"
show = "last"
"""


def test_the_settings_reach_every_page_and_the_cells(project):
    (project.root / "essays.toml").write_text(SETTINGS)
    project.write("01-a.md", "# A\n\n<script>\nx = 2\nx * 3\n</script>\n")
    project.write("02-b.md", "---\nshow: names\n---\n# B\n\n<script>\ny = 4\n</script>\n")
    result = project.build()
    assert not list(result.diagnostics), [str(d) for d in result.diagnostics]
    index, page = project.page("index.html"), project.page("01-a.html")
    assert "<h1>Random walks</h1>" in index and '<p class="site-description">Walks you can run.</p>' in index
    assert '<header class="site-header"><a href="index.html">Random walks</a>' in page
    assert '<a class="source-link" href="https://github.com/example/walks">Source</a>' in page
    assert '<meta name="description" content="Walks you can run.">' in page
    assert '<meta name="author" content="A. Author">' in page
    assert '<link rel="canonical" href="https://example.org/walks/01-a.html">' in page
    # show = "last" is every essay's default; an essay's front matter overrides it
    assert [[(o.label, o.text) for o in cell] for cell in cell_outputs(page)] == [[(None, "6")]]
    assert [[(o.label, o.text) for o in cell] for cell in cell_outputs(project.page("02-b.html"))] == [[("y", "4")]]


def test_without_settings_the_site_is_titled_essays(project):
    project.write("01-a.md", "# A\n")
    project.build()
    assert "<h1>Essays</h1>" in project.page("index.html")
    assert "canonical" not in project.page("01-a.html") and "source-link" not in project.page("01-a.html")


def test_an_unknown_key_is_a_warning_with_the_closest_one(project):
    (project.root / "essays.toml").write_text('titel = "x"\nauthor = 3\n')
    project.write("01-a.md", "# A\n")
    result = project.build()
    assert [d.message for d in result.diagnostics.of_kind("markup")] == [
        "essays.toml has a key the builder does not know, titel: did you mean title?",
        "essays.toml: author must be a string, not 3",
    ]


def test_a_settings_file_that_does_not_parse_is_an_error_naming_its_line(project):
    (project.root / "essays.toml").write_text('title = "x"\nauthor = \n')
    project.write("01-a.md", "# A\n")
    result = project.build()
    (error,) = result.diagnostics.errors()
    assert re.search(r"essays\.toml:2: essays\.toml cannot be read", str(error))
    assert "<h1>Essays</h1>" in project.page("index.html")  # built with the defaults


def test_a_show_default_out_of_its_choices_is_a_warning_and_left_out(project):
    (project.root / "essays.toml").write_text('show = "everything"\n')
    project.write("01-a.md", "# A\n\n<script>\nx = 1\n</script>\n")
    result = project.build()
    assert [d.message for d in result.diagnostics] == ['essays.toml: show takes "names" or "last", not "everything"']
    assert [[(o.label, o.text) for o in c] for c in cell_outputs(project.page("01-a.html"))] == [[("x", "1")]]
