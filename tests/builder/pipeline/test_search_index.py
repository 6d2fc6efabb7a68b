"""The site's search index (builder/pipeline/search_index.py): one document per section, the
prose's words without markup, code apart, written as a script that assigns a global."""

from __future__ import annotations

import json
from pathlib import Path

from builder.pipeline import search_index
from builder.pipeline.parse import parse_text
from builder.pipeline.search_index import essay_documents, index_script

ESSAY = """\
# Walks *at* random

Intro about **drunkards** and $x^2$ squares, $\\frac{dL}{dx}$.

<script>
steps = 10
</script>

## 1. First steps

A [link](02-b.md) and `inline code` here.

```python
fenced_words = 1
```

### A sub-section

Deeper words.
"""


def documents(text: str = ESSAY, name: str = "01-walks.md"):
    return essay_documents(parse_text(text, Path(name)))


def test_each_section_is_a_document_linking_to_its_heading():
    docs = documents()
    assert [d.href for d in docs] == ["01-walks.html", "01-walks.html#1-first-steps", "01-walks.html#a-sub-section"]
    assert [d.heading for d in docs] == ["Walks at random", "1. First steps", "A sub-section"]
    # the essay's title as the site's list shows it (essay.title), in every document
    assert {d.essay for d in docs} == {parse_text(ESSAY, Path("01-walks.md")).title}


def test_text_is_the_words_readers_see_and_code_is_apart():
    top, first, sub = documents()
    assert top.text == "Intro about drunkards and x 2 squares, dL dx ."  # no markup, no LaTeX commands
    assert top.code == "steps = 10"
    assert first.text == "A link and inline code here."
    assert "#" not in first.heading  # the permalink is left out
    assert first.code == "fenced_words = 1"
    assert sub.text == "Deeper words." and sub.code == ""


def test_a_page_name_is_percent_encoded_as_the_nav_links_it():
    (doc,) = documents("# Ñandú\n\nWords.\n", "ñandú walks.md")
    assert doc.href == "%C3%B1and%C3%BA%20walks.html"


def test_long_code_is_cut_so_the_index_stays_small():
    big = "# T\n\n<script>\n" + "x = 1\n" * 2000 + "</script>\n"
    (doc,) = documents(big)
    assert len(doc.code) == search_index.CODE_LIMIT


def test_the_script_assigns_a_global_and_nothing_in_an_essay_can_close_a_script():
    essay = parse_text("# T\n\nSay `</script><script>alert(1)` and \u2028.\n", Path("t.md"))
    script = index_script([essay])
    assert script.startswith(f"window.{search_index.GLOBAL}=") and script.endswith(";\n")
    assert "<" not in script and "\u2028" not in script
    data = json.loads(script[len(f"window.{search_index.GLOBAL}=") : -2])
    assert data["format"] == search_index.FORMAT
    rows = [dict(zip(data["fields"], row, strict=True)) for row in data["documents"]]
    assert "</script><script>alert(1)" in rows[0]["text"]


def test_without_the_built_scripts_pages_have_no_search_box(project, monkeypatch, tmp_path):
    project.write("01-a.md", "# A\n\nWords.\n")
    monkeypatch.setattr(search_index, "BUNDLES", tmp_path / "not-built")
    project.build()
    assert "site-search" not in project.page("01-a.html")
    assert not (project.site / "_static" / search_index.INDEX_FILE).exists()


def test_with_them_every_page_has_the_box_and_the_index_covers_every_essay(project, monkeypatch, tmp_path):
    bundles = tmp_path / "dist"
    bundles.mkdir()
    for name in search_index.SEARCH_BUNDLES:
        (bundles / name).write_text("/* built */")
    monkeypatch.setattr(search_index, "BUNDLES", bundles)
    project.write("01-a.md", "# A\n\nAlpha words.\n")
    project.write("02-b.md", "# B\n\n## Beta\n\nBeta words.\n")
    project.build()
    for page in ("index.html", "01-a.html", "02-b.html"):
        assert 'class="site-search" role="search" hidden' in project.page(page)
        assert '<script src="_static/search.js" defer></script>' in project.page(page)
    script = (project.site / "_static" / search_index.INDEX_FILE).read_text()
    assert '"02-b.html#beta","B","Beta","Beta words."' in script
