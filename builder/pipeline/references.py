"""Numbered figures, tables and equations, and the `@` references to them (and to works
cited, see citations.py). The syntax is Quarto's (and pandoc-crossref's):

    ![Walks of 50 steps](data/walks.svg){#fig-walks}      a figure: an image alone in its paragraph
    : Bigram counts {#tbl-counts}                          a table's caption, in the paragraph after it
    $$ L = -\\log p $$ {#eq-loss}                          an equation
    As @fig-walks shows ... ([@eq-loss])                   "Figure 1", "Equation 1", linked

The ids' prefixes (fig-, tbl-, eq-) say what is numbered; each kind counts from 1 in the
order of the page. `@key` and `[@a; @b, p. 3]` are read by two inline rules: a key that
starts with a prefix is a cross-reference, any other is a citation, read only in an essay
with a bibliography (so `@` elsewhere stays text). An `@` after a letter or digit (an
e-mail address) is text, `\\@` is always text, and code, math and cells never reach these
rules. A reference to no target is a file:line warning naming the closest id
(`check_references`); it shows as its source.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import escape
from mdit_py_plugins.attrs import attrs_plugin

if TYPE_CHECKING:
    from builder.diagnostics import Diagnostics

    from .parse import Essay

KINDS = {"fig": "Figure", "tbl": "Table", "eq": "Equation"}
# pandoc's citation keys: a letter, digit or _, then those and internal punctuation; a key
# ends with a letter or digit, so "see @fig-walks." leaves the full stop out
KEY = r"[A-Za-z0-9_](?:[\w:.#$%&+?<>~/-]*\w)?"
AT_KEY = re.compile(r"@(" + KEY + r")")
# one item of a bracket: a prefix, the key (a "-" before it leaves the author out of a
# citation), and what follows it, a locator such as ", p. 33"
ITEM = re.compile(r"^\s*(?P<prefix>[^@]*?)\s*(?P<minus>-?)@(?P<key>" + KEY + r")(?P<suffix>[^@]*?)\s*$")
TABLE_CAPTION = re.compile(r"^:\s+(.*?)\s*\{#(tbl-[\w-]+)\}$", re.S)
EQUATION_LABEL = re.compile(r"^\s*\{#(eq-[\w-]+)\}")


@dataclass(frozen=True)
class Target:
    """Something numbered: Figure 2, at #fig-walks."""

    id: str
    label: str  # "Figure"
    number: int

    @property
    def name(self) -> str:
        return f"{self.label} {self.number}"


def kind_of(key: str) -> str | None:
    """The kind of target a key names (by its prefix), or None for a citation."""
    prefix, dash, rest = key.partition("-")
    return prefix if dash and rest and prefix in KINDS else None


def references_plugin(md: MarkdownIt) -> None:
    # {#fig-…} after an image; only ids and classes: the attributes a figure needs
    md.use(attrs_plugin, allowed=("id", "class"))
    md.core.ruler.before("inline", "citations_on", _citations_on)
    md.inline.ruler.before("link", "cite_bracket", _cite_bracket)
    md.inline.ruler.push("at_reference", _at_reference)
    md.core.ruler.push("number_targets", _number_targets)
    md.add_render_rule("at_ref", _render_at_ref)
    md.add_render_rule("cite_group", _render_cite_group)
    md.add_render_rule("figure_open", _render_figure_open)
    md.add_render_rule("figure_close", _render_figure_close)
    md.add_render_rule("table_caption_open", _render_table_caption_open)


# ----- reading ---------------------------------------------------------------------------


def _citations_on(state: StateCore) -> None:
    """Citations are read only in an essay that names a bibliography, so an `@name` in any
    other essay stays the text it always was (essays.toml's `bibliography` names one for all)."""
    value = state.env.get("defaults", {}).get("bibliography")
    for token in state.tokens[:1]:
        # YAML is slow to read: only a front matter that names the key is read here
        if token.type == "front_matter" and "bibliography" in token.content:
            try:
                meta = yaml.safe_load(token.content)
            except yaml.YAMLError:
                meta = None  # parse.py reports it
            if isinstance(meta, dict) and "bibliography" in meta:
                value = meta["bibliography"]  # `bibliography: false` turns the site's off
    if value:
        state.env["citations_on"] = True


def _wanted(key: str, env: Any) -> bool:
    return kind_of(key) is not None or bool(env.get("citations_on"))


