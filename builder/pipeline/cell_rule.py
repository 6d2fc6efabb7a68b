"""The markdown-it block rule that finds Python cells: `python_cell` tokens.

A cell is a `<script>` (no `type`, or a Python one) from its tag's line to the line holding
its `</script>`, blank lines included. CommonMark's HTML block type 1 also ends a `<script>`
at `</pre>`, `</style>` or `</textarea>`, strings ordinary `_repr_html_` code contains, so
cells get a rule of their own that runs before "html_block". Other scripts
(`type="module"`, ...) are left to html_block and stay HTML.

A cell ends at the first `</script>` after its tag, even one inside a Python string: that
is how a browser reads it too, so authors split it there: `'</scr' 'ipt>'`, which Python
joins back into the same string (`'<\\/script>'` would keep its backslash). Only top-level scripts
are cells: one inside a list item, blockquote or footnote stays HTML, as it always has.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markdown_it.rules_block import StateBlock

PYTHON_TYPES = frozenset({"", "python", "py", "text/python"})
_OPEN = re.compile(r"<script(?=[\s>]|$)", re.IGNORECASE)
# no newline inside the tag: a cell ends on the line that holds its </script>
CLOSE = re.compile(r"</script[ \t]*>", re.IGNORECASE)


class StartTag(HTMLParser):
    """The first start tag fed to it: its name, attributes and exact text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tag: str | None = None
        self.attrs: dict[str, str] = {}
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.tag is None:
            self.tag = tag
            self.attrs = {k: (v if v is not None else "") for k, v in attrs}
            self.text = self.get_starttag_text() or ""


def _start_tag(state: StateBlock, start: int, end: int) -> StartTag | None:
    """The `<script ...>` tag that begins at line `start`; its attributes may run over
    several lines, so lines are fed until the tag is complete. None if it never is."""
    parser = StartTag()
    for line in range(start, end):
        begin = state.bMarks[line] + (state.tShift[line] if line == start else 0)
        parser.feed(state.src[begin : state.eMarks[line] + 1])
        if parser.tag is not None:
            return parser
    return None


def _closing_line(state: StateBlock, after: int, start: int, end: int) -> int | None:
    """The first line from `start` holding a </script> at or after the offset `after`."""
    for line in range(start, end):
        begin = max(state.bMarks[line], after)
        if begin <= state.eMarks[line] and CLOSE.search(state.src, begin, state.eMarks[line]):
            return line
    return None


def python_cell(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """markdown-it's block rule: a `python_cell` token for the cell starting at line `start`."""
    if state.level > 0 or state.is_code_block(start):
        return False  # nested scripts were never cells: html_block keeps them as HTML
    begin = state.bMarks[start] + state.tShift[start]
    if not _OPEN.match(state.src, begin, state.eMarks[start]):
        return False
    tag = _start_tag(state, start, end)
    if tag is None or tag.attrs.get("type", "").strip().lower() not in PYTHON_TYPES:
        return False
    if silent:
        return True  # a cell may interrupt a paragraph, as a <script> HTML block can
    last = _closing_line(state, begin + len(tag.text), start, end)
    # never closed: take the rest, and let parse.py name the tag's line
    next_line = end if last is None else last + 1
    state.line = next_line
    token = state.push("python_cell", "script", 0)
    token.map = [start, next_line]
    token.content = state.getLines(start, next_line, state.blkIndent, True)
    token.attrs = dict(tag.attrs)
    token.meta = {"start_tag": tag.text}
    return True
