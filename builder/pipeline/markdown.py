"""The one configured markdown-it parser, shared by parse.py and render.py."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import escape
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from .callouts import callouts_plugin
from .cell_rule import python_cell
from .references import references_plugin


def _highlight(code: str, lang: str, _attrs: str) -> str:
    from .highlight import highlight

    # returned whole (starting with <pre) so markdown-it does not wrap it again
    return f'<pre class="highlight"><code>{highlight(code, lang or "text")}</code></pre>\n'


@lru_cache(maxsize=1)
def markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "typographer": True, "highlight": _highlight})
    md.enable(["table", "strikethrough", "replacements", "smartquotes"])
    # cells before HTML blocks, which would end a <script> at </pre>; a <script> line ends
    # a paragraph, blockquote or reference, as an HTML block's does
    md.block.ruler.before("html_block", "python_cell", python_cell, {"alt": ["paragraph", "reference", "blockquote"]})
    md.add_render_rule("python_cell", _render_cell)
    md.use(front_matter_plugin)
    md.use(footnote_plugin)
    md.use(callouts_plugin)  # > [!NOTE] and ::: note
    md.use(deflist_plugin)  # pandoc's: a term, then lines starting ": "
    # "- [x] done": markdown-it-py's own task lists, their checkboxes disabled (not a form)
    md.options["tasklists"] = True
    md.add_render_rule("list_item_open", _render_list_item)
    # headings get ids and a "#" link, so every section can be linked to; no space before the
    # link, so the "#" (invisible until hovered or focused) never wraps alone onto a line of
    # its own, which left a blank band under a title that just fits a phone's width
    md.use(anchors_plugin, max_level=4, permalink=True, permalinkSymbol="#", permalinkSpace=False)
    md.core.ruler.push("anchor_names", _name_anchors)
    # $…$ and $$…$$, as pandoc reads them: "$5 and $10" stays text, \$ is a dollar
    md.use(dollarmath_plugin, allow_digits=False, allow_space=False, double_inline=True)
    # numbered figures, tables and equations; @fig-… and [@key] (after math, which owns $)
    md.use(references_plugin)
    for name in ("math_inline", "math_inline_double", "math_block", "math_block_label"):
        md.add_render_rule(name, _render_math)
    return md


def _name_anchors(state: StateCore) -> None:
    """A screen reader would read each heading's permalink as "#": name it after its section."""
    for i, token in enumerate(state.tokens[:-1]):
        if token.type != "heading_open":
            continue
        children = state.tokens[i + 1].children or []
        words: list[str] = []
        for child in children:
            if child.type == "link_open" and child.attrGet("class") == "header-anchor":
                child.attrSet("aria-label", "Link to this section: " + "".join(words).strip())
                break
            if child.type in ("text", "code_inline", "math_inline"):
                words.append(child.content)


def _render_list_item(self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """A list item; a task's checkbox named after the task's words, since a checkbox with no
    name is read as "checkbox, checked" and nothing more (axe-core's `label`, critical)."""
    token = tokens[idx]
    html = self.renderToken(tokens, idx, options, env)
    if not (token.meta and "checked" in token.meta):
        return html
    words = ""
    for later in tokens[idx + 1 :]:  # the item's first line of words, never the next item's
        if later.type == "list_item_close" and later.level == token.level:
            break
        if later.type == "inline":
            words = "".join(c.content for c in later.children or [] if c.type in ("text", "code_inline"))
            break
    checked = ' checked=""' if token.meta["checked"] else ""
    name = f' aria-label="{escape(words.strip())}"' if words.strip() else ""
    return f'{html}<input class="task-list-item-checkbox" disabled="" type="checkbox"{checked}{name}> '


def _render_cell(self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    # parse.py makes every python_cell token a Cell, so none should reach here; if one
    # does, it shows as source: Python in a <script> would run in the page as JavaScript
    return _highlight(tokens[idx].content, "html", "")


def _is_display(token: Token) -> bool:
    """$$…$$ is display math wherever it stands: on lines of its own (a block) or in the
    middle of a sentence (math_inline_double), as pandoc and Jupyter read it."""
    return token.type.startswith("math_block") or token.type == "math_inline_double"


def typeset(token: Token) -> str:
    """A math token's MathML, kept in its meta by the first call (parse.py typesets every
    formula once, to warn about those that do not parse); raises MathError."""
    if "mathml" not in token.meta:
        from runtime.typeset import to_mathml

        token.meta["mathml"] = to_mathml(token.content, display=_is_display(token))
    return str(token.meta["mathml"])


def _render_math(self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    from runtime.typeset import MathError

    token = tokens[idx]
    block = token.type.startswith("math_block")
    display = _is_display(token)
    try:
        html = typeset(token)
    except MathError as exc:
        # the formula as its source, so the reader still sees what the author meant
        source = f"$${token.content}$$" if display else f"${token.content}$"
        html = f'<code class="math-error" title="{escape(str(exc))}">{escape(source)}</code>'
    if block:
        return f'<div class="math-display">{html}</div>\n'
    target = token.meta.get("target")  # `$$…$$ {#eq-loss}` (references.py)
    if target is not None and display:
        number = f'<span class="equation-number">({target.number})</span>'
        return f'<span class="math-display numbered-equation" id="{escape(target.id)}">{html}{number}</span>'
    # inside a paragraph, where a <div> may not stand: a span the style sheet makes a block
    return f'<span class="math-display">{html}</span>' if display else html
