"""Notebooks from the wild: converted to essays, they build with the outputs Jupyter showed
for them (the fixtures keep Jupyter's stored outputs: streams, pandas tables as HTML,
matplotlib figures, plain values)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support import FIXTURES, essays

from builder.execute import execute_essay
from builder.notebook import code_cell, convert
from builder.parse import parse_essay

NOTEBOOKS = sorted((FIXTURES / "notebooks").glob("*.ipynb"))


def jupyter_outputs(cell: dict) -> list[tuple[str, str]]:
    """What Jupyter showed for a code cell, as (kind, content) in our terms."""
    shown = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            shown.append(("stream", "".join(output["text"]).rstrip("\n")))
        else:
            data = output["data"]
            if "text/html" in data:
                shown.append(("html", "".join(data["text/html"])))
            elif "image/png" in data or "image/svg+xml" in data:
                shown.append(("figure", ""))
            else:
                # numpy 2 writes np.float64(28.0) where essays write 28.0, on purpose
                plain = "".join(data["text/plain"])
                shown.append(("value", re.sub(r"^np\.\w+\((.*)\)$", r"\1", plain)))
    return shown


def our_outputs(outputs) -> list[tuple[str, str]]:
    """Ours, less what only essays show (a label for every name a cell binds)."""
    shown = []
    for o in outputs:
        if o.label is not None:
            continue
        if o.kind == "html" and o.mime == "image/svg+xml":
            shown.append(("figure", ""))
        elif o.kind == "html":
            shown.append(("html", o.html))
        else:
            shown.append((o.kind, o.text))
    return shown


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_converted_notebook_shows_what_jupyter_showed(notebook, project, monkeypatch):
    pytest.importorskip("pandas", reason="pandas comes with the plots extra: pip install -e '.[plots]'")
    pytest.importorskip("matplotlib", reason="matplotlib comes with the plots extra")
    monkeypatch.setenv("MPLBACKEND", "agg")
    essay_path = convert(notebook, project.essays / f"01-{notebook.stem}.md")
    essay = parse_essay(essay_path)
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    results = execute_essay(essay, 60.0)
    assert len(results) == len(cells)
    for i, (cell, result) in enumerate(zip(cells, results, strict=True)):
        assert result.status == "ok", (i, result.outputs)
        assert our_outputs(result.outputs) == jupyter_outputs(cell), f"cell {i + 1}"


def test_the_title_magics_and_script_tags(tmp_path):
    notebook = {
        "nbformat": 4,
        "cells": [
            {"cell_type": "markdown", "source": ["# My analysis\n", "Text."]},
            {"cell_type": "code", "source": "%matplotlib inline\n!pip install x\nhtml = '</script>'\n"},
            {"cell_type": "code", "source": []},
            {"cell_type": "raw", "source": "raw text"},
        ],
    }
    path = tmp_path / "my-analysis.ipynb"
    path.write_text(json.dumps(notebook))
    text = convert(path).read_text()
    assert text.startswith('---\ntitle: "My analysis"\n---\n')
    assert "# %matplotlib inline  (IPython syntax, not run)" in text and "# !pip install x" in text
    assert "html = '<\\/script>'" in text and "```\nraw text\n```" in text
    assert parse_essay(path.with_suffix(".md")).cells[0].source.count("\n") == 3
    with pytest.raises(FileExistsError):
        convert(path)  # never overwrites


def test_a_code_cell_with_html_end_tags_converts_to_one_cell(tmp_path):
    source = "def _repr_html_(self):\n    return '<pre>' + str(self.x) + '</pre>'\n\nstyle = '</style>'\n"
    notebook = {
        "nbformat": 4,
        "cells": [
            {"cell_type": "code", "source": source},
            {"cell_type": "markdown", "source": "Text after."},
        ],
    }
    path = tmp_path / "repr.ipynb"
    path.write_text(json.dumps(notebook))
    essay = parse_essay(convert(path))
    assert [c.source for c in essay.cells] == [source]
    assert essay.blocks[-1].tokens[1].content == "Text after."


def test_convert_on_the_command_line(project):
    (project.root / "nb.ipynb").write_text(
        json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": "x = 1"}]})
    )
    out = essays("convert", "nb.ipynb", "-o", "essays/01-nb.md", cwd=project.root)
    assert out.returncode == 0 and (project.essays / "01-nb.md").is_file()
    again = essays("convert", "nb.ipynb", "-o", "essays/01-nb.md", cwd=project.root)
    assert again.returncode == 1 and "already exists" in again.stderr
    (project.root / "bad.ipynb").write_text("{not json")
    bad = essays("convert", "bad.ipynb", cwd=project.root)
    assert bad.returncode == 2 and "cannot convert bad.ipynb" in bad.stderr


def test_code_cells_keep_their_indentation():
    assert code_cell("for i in range(2):\n    %time f(i)\n") == (
        "<script>\nfor i in range(2):\n    # %time f(i)  (IPython syntax, not run)\n</script>\n"
    )


def test_fixture_notebooks_are_there():
    assert {p.stem for p in NOTEBOOKS} >= {"sales", "growth"}
    assert all(isinstance(json.loads(Path(p).read_text()), dict) for p in NOTEBOOKS)
