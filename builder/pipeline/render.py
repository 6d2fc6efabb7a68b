"""Essay + cell results -> HTML pages, with Jinja2.

Templates live in builder/templates; a templates/ folder beside the essays overrides any
of them by name. Cell outputs become HTML in runtime/html.py, the one place shared with the
page, so an unedited cell's output is the same markup in both hosts.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)
from markupsafe import Markup

from builder.records import CellResult
from builder.settings import Settings
from runtime.analysis import changing_names
from runtime.html import outputs_html

from .citations import references_html
from .highlight import highlight
from .markdown import markdown
from .parse import Cell, Essay, Prose
from .references import cell_figure


@dataclass
class NavEntry:
    """One essay in the site's list: enough for the index and the prev/next links."""

    page: str
    title: str
    description: str = ""
    status: str = "ok"
    number: int | None = None  # a chapter's number, from its file name (01-bigram.md: 1)
    builds_on: list[NavEntry] = field(default_factory=list)  # the essays whose modules it imports

    @property
    def href(self) -> str:
        """The page's address relative to the site: percent-encoded, so a name with ?, #, %
        or a space links to its page (ñandú.html is %C3%B1and%C3%BA.html, as a browser asks)."""
        return urllib.parse.quote(self.page)

    @property
    def label(self) -> str:
        return f"{self.number}. {self.title}" if self.number is not None else self.title


@dataclass(frozen=True)
class TocEntry:
    """A section of an essay, for its table of contents."""

    level: int  # 2 for an h2, 3 for an h3
    id: str
    text: str


TOC_LEVELS = ("h2", "h3")


def table_of_contents(essay: Essay) -> list[TocEntry]:
    """The essay's sections, as plain text (the "#" permalink left out), in order: its h2 and
    h3 headings, or, in an essay that uses several h1s for its sections (as many converted
    notebooks do), the h1s after the title and the h2s. None when the front matter says
    `toc: false`."""
    if essay.meta.get("toc", True) is False:
        return []
    headings = [
        (token, block.tokens[i + 1])
        for block in essay.blocks
        if isinstance(block, Prose)
        for i, token in enumerate(block.tokens[:-1])
        if token.type == "heading_open" and "id" in token.attrs
    ]
    levels = TOC_LEVELS
    if sum(1 for token, _ in headings if token.tag == "h1") > 1:
        levels = ("h1", "h2")
        if headings and headings[0][0].tag == "h1":
            headings = headings[1:]  # the title, at the top of the page already
    entries = []
    for token, inline in headings:
        if token.tag not in levels:
            continue
        words, in_anchor = [], False
        for child in inline.children or []:
            if child.type == "link_open" and child.attrs.get("class") == "header-anchor":
                in_anchor = True
            elif child.type == "link_close":
                in_anchor = False
            elif not in_anchor and child.type in ("text", "code_inline", "math_inline"):
                words.append(child.content)
        # the level as the list shows it: 2 for the top level, 3 below it
        level = 2 + levels.index(token.tag)
        entries.append(TocEntry(level, str(token.attrs["id"]), "".join(words).strip()))
    bibliography = essay.env.get("bibliography")
    if bibliography is not None and bibliography.works:
        entries.append(TocEntry(2, bibliography.heading_id, "References"))
    return entries


