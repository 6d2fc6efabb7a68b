"""Notebooks from the wild: converted to essays, they build with the outputs Jupyter showed
for them (the fixtures keep Jupyter's stored outputs: streams, pandas tables as HTML,
matplotlib figures, plain values). And notebooks that are not fit to convert: each gets one
line naming the problem and its cell, and leaves no file (issue 16, item 12)."""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell
from support import FIXTURES, essays

from builder.cli import main
from builder.convert.notebook import convert, write_new
from builder.convert.notebook_cells import code_cell
from builder.execution.execute import execute_essay
from builder.pipeline.parse import Cell, parse_essay

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


def write_notebook(path: Path, *cells) -> Path:
    """A valid nbformat 4 notebook of these cells (nbformat.v4.new_*_cell)."""
    path.write_text(nbformat.writes(new_notebook(cells=list(cells))), encoding="utf-8")
    return path


def cell_sources(path: Path) -> list[str]:
    return [c.source for c in parse_essay(path).cells]


def run_cell(source: str) -> dict:
    """The names a cell's code binds, run here in a fresh namespace."""
    namespace: dict = {}
    exec(compile(source, "<cell>", "exec"), namespace)
    del namespace["__builtins__"]
    return namespace


def test_the_title_magics_and_script_tags(tmp_path):
    path = write_notebook(
        tmp_path / "my-analysis.ipynb",
        new_markdown_cell("# My analysis\nText."),
        new_code_cell("%matplotlib inline\n!pip install x\nhtml = '</script>'\n"),
        new_code_cell(""),
        new_raw_cell("raw text"),
    )
    text = convert(path).read_text()
    assert text.startswith('---\ntitle: "My analysis"\nshow: last\n---\n')
    assert "# %matplotlib inline  (IPython syntax, not run)" in text and "# !pip install x" in text
    assert "html = '</scr' 'ipt>'" in text and "```\nraw text\n```" in text
    assert parse_essay(path.with_suffix(".md")).cells[0].source.count("\n") == 3
    with pytest.raises(FileExistsError):
        convert(path)  # never overwrites


def test_a_code_cell_with_html_end_tags_converts_to_one_cell(tmp_path):
    source = "def _repr_html_(self):\n    return '<pre>' + str(self.x) + '</pre>'\n\nstyle = '</style>'\n"
    path = write_notebook(tmp_path / "repr.ipynb", new_code_cell(source), new_markdown_cell("Text after."))
    essay = parse_essay(convert(path))
    assert [c.source for c in essay.cells] == [source]
    assert essay.blocks[-1].tokens[1].content == "Text after."


def test_convert_on_the_command_line(project):
    write_notebook(project.root / "nb.ipynb", new_code_cell("x = 1"))
    out = essays("convert", "nb.ipynb", "-o", "essays/01-nb.md", cwd=project.root)
    assert out.returncode == 0 and (project.essays / "01-nb.md").is_file()
    again = essays("convert", "nb.ipynb", "-o", "essays/01-nb.md", cwd=project.root)
    assert again.returncode == 1 and "already exists" in again.stderr
    (project.root / "bad.ipynb").write_text("{not json")
    bad = essays("convert", "bad.ipynb", cwd=project.root)
    assert bad.returncode == 2 and "cannot convert bad.ipynb" in bad.stderr


@pytest.mark.parametrize(
    "name, essay",
    [
        ("1. Why are we here.ipynb", "01-why-are-we-here.md"),
        ("12_Regression (part 2).ipynb", "12-regression-part-2.md"),
        ("analysis.ipynb", "analysis.md"),
        ("3.ipynb", "03-essay.md"),
    ],
)
def test_a_converted_notebook_gets_a_slug_file_name(tmp_path, name, essay):
    from builder.cli import main

    write_notebook(tmp_path / name, new_code_cell("x = 1"))
    assert main(["convert", str(tmp_path / name)]) == 0
    assert (tmp_path / essay).is_file()


def test_code_cells_keep_their_indentation():
    assert code_cell("for i in range(2):\n    %time f(i)\n    !echo $i\n") == (
        "<script>\nfor i in range(2):\n"
        "    # %time  (IPython's %time: the code runs here, untimed)\n    f(i)\n"
        "    pass  # !echo $i  (IPython syntax, not run)\n</script>\n"
    )


# ----- notebooks not fit to convert as they are (issue 16, item 12) ----------------------

