"""One notebook cell as essay text, for `essays convert` (notebook.py does the notebook).

The essay parser starts a Python cell at any top-level `<script>` line and ends it at the
first `</script` after it, so each kind of cell is written to keep its meaning:

- Markdown and raw cells stay text: `<script` in Markdown is written `&lt;script` (outside
  fenced and indented code), and a raw cell is fenced with more backticks than it holds.
- A code cell computes what it computed in Jupyter or is refused (CellError): `</script`
  in a string literal is split into two literals Python joins back (`'</scr' 'ipt>'`), in a
  comment it becomes `<\\/script`; anywhere else (an f-string) the cell cannot be written.
- IPython's own syntax has no meaning at build time: a cell magic (`%%bash`) comments out
  the whole cell, other magics and shell escapes (`!ls`, `%timeit`) their line; `%%time`
  and `%time STATEMENT` keep the code they time, untimed, so the names it binds exist.
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
import warnings

from markdown_it.token import Token

from builder.pipeline.markdown import markdown


class CellError(ValueError):
    """A cell that an essay cannot hold without changing what it does."""


# what ends a cell for the parser (cell_rule.CLOSE), and any longer spelling of it
SCRIPT_END = re.compile(r"</script", re.IGNORECASE)
# the start of a script tag, as cell_rule._OPEN sees it (and a self-closing one)
SCRIPT_TAG = re.compile(r"<(?=script(?:[\s/>]|$))", re.IGNORECASE | re.MULTILINE)

# IPython's escapes where a statement starts: %magic, %%magic, !shell, ?help and the
# autocall escapes , ; / -- no Python statement starts with any of them
ESCAPED = re.compile(r"^(\s*)([%!?,;/].*)$")
# `files = !ls`, `env = %env`: IPython assigns a command's or a magic's result
ASSIGNED = re.compile(r"^(\s*)([\w.]+(?:\s*,\s*[\w.]+)*\s*=\s*[%!].*)$")
# `obj?`, `obj.method??`: help
HELP = re.compile(r"^(\s*)([\w.]+\?{1,2})\s*$")
# `%time STATEMENT` runs the statement in the notebook's namespace, and times it
TIME = re.compile(r"^%time\s+(\S.*)$")

NOT_RUN = "(IPython syntax, not run)"
UNTIMED = "(IPython's %time: the code runs here, untimed)"


# ----- code cells ------------------------------------------------------------------------


def code_cell(source: str) -> str:
    """The `<script>` cell for a code cell's source; raises CellError."""
    body = protect_script_ends(python_of(source)).rstrip()
    return f"<script>\n{body}\n</script>\n"


def python_of(source: str) -> str:
    """The Python a code cell means at build time: IPython's syntax made comments (or, for
    %time, the code it times)."""
    # Python reads \r\n and \r as line ends, and so does markdown-it
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    if first < len(lines) and lines[first].lstrip().startswith("%%"):
        return _cell_magic(lines[first].strip(), lines[first + 1 :])
    return "\n".join(_line_magics(lines[first:]))


def _cell_magic(magic: str, body: list[str]) -> str:
    if magic == "%%time":
        return "\n".join([f"# {magic}  {UNTIMED}", *_line_magics(body)])
    # the body is not Python (%%bash, %%html) or runs where names do not persist (%%timeit):
    # running none of it is the only safe reading
    while body and not body[-1].strip():
        body.pop()
    name = magic.split(maxsplit=1)[0]
    note = f"# {magic}  (IPython cell magic: the whole {name} cell is left out, not run)"
    return "\n".join([note, *(f"# {line}" if line.strip() else "#" for line in body)])


