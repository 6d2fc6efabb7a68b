"""The one configured markdown-it parser, shared by parse.py and render.py."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.front_matter import front_matter_plugin


def _highlight(code: str, lang: str, _attrs: str) -> str:
    from .highlight import highlight

    # returned whole (starting with <pre) so markdown-it does not wrap it again
    return f'<pre class="highlight"><code>{highlight(code, lang or "text")}</code></pre>\n'


@lru_cache(maxsize=1)
def markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "typographer": True, "highlight": _highlight})
    md.enable(["table", "strikethrough", "replacements", "smartquotes"])
    md.use(front_matter_plugin)
    md.use(footnote_plugin)
    # headings get ids and a "#" link, so every section can be linked to
    md.use(anchors_plugin, max_level=4, permalink=True, permalinkSymbol="#", permalinkBefore=False)
    return md