V3 = {
    "nbformat": 3,
    "nbformat_minor": 0,
    "metadata": {"name": ""},
    "worksheets": [
        {
            "metadata": {},
            "cells": [
                {"cell_type": "heading", "level": 1, "metadata": {}, "source": ["Old notebook"]},
                {"cell_type": "code", "language": "python", "metadata": {}, "outputs": [], "input": ["x = 1\n", "x"]},
            ],
        }
    ],
}


def test_an_nbformat_3_notebook_is_upgraded_and_converted(tmp_path):
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(V3))
    essay = parse_essay(convert(path))
    assert essay.title == "Old notebook" and [c.source for c in essay.cells] == ["x = 1\nx\n"]


V3_CODE = V3["worksheets"][0]["cells"][1]
CODE = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": "x = 1"}
TEXT = {"cell_type": "markdown", "metadata": {}, "source": "Text"}


def v4(*cells, **fields) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": list(cells), **fields})


BAD_NOTEBOOKS = {
    "a list": ("[1, 2]", "not a notebook: the JSON is a list"),
    "cells as a dict": (v4(cells={"a": CODE}), "cells should be a list, not an object"),
    "an int source": (v4(TEXT, {**CODE, "source": 5}), "cell 2, source should be text or a list of text, not a number"),
    "a number in a source list": (v4({**CODE, "source": ["x", 3]}), "not a list holding a number (item 2)"),
    "an unknown cell type": (v4(TEXT, {**TEXT, "cell_type": "weird"}), "cell 2 has an unknown cell_type 'weird'"),
    "a cell that is a string": (v4("x = 1"), "cell 1 should be an object, not text"),
    "a cell without metadata": (v4(TEXT, {"cell_type": "raw", "source": ""}), "cell 2 has no 'metadata'"),
    "no nbformat": (json.dumps({"cells": [CODE]}), "no nbformat version"),
    "nbformat 2": (json.dumps({"nbformat": 2, "worksheets": []}), "nbformat 2 notebooks are not supported"),
    "an nbformat 3 int input": (
        json.dumps({**V3, "worksheets": [{"metadata": {}, "cells": [{**V3_CODE, "input": 5}]}]}),
        "cell 1, input should be text",
    ),
    "not JSON": ("{not json", "not JSON: Expecting property name"),
    "not UTF-8": (b'{"a": "\xe9"}', "not UTF-8"),
    "an f-string holding </script>": (
        v4(TEXT, {**CODE, "source": "x = 1\ntag = f'</script>'"}),
        "cell 2: line 2: an f-string holds </script",
    ),
    "Markdown leaving a comment open": (v4({**TEXT, "source": "<!-- note"}, CODE), "cell 2 would not run"),
}