def _at_reference(state: StateInline, silent: bool) -> bool:
    pos = state.pos
    src = state.src
    if src[pos] != "@" or (pos > 0 and (src[pos - 1].isalnum() or src[pos - 1] in "_@.:/")):
        return False  # an e-mail address, or a path
    match = AT_KEY.match(src, pos)
    if match is None or not _wanted(match.group(1), state.env):
        return False
    if not silent:
        token = state.push("at_ref", "", 0)
        token.content = match.group(0)
        # inside a link's text, a reference is its name alone: an <a> may not hold another
        token.meta = {"key": match.group(1), "in_link": state.linkLevel > 0}
    state.pos = match.end()
    return True


def _cite_bracket(state: StateInline, silent: bool) -> bool:
    """`[@a; see @b, p. 3]`: every item names a key; a bracket followed by ( or [ is a link."""
    pos = state.pos
    src = state.src
    if src[pos] != "[" or "@" not in src[pos : pos + 200]:
        return False
    end = src.find("]", pos)
    if end < 0 or "[" in src[pos + 1 : end] or src[end + 1 : end + 2] in ("(", "[", ":"):
        return False
    items = []
    for part in src[pos + 1 : end].split(";"):
        match = ITEM.match(part)
        if match is None or not _wanted(match.group("key"), state.env):
            return False
        items.append((match.group("prefix"), match.group("minus") == "-", match.group("key"), match.group("suffix")))
    if not silent:
        token = state.push("cite_group", "", 0)
        token.content = src[pos : end + 1]
        token.meta = {"items": items, "in_link": state.linkLevel > 0}
    state.pos = end + 1
    return True


def _number_targets(state: StateCore) -> None:
    """Number the figures, tables and equations in the page's order, into env["targets"];
    make each figure's paragraph a <figure> and each table's caption its <caption>."""
    targets: dict[str, Target] = state.env.setdefault("targets", {})
    if "{#" not in state.src and "data-figure" not in state.src:
        return  # nothing is numbered: most essays need no walk through their tokens
    counts = dict.fromkeys(KINDS, 0)
    duplicates: list[tuple[str, int]] = state.env.setdefault("duplicate_targets", [])

    def number(id_: str, kind: str, line: int) -> Target | None:
        if id_ in targets:
            duplicates.append((id_, line))
            return None
        counts[kind] += 1
        targets[id_] = Target(id_, KINDS[kind], counts[kind])
        return targets[id_]

    cell_figures: dict[int, Target] = state.env.setdefault("cell_figures", {})
    tokens = state.tokens
    i = 0
    while i < len(tokens):
        token = tokens[i]
        line = (token.map[0] if token.map else 0) + 1
        figure_id = str(token.attrs.get("data-figure", "")) if token.type == "python_cell" else ""
        if kind_of(figure_id) == "fig":  # a cell whose output is a figure, by its <script> line
            target = number(figure_id, "fig", line)
            if target is not None:
                cell_figures[line] = target
        if token.type == "paragraph_open" and i + 2 < len(tokens):
            inline = tokens[i + 1]
            children = inline.children or []
            if (
                len(children) == 1
                and children[0].type == "image"
                and kind_of(str(children[0].attrs.get("id", ""))) == "fig"
            ):
                image = children[0]
                target = number(str(image.attrs.pop("id")), "fig", line)
                if target is not None:
                    token.type, token.tag = "figure_open", "figure"
                    token.attrs = {"id": target.id, "class": "numbered-figure"}
                    close = tokens[i + 2]
                    close.type, close.tag = "figure_close", "figure"
                    close.meta = {"target": target, "caption": image.children or []}
            elif (
                i > 0
                and tokens[i - 1].type == "table_close"
                and (caption := TABLE_CAPTION.match(inline.content)) is not None
            ):
                target = number(caption.group(2), "tbl", line)
                if target is not None:
                    _caption_table(state, i, caption.group(1), target)
                    i += 3  # three tokens went in above: the paragraph, now the caption
                    continue
        if token.type == "inline":
            _label_equations(token, line, number)
        i += 1


def _caption_table(state: StateCore, i: int, text: str, target: Target) -> None:
    """The paragraph at tokens[i] (after a table) becomes that table's <caption>."""
    tokens = state.tokens
    depth, j = 0, i - 1
    while j >= 0:  # the table's opening token
        if tokens[j].type == "table_close":
            depth += 1
        elif tokens[j].type == "table_open":
            depth -= 1
            if depth == 0:
                break
        j -= 1
    table = tokens[j]
    table.attrSet("id", target.id)
    inline = tokens[i + 1]
    inline.children = []
    inline.content = text
    state.md.inline.parse(text, state.md, state.env, inline.children)
    opening = Token("table_caption_open", "caption", 1)
    opening.meta = {"target": target}
    closing = Token("table_caption_close", "caption", -1)
    del tokens[i : i + 3]
    tokens[j + 1 : j + 1] = [opening, inline, closing]


