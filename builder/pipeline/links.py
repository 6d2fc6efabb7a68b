"""Links between essays: `[softmax](01-bigram.md#8-softmax)` becomes a link to the built page
and its anchor, checked. A link to an essay or an anchor that does not exist is reported
with the file and line: a diagnostic of kind "link", a warning that --strict makes an error
(builder/diagnostics.py).

Anchors are the headings' ids (markdown-it's anchors plugin) and the cells' DOM ids.
"""

from __future__ import annotations

import posixpath
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from markdown_it.token import Token

from builder.diagnostics import Diagnostics
from builder.paths import shown

from .parse import Essay, Prose


def anchors(essay: Essay) -> set[str]:
    ids = {c.dom_id for c in essay.cells}
    ids.update(essay.env.get("targets", {}))  # numbered figures, tables and equations
    bibliography = essay.env.get("bibliography")  # the References (citations.py)
    if bibliography is not None:
        ids.update(bibliography.anchors())
    for block in essay.blocks:
        if isinstance(block, Prose):
            ids.update(str(t.attrs["id"]) for t in block.tokens if t.type == "heading_open" and "id" in t.attrs)
    return ids


def _links(essay: Essay) -> Iterator[tuple[Token, int]]:
    """Every link in the essay's prose, with its line."""
    for block in essay.blocks:
        if not isinstance(block, Prose):
            continue
        for tok in block.tokens:
            line = (tok.map[0] if tok.map else 0) + 1
            for child in tok.children or []:
                if child.type in ("softbreak", "hardbreak"):
                    line += 1
                elif child.type == "link_open":
                    yield child, line


def resolve_links(essays: list[Essay], diagnostics: Diagnostics) -> None:
    """Point links to other essays at their pages; add a diagnostic for each broken link."""
    by_name = {e.path.name: e for e in essays}
    known = {e.path.name: anchors(e) for e in essays}
    for essay in essays:
        for token, line in _links(essay):
            href = str(token.attrs.get("href", ""))
            parts = urllib.parse.urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith("/"):
                continue  # another site, or an absolute path: not ours to check
            if not parts.path:  # "#anchor" in the same essay
                if parts.fragment and parts.fragment not in known[essay.path.name]:
                    diagnostics.warn(f"no anchor #{parts.fragment} in this essay", essay.path, line, kind="link")
                continue
            if not parts.path.endswith(".md"):
                continue
            name = posixpath.normpath(urllib.parse.unquote(parts.path))
            target = by_name.get(name) if "/" not in name else None
            if target is None:
                diagnostics.warn(
                    f"the link to {parts.path} names no essay in {shown(essay.path.parent)}",
                    essay.path,
                    line,
                    kind="link",
                )
                continue
            if parts.fragment and parts.fragment not in known[name]:
                diagnostics.warn(f"{name} has no anchor #{parts.fragment}", essay.path, line, kind="link")
            page = urllib.parse.quote(Path(name).with_suffix(".html").name)  # as NavEntry.href
            token.attrs["href"] = page + (f"#{parts.fragment}" if parts.fragment else "")