def _line_magics(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        span = [lines[i]]
        syntax = _ipython_syntax(lines[i])
        if syntax is not None and _starts_statement(out):
            # IPython reads a `\` at the end of a magic's line as going on to the next
            while span[-1].endswith("\\") and i + 1 < len(lines):
                i += 1
                span.append(lines[i])
            out.extend(_replace_magic(*syntax, span[1:]))
        else:
            out.append(lines[i])
        i += 1
    return out


def _ipython_syntax(line: str) -> tuple[str, str] | None:
    """(indentation, IPython text) when the line is IPython's syntax, not Python."""
    for pattern in (ESCAPED, ASSIGNED, HELP):
        found = pattern.match(line)
        if found:
            return found.group(1), found.group(2).rstrip()
    return None


def _replace_magic(indent: str, text: str, continued: list[str]) -> list[str]:
    timed = TIME.match(text)
    if timed and not continued:
        return [f"{indent}# %time  {UNTIMED}", f"{indent}{timed.group(1)}"]
    # inside a block a comment alone would leave the block empty: `pass` keeps it Python
    first = f"{indent}pass  # {text}  {NOT_RUN}" if indent else f"# {text}  {NOT_RUN}"
    return [first, *(f"{indent}# {line.strip()}" for line in continued)]


def _starts_statement(before: list[str]) -> bool:
    """Whether the line after `before` starts a statement: IPython reads magics only there,
    never inside a string or brackets, where `!` and `%` are text."""
    try:
        for _ in tokenize.generate_tokens(io.StringIO("\n".join(before) + "\n").readline):
            pass
    except tokenize.TokenError:  # an open string, bracket or `\` continuation
        return False
    except SyntaxError:  # the cell fails to compile either way: treat the line as IPython's
        return True
    return True


def protect_script_ends(code: str) -> str:
    """`code` with no `</script` left, computing the same; raises CellError where it cannot."""
    if not SCRIPT_END.search(code):
        return code
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        raise CellError("holds </script in code that is not valid Python, and an essay cell would end there") from None
    offsets = _line_offsets(code)
    result = code
    for tok in reversed(tokens):
        if not SCRIPT_END.search(tok.string):
            continue
        start = offsets[tok.start[0] - 1] + tok.start[1]
        end = offsets[tok.end[0] - 1] + tok.end[1]
        result = result[:start] + _protected(tok) + result[end:]
    if SCRIPT_END.search(result) or not _same_program(code, result):
        raise CellError("holds </script where it cannot be rewritten without changing the code")  # a guard
    return result


def _protected(tok: tokenize.TokenInfo) -> str:
    if tok.type == tokenize.COMMENT:
        return re.sub(r"</(?=script)", r"<\\/", tok.string, flags=re.IGNORECASE)
    if tok.type == tokenize.STRING:
        return _split_literal(tok.string, tok.start[0])
    # Python 3.12 and later read an f-string's text as FSTRING_MIDDLE
    raise CellError(f"line {tok.start[0]}: an f-string holds </script: write it as '</scr' 'ipt>' in the notebook")


def _split_literal(literal: str, line: int) -> str:
    """The string literal as two adjacent literals, cut inside each `</script`: Python joins
    them into the same value ('<\\/script>' would not do: `\\/` is two characters)."""
    head = re.match(r"([A-Za-z]*)('''|\"\"\"|'|\")", literal)
    assert head is not None  # a STRING token starts with its prefix and quote
    prefix, quote = head.groups()
    if set(prefix.lower()) & {"f", "t"}:
        # cutting inside a {field} would break it: Python 3.11 reads an f-string as one token
        raise CellError(f"line {line}: an f-string holds </script: write it as '</scr' 'ipt>' in the notebook")
    cuts = [m.start() + len("</scr") for m in SCRIPT_END.finditer(literal)]
    pieces = [literal[a:b] for a, b in zip([0, *cuts], [*cuts, len(literal)], strict=True)]
    return f"{quote} {prefix}{quote}".join(pieces)


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    for line in text.split("\n")[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    return offsets


def _same_program(before: str, after: str) -> bool:
    """Whether two sources compile to the same syntax tree (comments aside); True when
    `before` does not compile, since then there is nothing to compare."""
    tree = syntax_tree(before)
    return tree is None or syntax_tree(after) == tree


def syntax_tree(source: str) -> str | None:
    """The source's syntax tree, as text to compare; None when it does not compile."""
    try:
        return _syntax_tree(source)
    except SyntaxError:
        return None


def _syntax_tree(source: str) -> str:
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT  # notebooks await at the top
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes and the like: not ours to report
        return ast.dump(compile(source, "<cell>", "exec", flags=flags, dont_inherit=True))


def as_parsed(body: str) -> str:
    """A cell's body as pipeline/parse.py hands it on: leading blank lines dropped, dedented."""
    lines = body.split("\n")
    while len(lines) > 1 and not lines[0].strip():
        lines.pop(0)
    body = "\n".join(lines)
    return textwrap.dedent(body).rstrip() + "\n" if body.strip() else ""


# ----- Markdown and raw cells ------------------------------------------------------------


def markdown_cell(source: str) -> str:
    """The Markdown, with no `<script` the essay parser could read as a cell, and any code
    fence it leaves open closed (Jupyter ends it with the cell; an essay would not)."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").rstrip().split("\n")
    # where the code is, in the text as written out: with every tag escaped
    tokens = markdown().parse("\n" + SCRIPT_TAG.sub("&lt;", "\n".join(lines)), {})
    code = {n - 1 for t in tokens if t.type in ("fence", "code_block") and t.map for n in range(*t.map)}
    out = [line if n in code else _escape_tags(line) for n, line in enumerate(lines)]
    return "\n".join(out + _fence_closer(tokens, lines)) + "\n"


def _escape_tags(line: str) -> str:
    """`<script` as `&lt;script`, except in a code span that does not start the line (a tag
    that starts a line starts a cell even inside a span: blocks are read before spans)."""
    spans = _code_spans(line)
    first = len(line) - len(line.lstrip())

    def kept(i: int) -> bool:
        return i != first and any(a <= i < b for a, b in spans)

    return "".join(
        "&lt;" if ch == "<" and SCRIPT_TAG.match(line, i) and not kept(i) else ch for i, ch in enumerate(line)
    )


def _code_spans(line: str) -> list[tuple[int, int]]:
    """Where the line's `code spans` are (CommonMark: a run of n backticks up to the next
    run of exactly n). Spans over several lines are not seen: a tag one hides is escaped,
    which costs only how it looks."""
    runs = [(m.start(), m.end()) for m in re.finditer(r"(?<!\\)`+", line)]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(runs):
        width = runs[i][1] - runs[i][0]
        close = next((j for j in range(i + 1, len(runs)) if runs[j][1] - runs[j][0] == width), None)
        if close is None:
            i += 1
            continue
        spans.append((runs[i][1], runs[close][0]))
        i = close + 1
    return spans


def _fence_closer(tokens: list[Token], lines: list[str]) -> list[str]:
    """The line that closes a top-level code fence left open at the cell's end, if any."""
    last = next((t for t in reversed(tokens) if t.level == 0 and t.map), None)
    if last is None or last.map is None or last.type != "fence" or last.map[1] - 1 != len(lines):
        return []
    mark = last.markup
    closing = re.compile(rf" {{0,3}}{re.escape(mark[0])}{{{len(mark)},}}[ \t]*$")
    first, end = last.map[0] - 1, last.map[1] - 1  # the parse had a blank line on top
    body = lines[first:end]  # the fence's lines, the opening one first
    return [] if len(body) > 1 and closing.match(body[-1]) else [mark]


def raw_cell(source: str) -> str:
    """A raw cell as a fenced block of text, never run: the fence is longer than any run of
    backticks in it, so no line of the cell can close it."""
    text = source.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}\n"
