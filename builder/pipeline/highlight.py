"""Syntax highlighting with Pygments, one formatter for the whole site."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from html import escape

from pygments import highlight as _pygments_highlight
from pygments.filter import Filter
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import Punctuation, Text, Whitespace, _TokenType
from pygments.util import ClassNotFound

# Code colours that pass WCAG AA (4.5:1) on the site's code panels, in both themes: Pygments'
# `xcode` on the light panel (#f6f7f9; its least contrast 4.7:1) and `one-dark` on the dark one
# (#161b22; 4.6:1). The default style's operator words (`.ow`) were 4.47:1. The classes are the
# same in every style, so one highlighted page takes either theme's colours.
LIGHT_STYLE = "xcode"
DARK_STYLE = "one-dark"
DARK_SELECTORS = (':root[data-theme="dark"] .highlight', ':root:not([data-theme="light"]) .highlight')


@lru_cache(maxsize=1)
def formatter() -> HtmlFormatter:
    return HtmlFormatter(cssclass="highlight", nowrap=True, style=LIGHT_STYLE)


class _PlainPunctuation(Filter):  # type: ignore[misc]  # pygments is untyped
    """Punctuation and whitespace as plain text, outside any <span>: the light style leaves
    them the text's colour and the dark one nearly so, and their spans were an eighth of a
    code-heavy page's bytes (1,150 `<span class="p">` and `"w"` on chapter 2, 27 KB)."""

    def filter(self, lexer: Lexer, stream: Iterator[tuple[_TokenType, str]]) -> Iterator[tuple[_TokenType, str]]:
        for kind, value in stream:
            yield (Text if kind in Punctuation or kind in Whitespace else kind), value


@lru_cache(maxsize=32)
def _lexer(lang: str) -> Lexer:
    lexer = get_lexer_by_name(lang, stripnl=False, ensurenl=False)
    lexer.add_filter(_PlainPunctuation())
    return lexer


def highlight(code: str, lang: str = "python") -> str:
    """Highlighted HTML for the inside of a <pre><code>; unknown languages are escaped."""
    try:
        lexer = _lexer(lang)
    except ClassNotFound:
        return escape(code)
    return str(_pygments_highlight(code, lexer, formatter()))


def _token_rules(style: str, selector: str) -> dict[str, str]:
    """A style's rules for the tokens under `selector` (class -> declarations), without its
    page background: the panels keep the site's colours (style.css), which the contrast
    figures above assume."""
    rules = {}
    for line in str(HtmlFormatter(style=style).get_style_defs(selector)).splitlines():
        match = re.match(re.escape(selector) + r" \.([\w-]+) \{ (.*?) \}", line)
        # no span carries the classes of punctuation and whitespace (_PlainPunctuation)
        if match and match.group(1) not in ("linenos", "p", "pm", "w"):
            rules[match.group(1)] = match.group(2)
    return rules


def stylesheet() -> str:
    """The code colours: light by default (and in print), dark on screens whose reader or
    system asks for it."""
    light = _token_rules(LIGHT_STYLE, ".highlight")
    dark = _token_rules(DARK_STYLE, ".highlight")
    # a class only the light style colours would keep its dark-on-light colour: the text's
    dark = {name: dark.get(name, "color: var(--text)") for name in light.keys() | dark.keys()}
    explicit, system = DARK_SELECTORS
    lines = [f".highlight .{name} {{ {rule} }}" for name, rule in light.items()]
    lines.append("@media screen {")
    lines += [f"{explicit} .{name} {{ {rule} }}" for name, rule in sorted(dark.items())]
    lines.append("}")
    lines.append("@media screen and (prefers-color-scheme: dark) {")
    lines += [f"{system} .{name} {{ {rule} }}" for name, rule in sorted(dark.items())]
    lines.append("}")
    return "\n".join(lines)
