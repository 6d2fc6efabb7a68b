"""Syntax highlighting with Pygments, one formatter for the whole site."""

from __future__ import annotations

from functools import lru_cache
from html import escape

from pygments import highlight as _pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound


@lru_cache(maxsize=1)
def formatter() -> HtmlFormatter:
    return HtmlFormatter(cssclass="highlight", nowrap=True)


@lru_cache(maxsize=32)
def _lexer(lang: str) -> Lexer:
    return get_lexer_by_name(lang, stripnl=False, ensurenl=False)


def highlight(code: str, lang: str = "python") -> str:
    """Highlighted HTML for the inside of a <pre><code>; unknown languages are escaped."""
    try:
        lexer = _lexer(lang)
    except ClassNotFound:
        return escape(code)
    return str(_pygments_highlight(code, lexer, formatter()))


def stylesheet() -> str:
    return str(formatter().get_style_defs(".highlight"))
