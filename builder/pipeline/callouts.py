"""Callouts: GitHub's alerts (`> [!NOTE]`) and fenced `::: note` blocks, as one kind of aside.

GitHub's five types are the vocabulary of both syntaxes: note, tip, important, warning,
caution. markdown-it-py reads the alerts itself (its `alerts` option); the fenced blocks
are mdit-py-plugins' container plugin, with the type and an optional title on the fence:

    ::: warning Slow cell
    This cell trains for a minute.
    :::

Quarto's spelling of the type (`::: callout-warning`, `::: {.callout-warning}`) is read too.
Both render as `<aside role="note">` with a visible title, which is also its accessible
name, so a screen reader announces "Warning, note" before the text. A type the builder does
not know still renders (as a note) and `check_callouts` warns with the closest type.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererProtocol
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import escape
from mdit_py_plugins.container import container_plugin

if TYPE_CHECKING:
    from builder.diagnostics import Diagnostics

    from .parse import Essay

TYPES = ("note", "tip", "important", "warning", "caution")
# `note`, `callout-note`, `{.callout-note}` or `{.note}`, then the title if any
FENCE_INFO = re.compile(r"^\s*\{?\s*\.?(?:callout-)?([A-Za-z][\w-]*)\s*\}?\s*(.*?)\s*$")


def callouts_plugin(md: MarkdownIt) -> None:
    md.options["alerts"] = True
    md.add_render_rule("alert_open", _render_alert_open)
    md.add_render_rule("alert_close", _render_close)
    md.core.ruler.push("alert_titles", _drop_alert_titles)
    container_plugin(md, "callout", validate=_valid_fence, render=_render_fence)


def _valid_fence(params: str, markup: str) -> bool:
    # a bare ::: (no type) is left as text, as the container plugin does with unknown names
    return FENCE_INFO.match(params) is not None


def fence_type(info: str) -> tuple[str, str]:
    """(type as written, lower-cased; title) of a `:::` fence's info string."""
    match = FENCE_INFO.match(info)
    if match is None:
        return "note", ""
    return match.group(1).lower(), match.group(2)


def _open(kind: str, title: str) -> str:
    shown = kind if kind in TYPES else "note"
    if not title:
        name = shown.capitalize()
        return f'<aside class="callout callout-{shown}" role="note" aria-label="{name}">\n<p class="callout-title">{name}</p>\n'
    from .markdown import markdown

    # the title is the author's Markdown, as a heading's is; its accessible name is its text
    md = markdown()
    tokens = md.parseInline(title, {})
    text = "".join(c.content for t in tokens for c in t.children or [] if c.type in ("text", "code_inline"))
    return (
        f'<aside class="callout callout-{shown}" role="note" aria-label="{escape(text.strip())}">\n'
        f'<p class="callout-title">{md.renderer.render(tokens, md.options, {})}</p>\n'
    )


def _render_alert_open(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # the title paragraph markdown-it adds after alert_open is skipped: _open writes its own
    return _open(str(tokens[idx].info).lower(), "")


def _drop_alert_titles(state: StateCore) -> None:
    """markdown-it writes an alert's title as a paragraph of its own (<p>Note</p>) after
    alert_open; _open writes the title with the aside, so that paragraph would repeat it."""
    tokens = state.tokens
    i = 0
    while i < len(tokens):
        if tokens[i].type == "alert_title_open":
            del tokens[i : i + 3]  # open, inline, close
            continue
        i += 1


def _render_close(self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    return "</aside>\n"


def _render_fence(self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    if token.nesting == -1:
        return "</aside>\n"
    kind, title = fence_type(token.info)
    return _open(kind, title)


def check_callouts(essay: Essay, diagnostics: Diagnostics) -> None:
    """A `:::` fence whose type is not one of TYPES: a warning with the closest type."""
    import difflib

    from .parse import Prose

    for block in essay.blocks:
        if not isinstance(block, Prose):
            continue
        for token in block.tokens:
            if token.type != "container_callout_open":
                continue
            kind, _title = fence_type(token.info)
            if kind in TYPES:
                continue
            close = difflib.get_close_matches(kind, TYPES, n=1, cutoff=0.6)
            hint = f": did you mean {close[0]}?" if close else f" (callouts are {', '.join(TYPES)})"
            line = (token.map[0] if token.map else 0) + 1
            diagnostics.warn(
                f'the callout type "{kind}" is not one the builder knows, shown as a note{hint}',
                essay.path,
                line,
                kind="markup",
            )
