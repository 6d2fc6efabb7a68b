"""Citations from BibTeX, author-year: `[@knuth1997]` is "(Knuth 1997)", `@knuth1997` is
"Knuth (1997)", `[-@knuth1997]` is "(1997)", `[see @a, p. 3; @b]` keeps its words; each
links to the essay's References, a list at its end of the works it cites, formatted by
pybtex's `plain` style (as BibTeX's plain.bst would) and sorted by author and year.

The front matter names the file (or essays.toml's `bibliography`, for every essay that names
none), relative to the essay and inside the essays folder, so
that it is an input like any other file there: the cache's salt covers it
(paths.source_files) and the dev server's watcher sees it change. `bibliography:` takes one
path or a list. The inline syntax is read by references.py; this module reads the .bib
files, checks the keys and renders what the tokens name. Everything a reader sees of a .bib
file (names, titles, URLs) is escaped.
"""

from __future__ import annotations

import difflib
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from .references import kind_of

if TYPE_CHECKING:
    from builder.diagnostics import Diagnostics

    from .parse import Essay


@dataclass(frozen=True)
class Work:
    """One cited work: how the text names it, and its entry in the references."""

    key: str
    names: str  # "Knuth", "Knuth and Plass", "Bengio et al."
    year: str  # "1997", or "1997a" where one author has two works that year
    html: str  # pybtex's formatted entry


@dataclass
class Bibliography:
    works: dict[str, Work] = field(default_factory=dict)  # the cited works, by key
    heading_id: str = "references"

    def anchors(self) -> set[str]:
        """The ids the References section gives the page: its heading's and each entry's."""
        return {self.heading_id, *(anchor(key) for key in self.works)} if self.works else set()


# ----- loading ---------------------------------------------------------------------------


def attach_bibliography(essay: Essay, diagnostics: Diagnostics) -> None:
    """Read the essay's `bibliography:` files and keep its cited works in essay.env for
    the renderer. A file that is missing, outside the essays folder or not valid BibTeX, an
    entry pybtex cannot format and a key no file has are file:line warnings."""
    value = essay.meta.get("bibliography")
    line = _meta_line(essay.path, "bibliography")
    if value is None:  # essays.toml's, relative to the essays folder, where the essays are
        value = essay.env.get("defaults", {}).get("bibliography")
        line = 1
    if not value:
        return
    names = value if isinstance(value, list) else [value]
    entries: dict[str, Any] = {}
    sources: dict[str, tuple[Path, str]] = {}  # key -> (file, its text), for line numbers
    for name in names:
        loaded = _load(essay, str(name), line, diagnostics)
        if loaded is None:
            continue
        path, text, data = loaded
        for key, entry in data.entries.items():
            if key not in entries:
                entries[key] = entry
                sources[key] = (path, text)
    cited: list[str] = []  # in the order of first use
    missing: set[str] = set()
    for key, where in _cited_keys(essay):
        if key in entries and key not in cited:
            cited.append(key)
        elif key not in entries and key not in missing:  # warned once, at its first use
            missing.add(key)
            close = difflib.get_close_matches(key, list(entries), n=1, cutoff=0.6)
            hint = f": did you mean @{close[0]}?" if close else ""
            diagnostics.warn(f"@{key} is in no bibliography of this essay{hint}", essay.path, where, kind="link")
    works = _format([entries[k] for k in cited], sources, diagnostics)
    # the section's heading id: "references", unless a heading or cell of the essay has it
    taken = {c.dom_id for c in essay.cells} | {
        str(t.attrs.get("id")) for b in essay.blocks for t in getattr(b, "tokens", []) if t.type == "heading_open"
    }
    essay.env["bibliography"] = Bibliography(works, "references" if "references" not in taken else "bibliography")


def _meta_line(path: Path, key: str) -> int:
    """The line of a front-matter key, for warnings about its value (1 if not found)."""
    try:
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(rf"{key}\s*:", text):
                return number
    except OSError:
        pass
    return 1


def _load(essay: Essay, name: str, line: int, diagnostics: Diagnostics) -> tuple[Path, str, Any] | None:
    from pybtex.database import parse_string
    from pybtex.exceptions import PybtexError
    from pybtex.scanner import PybtexSyntaxError

    folder = essay.path.parent
    path = (folder / name).resolve()
    if folder.resolve() not in path.parents:
        message = f"the bibliography {name} is outside the essays folder: move it beside the essays"
        diagnostics.warn(message, essay.path, line, kind="markup")
        return None
    if not path.is_file():
        known = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.bib"))
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f": did you mean {close[0]}?" if close else ""
        diagnostics.warn(f"the bibliography {name} is not in the essays folder{hint}", essay.path, line, kind="markup")
        return None
    try:
        text = path.read_text(encoding="utf-8")
        return path, text, parse_string(text, "bibtex")
    except (OSError, UnicodeDecodeError) as exc:
        diagnostics.warn(f"the bibliography {name} cannot be read: {exc}", essay.path, line, kind="markup")
    except PybtexSyntaxError as exc:
        diagnostics.warn(f"not valid BibTeX: {exc}", path, exc.lineno, kind="markup")
    except PybtexError as exc:
        diagnostics.warn(f"not valid BibTeX: {exc}", path, None, kind="markup")
    return None


def _cited_keys(essay: Essay) -> Iterator[tuple[str, int]]:
    """(key, line) of every citation in the essay's prose, in order."""
    from .checks import _prose_tokens

    for token, line in _prose_tokens(essay.blocks):
        if token.type == "at_ref":
            keys = [token.meta["key"]]
        elif token.type == "cite_group":
            keys = [item[2] for item in token.meta["items"]]
        else:
            continue
        for key in keys:
            if kind_of(key) is None:
                yield key, line


