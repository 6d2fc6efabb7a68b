"""Markdown -> Essay: prose blocks and Python cells, with their source line numbers.

Cells are found by a block rule of their own (cell_rule.py), which runs from a `<script>`
line to the line holding its `</script>`; we walk markdown-it's top-level tokens and turn
each `python_cell` into a Cell, the rest into Prose. No I/O beyond reading the one file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from markdown_it.token import Token

from builder.config import timeout_seconds

from .cell_rule import CLOSE
from .markdown import markdown

if TYPE_CHECKING:
    from builder.diagnostics import Diagnostics

FRONT_MATTER_OPEN = re.compile(r"---[ \t]*\r?\n")


class EssayError(Exception):
    """A problem with an essay file, reported as `path:line: message`."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        from builder.paths import shown

        self.path = shown(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


@dataclass
class Prose:
    tokens: list[Token]
    line: int  # first source line, 1-based


@dataclass(frozen=True)
class Cell:
    source: str
    line: int  # line of the first line of code, 1-based
    tag_line: int  # line of the <script> tag
    attrs: dict[str, str]
    index: int  # 0-based position among the essay's cells
    # the element's id in the page: the author's `id`, or one made from the cell's content
    # (see dom_ids). Not a cache key: builder/cache/keys.py makes those
    dom_id: str = ""

    @property
    def anchor(self) -> str | None:
        return self.attrs.get("id")

    @property
    def iterations(self) -> int:
        return int(self.attrs.get("data-iterations", "1"))

    @property
    def expects_error(self) -> bool:
        """The author means this cell to fail (to show an error): not a build problem."""
        return "data-expect-error" in self.attrs

    @property
    def export(self) -> bool:
        """The cell's source also goes into the essay's module (see builder/pipeline/modules.py)."""
        return "data-export" in self.attrs

    @property
    def verify_skip(self) -> bool:
        """Differs between two clean builds by design (timings, unseeded randomness):
        `--verify` leaves it out."""
        return self.attrs.get("data-verify") == "skip"

    @property
    def show(self) -> str:
        """How the cell shows its values (runtime.kernel.SHOW_STYLES): its data-show, or
        the essay's `show:` (with_defaults put it there), or "names"."""
        return self.attrs.get("data-show", "names")

    @property
    def hide(self) -> frozenset[str]:
        """What the page hides of the cell: "code", "output", or both (data-hide)."""
        return frozenset(self.attrs.get("data-hide", "").split())

    @property
    def timeout(self) -> float | None:
        value = self.attrs.get("data-timeout")
        return float(value) if value is not None else None


@dataclass
class Essay:
    path: Path
    title: str
    meta: dict[str, Any]
    blocks: list[Prose | Cell]
    env: dict[str, Any] = field(default_factory=dict, repr=False)  # markdown-it env (footnotes, refs)

    @property
    def slug(self) -> str:
        return self.path.stem

    @property
    def page(self) -> str:
        return f"{self.slug}.html"

    @property
    def cells(self) -> list[Cell]:
        return [b for b in self.blocks if isinstance(b, Cell)]

    @property
    def module(self) -> str:
        """The name other essays import this essay's exported cells by: the front matter's
        `module:`, or the file's slug without its number, `-` becoming `_`."""
        name = self.meta.get("module")
        if name:
            return str(name)
        return re.sub(r"^\d+[-_]", "", self.slug).replace("-", "_")


# ----- reading ---------------------------------------------------------------------------


def read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise EssayError(path, line, f"not valid UTF-8 (byte 0x{data[exc.start]:02x})") from None
    if not text.strip():
        raise EssayError(path, None, "the file is empty")
    return text.removeprefix("\ufeff")


def parse_essay(path: Path, diagnostics: Diagnostics | None = None, defaults: dict[str, Any] | None = None) -> Essay:
    """Read and parse one essay file; raises EssayError on bad input. What still renders
    but is wrong (a formula that does not parse) goes to `diagnostics`; None: the caller
    only wants the cells. `defaults`: front-matter keys the site's settings give every
    essay (`show`, `hide`), which its own front matter overrides."""
    return parse_text(read_text(path), path, diagnostics, defaults)


def parse_text(
    text: str, path: Path, diagnostics: Diagnostics | None = None, defaults: dict[str, Any] | None = None
) -> Essay:
    # the site's defaults, for the rules that read the front matter (references.py)
    env: dict[str, Any] = {"defaults": dict(defaults or {})}
    tokens = markdown().parse(text, env)
    meta: dict[str, Any] = {}
    blocks: list[Prose | Cell] = []
    pending: list[Token] = []
    start = 1
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "front_matter":
            meta = _front_matter(tok, path)
        elif tok.type == "python_cell":
            if pending:
                blocks.append(Prose(pending, start))
                pending = []
            blocks.append(_cell(tok, path, index=len([b for b in blocks if isinstance(b, Cell)])))
        else:
            if not pending and tok.map:
                start = tok.map[0] + 1
            pending.append(tok)
        i += 1
    if pending:
        blocks.append(Prose(pending, start))
    if not meta and FRONT_MATTER_OPEN.match(text) and not any(t.type == "front_matter" for t in tokens):
        raise EssayError(path, 1, "the front matter that starts here is never closed: end it with a line of ---")
    blocks = with_dom_ids(with_defaults(blocks, {**(defaults or {}), **meta}, path))
    title = str(meta.get("title") or _first_heading(tokens) or title_from_name(path))
    _typeset_math(tokens, path, diagnostics)
    return Essay(path=path, title=title, meta=meta, blocks=blocks, env=env)


# ----- pieces ----------------------------------------------------------------------------


def _front_matter(tok: Token, path: Path) -> dict[str, Any]:
    first = (tok.map[0] if tok.map else 0) + 2  # content starts below the opening ---
    try:
        meta = yaml.safe_load(tok.content) if tok.content.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first + mark.line if mark is not None else first
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise EssayError(path, line, f"invalid front matter: {problem}") from None
    if not isinstance(meta, dict):
        raise EssayError(path, first, "front matter must be a mapping of keys to values")
    return meta


def _cell(tok: Token, path: Path, index: int) -> Cell:
    content = tok.content
    tag_line = (tok.map[0] if tok.map else 0) + 1
    start_tag = tok.meta["start_tag"]
    body_start = content.index(start_tag) + len(start_tag)
    close = CLOSE.search(content, body_start)
    if close is None:
        raise EssayError(path, tag_line, "<script> is never closed")
    if content[close.end() :].strip():
        line = tag_line + content[: close.start()].count("\n")
        raise EssayError(
            path,
            line,
            (
                "text after </script> on the same line: a cell ends at the first </script>, "
                "so put the tag on a line of its own (and inside a string, write '</scr' 'ipt>')"
            ),
        )
    body = content[body_start : close.start()]
    line = tag_line + content[:body_start].count("\n")
    # code usually starts on the line after the tag: skip blank lines, counting them
    while "\n" in body and not body[: body.index("\n")].strip():
        body = body[body.index("\n") + 1 :]
        line += 1
    source = dedent(body).rstrip() + "\n" if body.strip() else ""
    attrs = {k: str(v) for k, v in tok.attrs.items() if k != "type"}
    _check_attrs(attrs, path, tag_line)
    return Cell(source=source, line=line, tag_line=tag_line, attrs=attrs, index=index)


def dedent(text: str) -> str:
    """Remove the indentation every line of code shares. Unlike textwrap.dedent, a line of
    only spaces keeps what is beyond that indentation: inside a triple-quoted string it is
    part of a value, which the cell must compute as its author wrote it."""
    lines = text.splitlines(keepends=True)
    indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
    if not indents:
        return text
    prefix = min((line[:n] for line, n in zip([ln for ln in lines if ln.strip()], indents, strict=True)), key=len)
    # the shared prefix itself: tabs and spaces must match, not only count
    for line in lines:
        if line.strip():
            while not line.startswith(prefix):
                prefix = prefix[:-1]
    return "".join(line[len(prefix) :] if line.startswith(prefix) else line.lstrip(" \t") for line in lines)


def _check_attrs(attrs: dict[str, str], path: Path, line: int) -> None:
    n = attrs.get("data-iterations")
    # ASCII digits only: str.isdigit() also takes "²", which int() then refuses
    if n is not None and not (re.fullmatch(r"\s*[0-9]+\s*", n) and int(n) >= 1):
        raise EssayError(path, line, f'data-iterations must be a whole number of at least 1, not "{n}"')
    t = attrs.get("data-timeout")
    if t is not None:
        try:
            timeout_seconds(t)  # the rule --cell-timeout follows: inf or nan must not reach the clock
        except ValueError as exc:
            raise EssayError(path, line, f"data-timeout {exc}") from None
    _check_choices(attrs.get("data-show"), SHOW_CHOICES, "data-show", path, line)
    _check_choices(attrs.get("data-hide"), HIDE_CHOICES, "data-hide", path, line)
    v = attrs.get("data-verify")
    if v is not None and v != "skip":
        raise EssayError(path, line, f'data-verify takes one value, "skip", not "{v}"')


SHOW_CHOICES = ("names", "last")  # runtime.kernel.SHOW_STYLES, which the builder does not import here
HIDE_CHOICES = ("code", "output")


def _check_choices(value: str | None, choices: tuple[str, ...], name: str, path: Path, line: int) -> None:
    words = [] if value is None else value.split()
    if value is not None and (
        not words or any(w not in choices for w in words) or (name == "data-show" and len(words) > 1)
    ):
        listed = " or ".join(f'"{c}"' for c in choices)
        raise EssayError(path, line, f'{name} takes {listed}, not "{value}"')


def with_defaults(blocks: list[Prose | Cell], meta: dict[str, Any], path: Path) -> list[Prose | Cell]:
    """The essay's `show:` and `hide:` (front matter) as the attributes of each cell that
    sets none of its own, so each cell's key covers how it shows its values."""
    defaults: dict[str, str] = {}
    for key in ("show", "hide"):
        if key in meta:
            value = meta[key]
            text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
            _check_choices(text, SHOW_CHOICES if key == "show" else HIDE_CHOICES, key, path, 1)
            defaults[f"data-{key}"] = text
    if not defaults:
        return blocks
    return [replace(b, attrs={**defaults, **b.attrs}) if isinstance(b, Cell) else b for b in blocks]


def with_dom_ids(blocks: list[Prose | Cell]) -> list[Prose | Cell]:
    """The blocks, each cell with its DOM id: the author's `id`, or `cell-` and a hash of
    its source and attributes chained with the hash of the cell before it: unique in the
    page, and steady while nothing above its cell changes. The ids depend on this essay
    alone: another essay's module changing moves none of them."""
    previous = ""
    out: list[Prose | Cell] = []
    for block in blocks:
        if isinstance(block, Cell):
            parts = [previous, block.source, sorted(block.attrs.items())]
            previous = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]
            out.append(replace(block, dom_id=block.anchor or f"cell-{previous[:10]}"))
        else:
            out.append(block)
    return out


def _typeset_math(tokens: list[Token], path: Path, diagnostics: Diagnostics | None) -> None:
    """Typeset every formula once, now: one that does not parse is a warning naming its line
    (and shows as its source in the page)."""
    from runtime.typeset import MathError

    from .markdown import typeset

    for tok in tokens:
        line = (tok.map[0] if tok.map else 0) + 1
        for child in [tok, *(tok.children or [])]:
            if child.type in ("softbreak", "hardbreak"):
                line += 1  # inline tokens keep no line of their own: count the breaks before
            if not child.type.startswith("math_"):
                continue
            try:
                typeset(child)
            except MathError as exc:
                if diagnostics is not None:
                    message = f"the formula `{child.content.strip()}` does not parse ({exc})"
                    diagnostics.warn(message, path, line, kind="math")


def _first_heading(tokens: list[Token]) -> str | None:
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.tag == "h1" and i + 1 < len(tokens):
            return tokens[i + 1].content.strip() or None
    return None


def title_from_name(path: Path) -> str:
    stem = re.sub(r"^\d+[-_]", "", path.stem)
    return stem.replace("-", " ").replace("_", " ").strip().capitalize() or path.stem
