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
from runtime.html import outputs_html

from .highlight import highlight
from .markdown import markdown
from .parse import Cell, Essay, Prose


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
    """The essay's h2 and h3 headings, as plain text (the "#" permalink left out), in order."""
    entries = []
    for block in essay.blocks:
        if not isinstance(block, Prose):
            continue
        tokens = block.tokens
        for i, token in enumerate(tokens[:-1]):
            if token.type != "heading_open" or token.tag not in TOC_LEVELS or "id" not in token.attrs:
                continue
            words, in_anchor = [], False
            for child in tokens[i + 1].children or []:
                if child.type == "link_open" and child.attrs.get("class") == "header-anchor":
                    in_anchor = True
                elif child.type == "link_close":
                    in_anchor = False
                elif not in_anchor and child.type in ("text", "code_inline", "math_inline"):
                    words.append(child.content)
            entries.append(TocEntry(int(token.tag[1]), str(token.attrs["id"]), "".join(words).strip()))
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
    env.globals["build_problems"] = None  # pipeline/problems.py's list, when the author asked for it
    return env


def prose_html(block: Prose, env: dict[str, Any]) -> Markup:
    md = markdown()
    # Markup: markdown-it renders the author's own prose, where raw HTML is allowed
    return Markup(md.renderer.render(block.tokens, md.options, env))


def cell_html(env: Environment, cell: Cell, result: CellResult | None, key: str = "") -> Markup:
    """`key`: the cell's content key (cache/keys.py), which the page reads to find an edit
    saved by an earlier version of page.js."""
    template = env.get_template("cell.html")
    return Markup(
        template.render(
            cell=cell,
            key=key,
            code=Markup(highlight(cell.source, "python")),
            output=Markup(outputs_html(result.outputs)) if result else Markup(""),
            status=result.status if result else "skipped",
        )
    )


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
    blocks = [
        prose_html(b, essay.env)
        if isinstance(b, Prose)
        else cell_html(env, b, by_index.get(b.index), keys[b.index] if b.index < len(keys) else "")
        for b in essay.blocks
    ]
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