def environment(template_dir: Path | None) -> Environment:
    loaders: list[BaseLoader] = []
    if template_dir is not None and template_dir.is_dir():
        loaders.append(FileSystemLoader(str(template_dir)))
    loaders.append(PackageLoader("builder", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["site"] = Settings()  # essays.toml's, when the build read one
    env.globals["search"] = False  # the header's search box: True once the build wrote its files
    env.globals["build_problems"] = None  # pipeline/problems.py's list, when the author asked for it
    return env


def prose_html(block: Prose, env: dict[str, Any]) -> Markup:
    md = markdown()
    # Markup: markdown-it renders the author's own prose, where raw HTML is allowed
    return Markup(md.renderer.render(block.tokens, md.options, env))


def cell_html(
    env: Environment, cell: Cell, result: CellResult | None, key: str = "", names: CellNames | None = None
) -> Markup:
    """`key`: the cell's content key (cache/keys.py), which the page reads to find an edit
    saved by an earlier version of page.js. `names`: what the cell defines and reads, on a
    page with controls (see reactive_names)."""
    template = env.get_template("cell.html")
    return Markup(
        template.render(
            cell=cell,
            key=key,
            names=names,
            code=Markup(highlight(cell.source, "python")),
            output=Markup(outputs_html(result.outputs)) if result else Markup(""),
            status=result.status if result else "skipped",
        )
    )


@dataclass(frozen=True)
class CellNames:
    """A cell's top-level names (data-defines) and the names of other cells it reads
    (data-reads; "*" when its code does not parse: it could read any), space-separated."""

    defines: str
    reads: str


def reactive_names(cells: Sequence[Cell], results: Sequence[CellResult]) -> dict[int, CellNames]:
    """What the page needs to re-run the cells that depend on a control a reader moves
    (runtime/ui.py): each cell's names, from the static analysis the build already has
    (runtime/analysis.py; names only imported are left out, as they never change). Only a page with a control gets them; a name that no cell binds
    (a builtin, a module's attribute) is left out of the reads, as no control can change it."""
    if not any(o.kind == "control" for r in results for o in r.outputs):
        return {}
    found = {c.index: changing_names(c.source) for c in cells}
    bound = {name for names in found.values() if names is not None for name in names[1]}
    return {
        index: CellNames(" ".join(sorted(names[1])), " ".join(sorted(names[0] & bound)))
        if names is not None
        else CellNames("", "*")
        for index, names in found.items()
    }


def figures(results: list[CellResult]) -> list[object]:
    """The figures a page's cells show, in order."""
    return [o.figure for r in results for o in r.outputs if o.kind == "figure"]


def render_essay(
    env: Environment,
    essay: Essay,
    results: list[CellResult],
    nav: list[NavEntry],
    page_config: dict[str, Any],
    keys: Sequence[str] = (),
) -> str:
    """`keys`: the cells' content keys, in order."""
    by_index = dict(enumerate(results))
    names = reactive_names([b for b in essay.blocks if not isinstance(b, Prose)], results)
    blocks = [
        prose_html(b, essay.env)
        if isinstance(b, Prose)
        else Markup(
            cell_figure(
                cell_html(
                    env, b, by_index.get(b.index), keys[b.index] if b.index < len(keys) else "", names.get(b.index)
                ),
                b.tag_line,
                b.attrs,
                essay.env,
            )
        )
        for b in essay.blocks
    ]
    references = references_html(essay)  # the works it cites, after its last block
    if references:
        blocks.append(references)
    position = next(i for i, n in enumerate(nav) if n.page == essay.page)
    return env.get_template("essay.html").render(
        title=essay.title,
        meta=essay.meta,
        essay=essay,
        blocks=blocks,
        nav=nav,
        toc=table_of_contents(essay),
        current=nav[position],
        prev=nav[position - 1] if position > 0 else None,
        next=nav[position + 1] if position + 1 < len(nav) else None,
        page_config=page_config,
        page_name=essay.page,
        # the plotly.js bundle the page's charts need; the default template leaves loading it
        # to figures.js, a template of an author's own may still load it with a <script>
        plotly=(page_config.get("plotly") or {}).get("page"),
    )


def render_failed(env: Environment, entry: NavEntry, message: str, nav: list[NavEntry]) -> str:
    return env.get_template("failed.html").render(title=entry.title, message=message, nav=nav, current=entry)


def render_index(env: Environment, nav: list[NavEntry]) -> str:
    site = env.globals["site"]
    title = site.title if isinstance(site, Settings) else "Essays"
    return env.get_template("index.html").render(title=title, nav=nav, page_name="index.html")