@pytest.mark.parametrize(("content", "message"), BAD_NOTEBOOKS.values(), ids=BAD_NOTEBOOKS.keys())
def test_a_bad_notebook_gets_one_line_and_writes_nothing(content, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.ipynb").write_bytes(content if isinstance(content, bytes) else content.encode())
    for _ in range(2):  # the second run meets the same problem, not a file the first left
        assert main(["convert", "bad.ipynb"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("essays: cannot convert bad.ipynb: ") and message in err, err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["bad.ipynb"]


def test_markdown_never_becomes_a_cell(tmp_path):
    markdown = (
        "# Tags\n\n<script>\nimport os\n</script>\n\n<SCRIPT type='text/python'>\nx = 1\n</SCRIPT>\n\n"
        "text `a\n<script>` b\n\nKeep `<script>` as code, and:\n\n```html\n<script>\n```\n\n    <script>\n"
    )
    path = write_notebook(tmp_path / "md.ipynb", new_markdown_cell(markdown), new_code_cell("y = 2"))
    essay_path = convert(path)
    assert cell_sources(essay_path) == ["y = 2\n"]
    text = essay_path.read_text()
    assert "&lt;script>\nimport os" in text and "&lt;SCRIPT type=" in text and "&lt;script>` b" in text
    # code stays as written: spans, fences and indented blocks are never cells
    assert "Keep `<script>` as code" in text and "```html\n<script>\n```" in text and "    <script>\n" in text


def test_a_raw_cell_holding_a_fence_stays_text(tmp_path):
    raw = "```\n<script>\nprint('ran')\n</script>\n```"
    path = write_notebook(tmp_path / "raw.ipynb", new_raw_cell(raw), new_code_cell("y = 2"))
    essay = parse_essay(convert(path))
    assert [c.source for c in essay.cells] == ["y = 2\n"]
    fences = [t for b in essay.blocks if not isinstance(b, Cell) for t in b.tokens if t.type == "fence"]
    assert [f.content for f in fences] == [raw + "\n"]


def test_a_fence_left_open_in_markdown_ends_with_its_cell(tmp_path):
    """As Jupyter shows it: the code cell below stays a cell."""
    path = write_notebook(tmp_path / "fence.ipynb", new_markdown_cell("```python\nx = 1"), new_code_cell("y = 2"))
    assert cell_sources(convert(path)) == ["y = 2\n"]


SCRIPT_ENDS = {
    "a string": "tag = '</script>'",
    "upper case, spaced": 'tag = "<b></SCRIPT ></b>" + "</script\t>"',
    "a line of a triple-quoted string": 'html = """\n<p>\n</script>\n"""',
    "a raw string": "raw = r'\\</script>'",
    "bytes and a comment": "data = b'</script>'  # ends a </script> tag",
    "a docstring": 'def f():\n    """Writes </script>."""\n\ndoc = f.__doc__',
}


@pytest.mark.parametrize("source", SCRIPT_ENDS.values(), ids=SCRIPT_ENDS.keys())
def test_script_end_tags_in_code_keep_their_values(source, tmp_path):
    path = write_notebook(tmp_path / "ends.ipynb", new_code_cell(source))
    [converted] = cell_sources(convert(path))
    assert "</script" not in converted.lower()
    got, want = run_cell(converted), run_cell(source)
    got.pop("f", None), want.pop("f", None)
    assert got == want


def test_a_cell_magic_comments_out_the_whole_cell(tmp_path):
    path = write_notebook(
        tmp_path / "magic.ipynb",
        new_code_cell("%%bash\necho hi\nrm -rf build\n"),
        new_code_cell("\n%%timeit -n 3\nx = 1\n"),
        new_code_cell("%%time\ntotal = sum(range(4))\n!ls\n"),
    )
    bash, timeit, timed = cell_sources(convert(path))
    assert bash.startswith("# %%bash  (IPython cell magic: the whole %%bash cell is left out, not run)\n")
    assert all(line.startswith("#") for cell in (bash, timeit) for line in cell.splitlines())
    assert run_cell(bash) == {} and run_cell(timeit) == {}
    assert run_cell(timed) == {"total": 6}  # %%time runs its code, untimed


def test_line_magics_and_shell_escapes(tmp_path):
    source = (
        "%time a = 1\n%timeit b = 2\nfiles = !ls\nlen?\n!echo \\\n  continued\n"
        "text = '''\n!not a command\n%not a magic\n'''\nif a:\n    !echo inside\n"
    )
    path = write_notebook(tmp_path / "lines.ipynb", new_code_cell(source))
    [converted] = cell_sources(convert(path))
    assert run_cell(converted) == {"a": 1, "text": "\n!not a command\n%not a magic\n"}


def test_a_line_of_spaces_in_a_string_keeps_its_spaces(tmp_path):
    """parse.py once emptied a line of only spaces even inside a string while dedenting a
    cell (convert refused such notebooks); now the essay's cell computes the same value."""
    path = write_notebook(tmp_path / "spaces.ipynb", new_code_cell('s = """\n   \n"""'))
    [converted] = cell_sources(convert(path))
    assert run_cell(converted) == {"s": "\n   \n"}


def test_the_essay_is_written_whole_and_never_over_a_file(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", new_code_cell("x = 1"))
    target = tmp_path / "nb.md"
    target.write_text("mine")
    with pytest.raises(FileExistsError):
        convert(path)
    assert target.read_text() == "mine"
    with pytest.raises(FileNotFoundError):
        convert(path, tmp_path / "missing" / "nb.md")
    assert convert(path, tmp_path / "other.md").read_text().endswith("<script>\nx = 1\n</script>\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb", "nb.md", "other.md"]


def test_without_hard_links_the_essay_is_still_never_written_over_a_file(tmp_path, monkeypatch):
    def no_links(*_args):
        raise PermissionError(errno.EPERM, "hard links are not supported here")

    monkeypatch.setattr(os, "link", no_links)
    path = write_notebook(tmp_path / "nb.ipynb", new_code_cell("x = 1"))
    assert convert(path).read_text().endswith("<script>\nx = 1\n</script>\n")
    with pytest.raises(FileExistsError):
        write_new(path.with_suffix(".md"), "other")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb", "nb.md"]


def test_fixture_notebooks_are_there():
    assert {p.stem for p in NOTEBOOKS} >= {"sales", "growth"}
    assert all(isinstance(json.loads(Path(p).read_text()), dict) for p in NOTEBOOKS)
