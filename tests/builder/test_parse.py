from pathlib import Path

import pytest

from builder.parse import Cell, EssayError, Prose, parse_essay, parse_text

P = Path("essays/01-test.md")


def cells(text):
    return parse_text(text, P).cells


def test_cells_and_prose_keep_order_and_lines():
    text = "# Title\n\nIntro.\n\n<script>\nx = 1\ny = 2\n</script>\n\nMore.\n"
    essay = parse_text(text, P)
    kinds = [type(b) for b in essay.blocks]
    assert kinds == [Prose, Cell, Prose]
    cell = essay.cells[0]
    assert cell.source == "x = 1\ny = 2\n"
    assert (cell.tag_line, cell.line) == (5, 6)
    assert essay.blocks[2].line == 10


@pytest.mark.parametrize("type_attr", ["", ' type="python"', ' type="py"', ' type="text/python"', ' type="PY"'])
def test_python_script_types_are_cells(type_attr):
    assert len(cells(f"<script{type_attr}>\nx = 1\n</script>\n")) == 1


def test_other_scripts_pass_through_as_html():
    essay = parse_text('<script type="module">\nconsole.log(1)\n</script>\n', P)
    assert essay.cells == []
    assert "console.log" in essay.blocks[0].tokens[0].content


def test_fenced_indented_and_inline_code_are_never_cells():
    text = "```python\nx = 1\n```\n\n    <script>\n    y = 2\n    </script>\n\nInline <script>z = 3</script> here.\n\n```\n<script>\nw = 4\n</script>\n```\n"
    assert cells(text) == []


def test_attributes_id_iterations_timeout():
    c = cells('<script id="iteration" data-iterations="30" data-timeout="5">\nstep()\n</script>\n')[0]
    assert c.anchor == "iteration" and c.dom_id == "iteration"
    assert c.iterations == 30 and c.timeout == 5.0
    assert "type" not in c.attrs


def test_indented_body_is_dedented_and_blank_lines_kept():
    c = cells("<script>\n    def f():\n        return 1\n\n    y = f()\n</script>\n")[0]
    assert c.source == "def f():\n    return 1\n\ny = f()\n"
    assert c.line == 2


def test_one_line_cell():
    c = cells("<script>x = 41 + 1</script>\n")[0]
    assert c.source == "x = 41 + 1\n" and c.line == 1


def test_keys_chain_through_previous_cells():
    a = cells("<script>\nx = 1\n</script>\n\n<script>\ny = 2\n</script>\n")
    b = cells("<script>\nx = 9\n</script>\n\n<script>\ny = 2\n</script>\n")
    c = cells("Different prose.\n\n<script>\nx = 1\n</script>\n\nMore.\n\n<script>\ny = 2\n</script>\n")
    assert a[1].key != b[1].key  # an earlier cell changed
    assert [x.key for x in a] == [x.key for x in c]  # prose does not count
    assert a[0].dom_id == f"cell-{a[0].key[:10]}"


def test_title_from_front_matter_then_heading_then_file_name():
    assert parse_text("---\ntitle: From meta\n---\n# Heading\n", P).title == "From meta"
    assert parse_text("Text\n\n# Heading *one*\n", P).title == "Heading *one*"
    assert parse_text("Just text.\n", Path("essays/03-gradient-descent.md")).title == "Gradient descent"


def test_front_matter_keys_reach_meta():
    essay = parse_text("---\ntitle: T\ndescription: D\nauthor: Ada\n---\ntext\n", P)
    assert essay.meta == {"title": "T", "description": "D", "author": "Ada"}


# ----- bad input: one line naming the file and line --------------------------------------


def error_of(tmp_path, data: bytes, name="x.md") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(EssayError) as info:
        parse_essay(path)
    return str(info.value)


def test_unclosed_script(tmp_path):
    msg = error_of(tmp_path, b"# T\n\ntext\n\nmore\n\n<script>\nx = 1\n")
    assert msg == f"{tmp_path / 'x.md'}:7: <script> is never closed"


def test_invalid_front_matter_names_its_line(tmp_path):
    msg = error_of(tmp_path, b"---\ntitle: ok\nbad: [unclosed\n---\ntext\n")
    assert msg.startswith(f"{tmp_path / 'x.md'}:") and "invalid front matter" in msg
    assert int(msg.split(":")[1]) in (3, 4)


def test_front_matter_that_is_not_a_mapping(tmp_path):
    msg = error_of(tmp_path, b"---\n- a\n- b\n---\ntext\n")
    assert msg.endswith(":2: front matter must be a mapping of keys to values")


def test_bytes_that_are_not_utf8(tmp_path):
    msg = error_of(tmp_path, b"line one\nline two \xff\xfe\n")
    assert msg == f"{tmp_path / 'x.md'}:2: not valid UTF-8 (byte 0xff)"


@pytest.mark.parametrize("data", [b"", b"  \n\n"])
def test_empty_file(tmp_path, data):
    assert error_of(tmp_path, data) == f"{tmp_path / 'x.md'}: the file is empty"


def test_bad_iterations_attribute(tmp_path):
    msg = error_of(tmp_path, b'text\n\n<script data-iterations="lots">\nx = 1\n</script>\n')
    assert msg.endswith(':3: data-iterations must be a whole number of at least 1, not "lots"')


def test_text_after_closing_tag(tmp_path):
    msg = error_of(tmp_path, b'<script>\ns = "</script>"\n</script>\n')
    assert ":2: text after </script>" in msg
