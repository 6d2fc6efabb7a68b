"""What an essay's Markdown gets wrong although it still renders: each a `file:line`
warning of kind "markup" (an error under --strict), with a suggestion where one is close.

- a cell attribute the builder does not know (`data-iteration`): did you mean...?
- an element id used twice in a page (a cell's `id` equal to a heading's)
- an image or a file the prose links to that is not beside the essays, or not published
- a cell that swallowed prose because its `</script>` is missing (see `unclosed_cells`)
- a `:::` callout of a type the builder does not know (callouts.py)
- a front-matter switch (`toc:`) that is not true or false
- an `@fig-…` that names no figure (references.py; citations are citations.py's)

The files are looked at here, not in parse.py, which reads nothing but the essay.
"""

from __future__ import annotations

import ast
import difflib
import posixpath
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from markdown_it.token import Token

from builder.diagnostics import Diagnostics

from .callouts import check_callouts
from .parse import Cell, Essay, Prose
from .references import check_references

# every attribute a cell's <script> tag may carry (parse.py and the templates read them)
CELL_ATTRIBUTES = (
    "type",
    "id",
    "data-iterations",
    "data-timeout",
    "data-export",
    "data-expect-error",
    "data-verify",
    "data-show",
    "data-hide",
    "data-figure",  # references.py: the cell as a numbered figure
    "data-caption",
)
HTML_ID = re.compile(r"""\sid\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.I)
HTML_IMG = re.compile(r"""<img\b[^>]*?\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.I)
# a line that reads as Markdown or as the next cell, not as Python: a heading ("# Title" is
# a comment to Python, so it only counts in code that does not parse) or a <script> tag
NOT_PYTHON = re.compile(r"^(#{1,6}\s+\S|<script\b)", re.I)


def check_essay(essay: Essay, diagnostics: Diagnostics) -> None:
    """Every check of this module on one parsed essay."""
    cell_attributes(essay, diagnostics)
    duplicate_ids(essay, diagnostics)
    missing_files(essay, diagnostics)
    unclosed_cells(essay, diagnostics)
    check_callouts(essay, diagnostics)
    front_matter_switches(essay, diagnostics)
    check_references(essay, diagnostics)


