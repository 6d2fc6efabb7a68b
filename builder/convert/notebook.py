"""Jupyter notebooks to essays: `essays convert analysis.ipynb` writes analysis.md beside it.

The notebook is read and checked with nbformat, the Jupyter project's own library (nbformat
3 is upgraded to 4), and written out only once the whole essay is made and read back by
the essay parser with the same cells: a bad notebook leaves no file and raises
ConvertError, one line naming what is wrong and in which cell. How each cell is written
is notebook_cells.py's business. Stored outputs are left out: the build makes its own.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .notebook_cells import CellError, as_parsed, code_cell, markdown_cell, python_of, raw_cell, syntax_tree


class ConvertError(ValueError):
    """A notebook that cannot become an essay: the message says why (and which cell)."""


@dataclass
class Part:
    """One notebook cell as essay text."""

    number: int  # the cell's number in the notebook, from 1
    text: str
    python: str | None = None  # a code cell's Python: what the essay's cell must compute


# ----- reading ---------------------------------------------------------------------------


def read_notebook(path: Path) -> Any:
    """The notebook at `path` as an nbformat 4 NotebookNode; raises ConvertError."""
    import nbformat

    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConvertError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ConvertError(f"not JSON: {exc}") from None
    major, minor = _version(raw)
    _validate(raw, major, minor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbformat's notes on upgrading: not the author's concern
        try:
            # nbformat's functions are unannotated; warn_unused_ignores says when that changes
            notebook = nbformat.convert(nbformat.reader.reads(text), 4)  # type: ignore[no-untyped-call]
        except (nbformat.ValidationError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ConvertError(f"nbformat cannot upgrade this nbformat {major} notebook: {exc}") from None
    _validate(notebook, 4, notebook.get("nbformat_minor", 0))
    return notebook


def _version(raw: object) -> tuple[int, int]:
    if not isinstance(raw, dict):
        raise ConvertError(f"not a notebook: the JSON is {_kind(raw)}, not an object")
    major, minor = raw.get("nbformat"), raw.get("nbformat_minor", 0)
    if major is None:
        raise ConvertError("not a notebook: it has no nbformat version")
    if not _is_int(major) or not _is_int(minor):
        raise ConvertError(f"nbformat and nbformat_minor should be whole numbers, not {_kind(major)}")
    if major not in (3, 4):
        raise ConvertError(f"nbformat {major} notebooks are not supported: open it in Jupyter and save it again")
    return major, minor


def _validate(notebook: object, major: int, minor: int) -> None:
    """Check against the notebook format's schema. nbformat.validate would also fill in
    missing cell ids, changing the notebook (and failing on some malformed ones before it
    checks anything): iter_validate, which it calls, only checks."""
    from nbformat.validator import iter_validate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        errors = iter_validate(notebook, version=major, version_minor=minor)  # type: ignore[no-untyped-call]
        error = next(iter(errors), None)
    if error is not None:
        raise ConvertError(_problem(error))


def _problem(error: Any) -> str:
    """One line for a schema error: where, then what (jsonschema's own message quotes the
    whole offending value, which may be a whole cell)."""
    path = list(getattr(error, "absolute_path", []))
    where = _where(path)
    instance = getattr(error, "instance", None)
    validator = getattr(error, "validator", None)
    if validator == "required" and isinstance(instance, dict):
        missing = [k for k in error.validator_value if k not in instance]
        return f"{where} has no {', '.join(map(repr, missing))}, which the notebook format requires"
    if validator == "type":
        return f"{where} should be {_expected(error.schema)}, not {_kind(instance)}"
    if validator in ("oneOf", "anyOf"):
        if path and isinstance(path[-1], int) and isinstance(instance, dict):
            kind = instance.get("cell_type")
            return f"{where} has {'an unknown cell_type ' + repr(kind) if kind else 'no cell_type'}"
        choices = error.schema.get(validator, [])
        return f"{where} should be {' or '.join(_expected(c) for c in choices)}, not {_kind(instance, items=True)}"
    message = str(getattr(error, "message", error)).splitlines()[0]
    return f"{where}: {message[:200]}"


def _where(path: list[Any]) -> str:
    """'cell 3, source' for ['cells', 2, 'source'] (v3: ['worksheets', 0, 'cells', 2, ...])."""
    if "cells" in path:
        at = path.index("cells")
        if at + 1 < len(path) and isinstance(path[at + 1], int):
            rest = [str(p) for p in path[at + 2 :]]
            return ", ".join([f"cell {path[at + 1] + 1}", *rest])
    return ".".join(str(p) for p in path) or "the notebook"


def _expected(schema: Any) -> str:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind == "array":
        items = schema.get("items")
        return f"a list of {_expected(items)}" if isinstance(items, dict) and "type" in items else "a list"
    names = {"string": "text", "object": "an object", "integer": "a whole number", "number": "a number"}
    if isinstance(kind, list):
        return " or ".join(names.get(k, str(k)) for k in kind)
    return names.get(str(kind), str(kind))


def _kind(value: object, items: bool = False) -> str:
    """What a JSON value is, in words; with `items`, which item of a list is not text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list) and items:
        odd = next((f"{_kind(v)} (item {i + 1})" for i, v in enumerate(value) if not isinstance(v, str)), None)
        return f"a list holding {odd}" if odd else "a list"
    return "a list" if isinstance(value, list) else "an object"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ----- writing the essay -----------------------------------------------------------------