def _label_equations(inline: Token, line: int, number: Any) -> None:
    """`$$…$$ {#eq-loss}`: the label leaves the text after the formula for the formula's meta."""
    children = inline.children or []
    for k, child in enumerate(children[:-1]):
        after = children[k + 1]
        if child.type != "math_inline_double" or after.type != "text":
            continue
        match = EQUATION_LABEL.match(after.content)
        if match is None:
            continue
        target = number(match.group(1), "eq", line)
        if target is not None:
            child.meta["target"] = target
            after.content = after.content[match.end() :]


# ----- rendering -------------------------------------------------------------------------


def target_html(target: Target, link: bool = True) -> str:
    if not link:
        return str(escape(target.name))
    return f'<a class="crossref" href="#{escape(target.id)}">{escape(target.name)}</a>'


def _render_at_ref(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    key = token.meta["key"]
    if kind_of(key) is not None:
        target = env.get("targets", {}).get(key)
        return target_html(target, not token.meta["in_link"]) if target is not None else str(escape(token.content))
    from .citations import cite_in_text

    return cite_in_text(env, key, not token.meta["in_link"]) or str(escape(token.content))


def _render_cite_group(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    from .citations import cite_group

    token = tokens[idx]
    html = cite_group(env, token.meta["items"], not token.meta["in_link"])
    return html if html is not None else str(escape(token.content))


def _render_figure_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return str(self.renderToken(tokens, idx, options, env)) + "\n"


def _render_figure_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    meta = tokens[idx].meta
    target: Target = meta["target"]
    caption = self.renderInline(meta["caption"], options, env)
    return f'\n<figcaption><span class="target-number">{target.name}:</span> {caption}</figcaption>\n</figure>\n'


def _render_table_caption_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    target: Target = tokens[idx].meta["target"]
    return f'<caption><span class="target-number">{target.name}:</span> '


def cell_figure(html: str, tag_line: int, attrs: dict[str, str], env: Any) -> str:
    """A cell with `data-figure="fig-loss"` (and `data-caption`): the cell, code and output,
    inside a numbered <figure>; any other cell as it was."""
    target: Target | None = env.get("cell_figures", {}).get(tag_line)
    if target is None:
        return html
    from .markdown import markdown

    caption = markdown().renderInline(attrs.get("data-caption", ""))
    number = f'<span class="target-number">{target.name}{":" if caption else ""}</span>'
    return (
        f'<figure id="{escape(target.id)}" class="numbered-figure cell-figure">\n{html}'
        f"<figcaption>{number} {caption}</figcaption>\n</figure>\n"
    )


# ----- checking --------------------------------------------------------------------------


def check_references(essay: Essay, diagnostics: Diagnostics) -> None:
    """Each `@fig-…` (or `@eq-…`, `@tbl-…`) that names no target, and each id numbered twice:
    file:line warnings, the first with the closest id. Citations are citations.py's."""
    from .checks import _prose_tokens

    targets: dict[str, Target] = essay.env.get("targets", {})
    for id_, line in essay.env.get("duplicate_targets", []):
        message = f"the id {id_} is given to two {KINDS[kind_of(id_) or 'fig'].lower()}s: only the first is numbered"
        diagnostics.warn(message, essay.path, line, kind="markup")
    for cell in essay.cells:
        figure_id = cell.attrs.get("data-figure")
        if figure_id is not None and kind_of(figure_id) != "fig":
            message = f'cell {cell.index + 1}: data-figure takes an id that starts with fig-, not "{figure_id}"'
            diagnostics.warn(message, essay.path, cell.tag_line, kind="markup")
        elif "data-caption" in cell.attrs and figure_id is None:
            message = f'cell {cell.index + 1} has a data-caption but no data-figure="fig-…" to number it'
            diagnostics.warn(message, essay.path, cell.tag_line, kind="markup")
    for token, line in _prose_tokens(essay.blocks):
        keys = []
        if token.type == "at_ref":
            keys = [token.meta["key"]]
        elif token.type == "cite_group":
            keys = [item[2] for item in token.meta["items"]]
        for key in keys:
            if kind_of(key) is None or key in targets:
                continue
            close = difflib.get_close_matches(key, list(targets), n=1, cutoff=0.6)
            hint = f": did you mean @{close[0]}?" if close else ""
            label = KINDS[kind_of(key) or "fig"].lower()
            diagnostics.warn(f"@{key} names no {label} in this essay{hint}", essay.path, line, kind="link")