def _suggest(word: str, choices: list[str] | tuple[str, ...], cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    return f": did you mean {close[0]}?" if close else ""


def cell_attributes(essay: Essay, diagnostics: Diagnostics) -> None:
    for cell in essay.cells:
        for name in cell.attrs:
            if name not in CELL_ATTRIBUTES:
                hint = _suggest(name, CELL_ATTRIBUTES) or f" (cells know {', '.join(CELL_ATTRIBUTES[1:])})"
                message = f"cell {cell.index + 1} has an attribute the builder does not know, {name}{hint}"
                diagnostics.warn(message, essay.path, cell.tag_line, kind="markup")


def _prose_tokens(blocks: list[Prose | Cell]) -> Iterator[tuple[Token, int]]:
    """Every token of the prose blocks (inline children too), with its line."""
    for block in blocks:
        if not isinstance(block, Prose):
            continue
        for tok in block.tokens:
            line = (tok.map[0] if tok.map else 0) + 1
            yield tok, line
            for child in tok.children or []:
                if child.type in ("softbreak", "hardbreak"):
                    line += 1
                yield child, line


def _ids(essay: Essay) -> Iterator[tuple[str, int, str]]:
    """(id, line, what carries it) for every element id the page will hold, in order."""
    for block in essay.blocks:
        if isinstance(block, Cell):
            if block.anchor:
                yield block.anchor, block.tag_line, f"cell {block.index + 1}"
            if block.attrs.get("data-figure", "").startswith("fig-"):
                yield block.attrs["data-figure"], block.tag_line, f"cell {block.index + 1}'s figure"
            continue
        for tok, line in _prose_tokens([block]):
            if tok.type == "heading_open" and "id" in tok.attrs:
                yield str(tok.attrs["id"]), line, "a heading"
            elif tok.type in ("figure_open", "table_open") and "id" in tok.attrs:  # references.py
                yield str(tok.attrs["id"]), line, "a figure" if tok.type == "figure_open" else "a table"
            elif tok.type.startswith("math_") and "target" in tok.meta:  # a numbered equation
                yield tok.meta["target"].id, line, "an equation"
            elif tok.type in ("html_block", "html_inline"):
                for match in HTML_ID.finditer(tok.content):
                    yield next(g for g in match.groups() if g is not None), line, "an HTML element"


def duplicate_ids(essay: Essay, diagnostics: Diagnostics) -> None:
    first: dict[str, tuple[int, str]] = {}
    for name, line, what in _ids(essay):
        if name in first:
            where, owner = first[name]
            message = (
                f'the id "{name}" of {what} is used by {owner} at line {where} too: links find only one; '
                "give one of them another id"
            )
            diagnostics.warn(message, essay.path, line, kind="markup")
        else:
            first[name] = (line, what)


def _references(essay: Essay) -> Iterator[tuple[str, int, str]]:
    """(address, line, "image" or "link") for the images and links of the prose."""
    for tok, line in _prose_tokens(essay.blocks):
        if tok.type == "image":
            yield str(tok.attrs.get("src", "")), line, "image"
        elif tok.type == "link_open":
            yield str(tok.attrs.get("href", "")), line, "link"
        elif tok.type in ("html_block", "html_inline"):
            for match in HTML_IMG.finditer(tok.content):
                yield next(g for g in match.groups() if g is not None), line, "image"


def missing_files(essay: Essay, diagnostics: Diagnostics) -> None:
    """Images and links to files beside the essays that the site will not have. Links to
    essays (.md) and anchors are links.py's to check; other sites are not looked at."""
    folder = essay.path.parent
    available: list[str] | None = None  # the files beside the essays, listed on first need
    for address, line, what in _references(essay):
        parts = urllib.parse.urlsplit(address)
        if parts.scheme or parts.netloc or address.startswith("/") or not parts.path:
            continue
        if parts.path.endswith((".md", ".html")):
            continue
        relative = posixpath.normpath(urllib.parse.unquote(parts.path))
        target = folder / relative
        if target.is_file() and "/" not in relative and target.suffix != ".py":
            message = (
                f"the {what} {parts.path} is a file at the top of the essays folder, which the site does not "
                f"publish: move it into a folder (as data/{relative})"
            )
            diagnostics.warn(message, essay.path, line, kind="markup")
        elif not target.exists():
            if available is None:
                available = _files(folder)
            # stricter than for attributes: two paths share their folder's name at least
            hint = _suggest(relative, available, cutoff=0.75)
            diagnostics.warn(
                f"the {what} {parts.path} is not in the essays folder{hint}", essay.path, line, kind="markup"
            )


SWITCHES = ("toc",)  # front-matter keys that take true or false


def front_matter_switches(essay: Essay, diagnostics: Diagnostics) -> None:
    """`toc: "no"` (a string) would be read as true: say so, at the key's line."""
    for key in SWITCHES:
        value = essay.meta.get(key)
        if value is None or isinstance(value, bool):
            continue
        line = 1
        try:
            for number, text in enumerate(essay.path.read_text(encoding="utf-8").splitlines(), 1):
                if re.match(rf"{key}\s*:", text):
                    line = number
                    break
        except OSError:
            pass
        message = f"{key}: takes true or false, not {value!r}; the page keeps its {key}"
        diagnostics.warn(message, essay.path, line, kind="markup")


def _files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


def unclosed_cells(essay: Essay, diagnostics: Diagnostics) -> None:
    """A cell whose `</script>` is missing runs on to the next cell's, swallowing the prose
    between as code that does not parse. Name the line where it probably should have ended:
    the first line that reads as Markdown or as a new <script>, with the code above it
    parsing on its own."""
    for cell in essay.cells:
        if _parses(cell.source):
            continue
        lines = cell.source.splitlines(keepends=True)
        for i, text in enumerate(lines):
            if i and NOT_PYTHON.match(text) and _parses("".join(lines[:i])):
                line = cell.line + i
                message = (
                    f"cell {cell.index + 1} (from line {cell.tag_line}) runs on over line {line}, which reads as "
                    f"{'a new <script>' if text.lstrip().lower().startswith('<script') else 'Markdown'}: "
                    f"is its </script> missing before line {line}?"
                )
                diagnostics.warn(message, essay.path, line, kind="markup")
                break