def to_essay(notebook: Any, title: str, name: str = "notebook") -> str:
    """The essay for an nbformat 4 notebook; raises ConvertError naming the cell."""
    parts = [_part(number, cell) for number, cell in enumerate(notebook.cells, 1) if cell.source.strip()]
    # `show: last`: values show as Jupyter showed them (printed text and the last expression)
    front = f"---\ntitle: {json.dumps(title)}\nshow: last\n---\n"
    text = "\n".join([front, *(p.text for p in parts)])
    _check(text, front, parts, name)
    return text


def _part(number: int, cell: Any) -> Part:
    try:
        if cell.cell_type == "code":
            return Part(number, code_cell(cell.source), python_of(cell.source))
        if cell.cell_type == "markdown":
            return Part(number, markdown_cell(cell.source))
        return Part(number, raw_cell(cell.source))  # raw: text, never run
    except CellError as exc:
        raise ConvertError(f"cell {number}: {exc}") from None


def _check(text: str, front: str, parts: list[Part], name: str) -> None:
    """Read the essay back as the build will: exactly the code cells, each computing what
    it computed in the notebook. Cells are written so this holds; a Markdown cell that
    leaves an HTML block open (`<!--`, `<pre>`) would swallow the cells below it."""
    from builder.pipeline.parse import EssayError, parse_text

    starts, line = [], front.count("\n") + 2  # each part follows a blank line
    for part in parts:
        starts.append(line)
        line += part.text.count("\n") + 1

    def cell_at(line: int) -> int:
        before = [p.number for p, start in zip(parts, starts, strict=True) if start <= line]
        return before[-1] if before else 1

    try:
        essay = parse_text(text, Path(name))
    except EssayError as exc:
        raise ConvertError(f"cell {cell_at(exc.line or 1)}: {exc.message}") from None
    found = {cell.tag_line: cell for cell in essay.cells}
    wanted = {start: part for part, start in zip(parts, starts, strict=True) if part.python is not None}
    for start, part in wanted.items():
        cell = found.pop(start, None)
        if cell is None:
            raise ConvertError(
                f"cell {part.number} would not run: a Markdown cell above it leaves an HTML block "
                "open (<!--, <pre>, <style>, ...): close it in the notebook"
            )
        if not _same_code(cell.source, part):
            raise ConvertError(
                f"cell {part.number}: an essay cannot hold this code as it is (a line of only spaces "
                "inside a string, say, would lose its spaces): change the cell in the notebook"
            )
    if found:  # never expected: Markdown and raw cells are written so that none is a cell
        stray = min(found)
        raise ConvertError(f"cell {cell_at(stray)} would become a Python cell in the essay")


def _same_code(parsed: str, part: Part) -> bool:
    assert part.python is not None
    tree = syntax_tree(part.python)
    if tree is not None:
        return syntax_tree(parsed) == tree
    # not Python as it stands (it fails in Jupyter too): the text itself must come back
    body = part.text.removeprefix("<script>\n").removesuffix("\n</script>\n")
    return parsed == as_parsed(body)


def title_of(notebook: Any, path: Path) -> str:
    """The first `# heading` of its Markdown, or a title made from the file's name."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in str(cell.source).splitlines():  # a NotebookNode's fields are untyped
                if line.startswith("# "):
                    return line.lstrip("# ").strip()
    return path.stem.replace("_", " ").replace("-", " ").capitalize()


def convert(path: Path, output: Path | None = None) -> Path:
    """Write the essay for the notebook at `path`; returns where. Never overwrites; writes
    nothing unless the whole notebook converts. Raises ConvertError, OSError."""
    target = output or path.with_suffix(".md")
    if target.exists() or target.is_symlink():
        raise FileExistsError(errno.EEXIST, "File exists", str(target))  # before the work, to say so at once
    notebook = read_notebook(path)
    write_new(target, to_essay(notebook, title_of(notebook, path), path.name))
    return target


def write_new(target: Path, text: str) -> None:
    """Write a file that must not exist yet, whole or not at all: into a temporary file
    beside it, then a hard link to the name, which fails if the name was taken meanwhile."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "x", encoding="utf-8") as f:
            f.write(text)
        _link_new(temporary, target, text)
    except FileExistsError:
        raise
    except OSError as exc:  # name the essay, not a temporary file the author never asked for
        raise OSError(exc.errno, exc.strerror, str(target)) from None
    finally:
        temporary.unlink(missing_ok=True)


def _link_new(temporary: Path, target: Path, text: str) -> None:
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: exclusive creation still never overwrites
        with open(target, "x", encoding="utf-8") as f:
            try:
                f.write(text)
                f.flush()
            except BaseException:
                target.unlink(missing_ok=True)  # never part of an essay
                raise
