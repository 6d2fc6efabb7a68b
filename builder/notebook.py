"""Jupyter notebooks to essays: `essays convert analysis.ipynb` writes analysis.md beside it.

Markdown cells stay Markdown; code cells become `<script>` cells; IPython's own syntax
(`%matplotlib inline`, `!pip install`) has no meaning at build time and becomes a comment.
The notebook's stored outputs are left out: the build makes its own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

MAGIC = re.compile(r"^(\s*)([%!].*)$")


def _text(source: str | list[str]) -> str:
    return "".join(source) if isinstance(source, list) else source


def code_cell(source: str) -> str:
    lines = []
    for line in source.splitlines():
        magic = MAGIC.match(line)
        lines.append(f"{magic.group(1)}# {magic.group(2)}  (IPython syntax, not run)" if magic else line)
    body = "\n".join(lines).rstrip()
    # a cell ends at the first </script>: keep one inside a string from ending it
    body = re.sub(r"</(script)", r"<\\/\1", body, flags=re.IGNORECASE)
    return f"<script>\n{body}\n</script>\n"


def to_essay(notebook: dict, title: str) -> str:
    if notebook.get("nbformat", 4) < 4:
        raise ValueError(f"nbformat {notebook.get('nbformat')} notebooks are not supported: save it again in Jupyter")
    parts = [f"---\ntitle: {json.dumps(title)}\n---\n"]
    for cell in notebook.get("cells", []):
        source = _text(cell.get("source", ""))
        if not source.strip():
            continue
        if cell.get("cell_type") == "markdown":
            parts.append(source.rstrip() + "\n")
        elif cell.get("cell_type") == "code":
            parts.append(code_cell(source))
        else:  # raw cells: kept as a fenced block, never run
            parts.append("```\n" + source.rstrip() + "\n```\n")
    return "\n".join(parts)


def convert(path: Path, output: Path | None = None) -> Path:
    """Write the essay for the notebook at `path`; returns where. Never overwrites."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    title = next(
        (
            line.lstrip("# ").strip()
            for cell in notebook.get("cells", [])
            if cell.get("cell_type") == "markdown"
            for line in _text(cell.get("source", "")).splitlines()
            if line.startswith("# ")
        ),
        path.stem.replace("_", " ").replace("-", " ").capitalize(),
    )
    target = output or path.with_suffix(".md")
    with open(target, "x", encoding="utf-8") as f:
        f.write(to_essay(notebook, title))
    return target
