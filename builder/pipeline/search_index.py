"""The site's search index: one document per section of every essay, written as a script.

A page opened from a file cannot fetch() JSON, but it can load a script, so the index is
`_static/search-index.js`, which assigns a global; the page's search box
(runtime/js/search.js) adds it with a <script> element on first use, and MiniSearch indexes
the documents in the page then. Indexing in the page, rather than serialising MiniSearch's
own index at build time, keeps Node out of the build: authors may build without it.

A section runs from one heading to the next. Its text is the prose's words as readers see
them (no markup, no "#" permalinks, no LaTeX source); the cells' code and fenced code go
into a field of their own, which the page ranks below prose.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from markdown_it.token import Token

from .parse import Cell, Essay, Prose
from .static_files import BUNDLES, STATIC
from .writer import SiteWriter

INDEX_FILE = "search-index.js"
# built by esbuild (runtime/js/build.mjs): the box, and MiniSearch with the code that uses it
SEARCH_BUNDLES = ("search.js", "search-engine.js")
GLOBAL = "essaysSearchIndex"  # the name runtime/js/search.js reads
FORMAT = 1  # bump when the layout of a document changes (search.js checks it)
# a section's code beyond this many characters adds little to finding it and much to the
# index's size (a chapter's training loop is kilobytes)
CODE_LIMIT = 2000
# the words of inline children that readers see
TEXT_CHILDREN = ("text", "code_inline", "image")
# a formula's letters without LaTeX's commands and braces (`\\frac{dL}{dx}`: "dL dx"), so a
# snippet does not read "it is , for it is ." where the page shows math
LATEX_NOISE = re.compile(r"\\[A-Za-z]+|\\.|[{}^_&$]")


@dataclass
class SearchDocument:
    """One section: where it is (`href`, with the heading's anchor), the essay's title, its
    heading, and its words."""

    href: str
    essay: str
    heading: str
    text: str = ""
    code: str = ""
    _text: list[str] = field(default_factory=list, init=False, repr=False)
    _code: list[str] = field(default_factory=list, init=False, repr=False)

    def row(self) -> list[str]:
        return [self.href, self.essay, self.heading, self.text, self.code]


def inline_text(token: Token) -> str:
    """An inline token's words, without the permalink that headings carry."""
    words: list[str] = []
    in_anchor = False
    for child in token.children or []:
        if child.type == "link_open" and child.attrs.get("class") == "header-anchor":
            in_anchor = True
        elif child.type == "link_close":
            in_anchor = False
        elif in_anchor:
            continue
        elif child.type in TEXT_CHILDREN:
            words.append(child.content)
        elif child.type == "math_inline":
            words.append(LATEX_NOISE.sub(" ", child.content))
        elif child.type in ("softbreak", "hardbreak"):
            words.append(" ")
    return " ".join("".join(words).split())


def essay_documents(essay: Essay) -> list[SearchDocument]:
    """The essay's sections, in order; the first (before any heading, or the h1) links to
    the page itself."""
    page = urllib.parse.quote(essay.page)
    current = SearchDocument(page, essay.title, essay.title)
    documents = [current]
    for block in essay.blocks:
        if isinstance(block, Cell):
            current._code.append(block.source)
            continue
        assert isinstance(block, Prose)
        tokens = block.tokens
        for i, token in enumerate(tokens):
            if token.type == "heading_open" and i + 1 < len(tokens):
                heading = inline_text(tokens[i + 1])
                anchor = token.attrs.get("id")
                if token.tag == "h1" and len(documents) == 1 and not current._text:
                    current.heading = heading or essay.title  # the title's own heading
                elif anchor:
                    current = SearchDocument(f"{page}#{urllib.parse.quote(str(anchor))}", essay.title, heading)
                    documents.append(current)
                else:
                    current._text.append(heading)  # a heading no link can reach: its words count
            elif token.type == "inline" and not (i > 0 and tokens[i - 1].type == "heading_open"):
                current._text.append(inline_text(token))
            elif token.type in ("fence", "code_block"):
                current._code.append(token.content)
    for document in documents:
        document.text = " ".join(t for t in document._text if t)
        document.code = "\n".join(document._code).strip()[:CODE_LIMIT]
    return documents


def index_script(essays: Iterable[Essay]) -> str:
    """`_static/search-index.js`: the documents of every essay that parsed, as rows (names
    once, in `fields`, rather than in every document), assigned to a global."""
    documents: Sequence[SearchDocument] = [d for essay in essays for d in essay_documents(essay)]
    data = {
        "format": FORMAT,
        "fields": ["href", "essay", "heading", "text", "code"],
        "documents": [d.row() for d in documents],
    }
    # "<" escaped as in the pages' embedded JSON: the file is a script, and an essay's words
    # may hold "</script>" or "<!--"
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    # U+2028 and U+2029 are legal in JSON and, since ES2019, in JavaScript strings; escaped
    # anyway for older engines
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"window.{GLOBAL}={text};\n"


def search_built() -> bool:
    """Whether the search's scripts are built (`npm run build`)."""
    return all((BUNDLES / name).is_file() for name in SEARCH_BUNDLES)


def write_search(writer: SiteWriter, essays: Iterable[Essay]) -> bool:
    """The index and the search's two scripts, into _static/. False, and nothing written,
    where the scripts are not built (a checkout without `npm run build`): the pages then
    have no search box, rather than one that cannot answer."""
    if not search_built():
        return False
    for name in SEARCH_BUNDLES:
        writer.write_bytes(f"{STATIC}/{name}", (BUNDLES / name).read_bytes())
    writer.write_text(f"{STATIC}/{INDEX_FILE}", index_script(essays))
    return True
