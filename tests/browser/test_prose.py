"""The Markdown extras in a browser (issue 24 item 6): callouts are named notes readable in
both themes and on paper, task lists and figures read with JavaScript off, and a citation
leads to its entry in the References."""

from __future__ import annotations

import pytest
from conftest import build_fixture_site, serve

pytestmark = pytest.mark.browser

ESSAY = """---
title: Prose
bibliography: refs.bib
---
# Prose

## Notes

> [!NOTE]
> A note.

> [!TIP]
> A tip.

> [!IMPORTANT]
> Important.

> [!WARNING]
> A warning.

::: caution Do not
A caution.
:::

- [x] counted
- [ ] trained

![A walk](data/walk.svg){#fig-walk}

As @fig-walk shows, and as literate programs do [@knuth1984].
"""
BIB = "@article{knuth1984, author={Donald E. Knuth}, title={Literate Programming}, journal={The Computer Journal}, volume={27}, number={2}, pages={97--111}, year={1984}}\n"
SVG = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 10 10' width='100' height='100'><rect width='10' height='10'/></svg>"
KINDS = ("Note", "Tip", "Important", "Warning", "Do not")

# WCAG's contrast ratio between the title's colour and the callout's background
CONTRAST = """(el) => {
  const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => { const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const a = lum(rgb(getComputedStyle(el.querySelector('.callout-title')).color));
  const b = lum(rgb(getComputedStyle(el).backgroundColor));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


@pytest.fixture(scope="module")
def prose(tmp_path_factory):
    source = tmp_path_factory.mktemp("prose-src")
    (source / "data").mkdir()
    (source / "01-prose.md").write_text(ESSAY, encoding="utf-8")
    (source / "refs.bib").write_text(BIB, encoding="utf-8")
    (source / "data" / "walk.svg").write_text(SVG, encoding="utf-8")
    folder = build_fixture_site(tmp_path_factory.mktemp("prose"), fixtures=source, strict=True)
    server, url = serve(folder)
    yield url + "01-prose.html"
    server.shutdown()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_each_callout_is_a_named_note_whose_title_reads_in_both_themes(browser, prose, scheme):
    context = browser.new_context(color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(prose)
        borders = set()
        for name in KINDS:
            note = page.get_by_role("note", name=name)
            assert note.is_visible()
            assert note.evaluate(CONTRAST) >= 4.5, (name, scheme)
            borders.add(note.evaluate("(el) => getComputedStyle(el).borderLeftColor"))
        assert len(borders) == len(KINDS)  # each kind its own colour
    finally:
        context.close()


def test_with_javascript_off_the_lists_figure_and_citations_are_all_there(browser, prose):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(prose)
        boxes = page.locator("input.task-list-item-checkbox")
        assert [boxes.nth(i).is_checked() for i in range(2)] == [True, False]
        assert all(boxes.nth(i).is_disabled() for i in range(2))
        figure = page.get_by_role("figure")
        assert figure.locator("figcaption").inner_text() == "Figure 1: A walk"
        assert figure.locator("img").evaluate("(img) => img.naturalWidth") == 100
        page.get_by_role("link", name="Knuth 1984").click()
        page.wait_for_function("location.hash === '#ref-knuth1984'")
        entry = page.locator("#ref-knuth1984")
        assert entry.is_visible() and "Literate programming" in entry.inner_text()
        assert page.locator("nav.essay-list .nav-toc a").all_inner_texts() == ["Notes", "References"]
    finally:
        context.close()


def test_on_paper_callouts_keep_their_border_and_drop_their_panel(browser, prose):
    context = browser.new_context(color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(prose)
        page.emulate_media(media="print")
        note = page.get_by_role("note", name="Warning")
        style = note.evaluate(
            "(el) => { const s = getComputedStyle(el); return [s.backgroundColor, s.borderLeftWidth, s.borderLeftColor]; }"
        )
        assert style == ["rgba(0, 0, 0, 0)", "4px", "rgb(0, 0, 0)"]
    finally:
        context.close()