def _entry_line(text: str, key: str) -> int | None:
    match = re.search(r"@\w+\s*[{(]\s*" + re.escape(key) + r"\s*,", text)
    return text[: match.start()].count("\n") + 1 if match else None


def _plain_text(latex: str) -> str:
    from pybtex.richtext import Text

    return str(Text.from_latex(latex).render_as("text"))


def _names(entry: Any) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    last = [_plain_text(" ".join(p.prelast_names + p.last_names)) for p in people]
    if not last:
        return _plain_text(entry.fields.get("title", "")) or entry.key
    if len(last) == 1:
        return last[0]
    if len(last) == 2:
        return f"{last[0]} and {last[1]}"
    return f"{last[0]} et al."


def _format(entries: list[Any], sources: dict[str, tuple[Path, str]], diagnostics: Diagnostics) -> dict[str, Work]:
    """The works, sorted by author and year, each formatted by pybtex's plain style; one
    author's works of one year get letters (1997a, 1997b) in title order."""
    from pybtex.exceptions import PybtexError
    from pybtex.plugin import find_plugin

    style = find_plugin("pybtex.style.formatting", "plain")()
    backend = _SafeHtml()
    rows = []
    for entry in entries:
        names, year = _names(entry), _plain_text(entry.fields.get("year", "")) or "n.d."
        title = _plain_text(entry.fields.get("title", ""))
        try:
            (formatted,) = style.format_entries([entry])
            html = formatted.text.render(backend)
        except PybtexError as exc:
            path, text = sources[entry.key]
            diagnostics.warn(
                f"{entry.key} cannot be formatted: {exc}", path, _entry_line(text, entry.key), kind="markup"
            )
            html = f"{escape(names)}. <em>{escape(title or entry.key)}</em>. {escape(year)}."
        rows.append((names.lower(), year, title.lower(), entry.key, names, html))
    rows.sort()
    years: dict[tuple[str, str], int] = {}
    for _sort, year, *_rest in rows:
        years[(_sort, year)] = years.get((_sort, year), 0) + 1
    works: dict[str, Work] = {}
    seen: dict[tuple[str, str], int] = {}
    for sort_names, year, _title, key, names, html in rows:
        shown = year
        if years[(sort_names, year)] > 1:
            shown = year + "abcdefghijklmnopqrstuvwxyz"[seen.get((sort_names, year), 0) % 26]
            seen[(sort_names, year)] = seen.get((sort_names, year), 0) + 1
        works[key] = Work(key, names, shown, html)
    return works


def _safe_html_backend() -> type:
    from pybtex.backends.html import Backend

    class SafeHtml(Backend):  # type: ignore[misc]
        """pybtex's HTML, with URLs escaped too (its own writes them into href as they are)."""

        @staticmethod
        def format_href(url: str, text: str, external: bool = False) -> str:
            return f'<a href="{escape(url)}">{text}</a>' if text else ""

    return SafeHtml


def _SafeHtml() -> Any:  # a class made on first use, so pybtex loads only where it is needed
    return _safe_html_backend()()


# ----- rendering -------------------------------------------------------------------------


def anchor(key: str) -> str:
    """The id of a work's entry in the References."""
    return "ref-" + urllib.parse.quote(key, safe="")


def _link(work: Work, text: str, link: bool = True) -> str:
    if not link:  # inside an author's link
        return str(escape(text))
    return f'<a class="citation" href="#{anchor(work.key)}">{escape(text)}</a>'


def cite_in_text(env: Any, key: str, link: bool = True) -> str | None:
    """`@key` in a sentence: "Knuth (1997)"; None for a key that names no work. `link`:
    False inside the text of a link, which may not hold another."""
    bibliography: Bibliography | None = env.get("bibliography")
    work = bibliography.works.get(key) if bibliography else None
    if work is None:
        return None
    return f"{escape(work.names)} ({_link(work, work.year, link)})"


def cite_group(env: Any, items: list[tuple[str, bool, str, str]], link: bool = True) -> str | None:
    """`[see @a, p. 3; -@b]`: "(see Knuth 1997, p. 3; 2003)"; cross-references in a bracket
    are their names ("Figure 1"). None when a key names nothing, so the source shows."""
    from .references import target_html

    bibliography: Bibliography | None = env.get("bibliography")
    parts = []
    citations = False
    for prefix, minus, key, suffix in items:
        if kind_of(key) is not None:
            target = env.get("targets", {}).get(key)
            if target is None:
                return None
            inner = target_html(target, link)
        else:
            work = bibliography.works.get(key) if bibliography else None
            if work is None:
                return None
            citations = True
            inner = _link(work, work.year if minus else f"{work.names} {work.year}", link)
        before = f"{escape(prefix)} " if prefix else ""
        parts.append(f"{before}{inner}{escape(suffix)}")
    joined = "; ".join(parts)
    return f"({joined})" if citations else joined


def references_html(essay: Essay) -> Markup:
    """The References section, at the end of the essay; empty when it cites nothing."""
    bibliography: Bibliography | None = essay.env.get("bibliography")
    if not bibliography or not bibliography.works:
        return Markup("")
    items = "\n".join(f'<li id="{escape(anchor(w.key))}">{w.html}</li>' for w in bibliography.works.values())
    hid = bibliography.heading_id
    return Markup(
        f'<section class="references" aria-labelledby="{hid}">\n'
        f'<h2 id="{hid}">References<a class="header-anchor" href="#{hid}" '
        f'aria-label="Link to this section: References">#</a></h2>\n'
        f'<ul class="references-list">\n{items}\n</ul>\n</section>\n'
    )
