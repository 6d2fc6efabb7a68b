from pathlib import Path

import pytest

from builder.pipeline.markdown import markdown
from builder.pipeline.parse import Cell, EssayError, Prose, parse_essay, parse_text

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


def test_dom_ids_chain_through_previous_cells():
    a = cells("<script>\nx = 1\n</script>\n\n<script>\ny = 2\n</script>\n")
    b = cells("<script>\nx = 9\n</script>\n\n<script>\ny = 2\n</script>\n")
    c = cells("Different prose.\n\n<script>\nx = 1\n</script>\n\nMore.\n\n<script>\ny = 2\n</script>\n")
    assert a[1].dom_id != b[1].dom_id  # an earlier cell changed
    assert [x.dom_id for x in a] == [x.dom_id for x in c]  # prose does not count
    assert a[0].dom_id.startswith("cell-") and len(a[0].dom_id) == len("cell-") + 10
    assert a[0].dom_id != a[1].dom_id


def test_cells_are_frozen():
    import dataclasses

    (cell,) = cells("<script>\nx = 1\n</script>\n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cell.source = "x = 2\n"  # type: ignore[misc]


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


@pytest.mark.parametrize("value", ["²", "¹⁰", "٣", "1.5", "0", "-2", ""])
def test_iterations_must_be_ascii_digits(tmp_path, value):
    """ "²" passed str.isdigit() and then int() raised ValueError: a traceback, no site."""
    msg = error_of(tmp_path, f'text\n\n<script data-iterations="{value}">\nx = 1\n</script>\n'.encode())
    assert msg.endswith(f':3: data-iterations must be a whole number of at least 1, not "{value}"')


@pytest.mark.parametrize("value", ["inf", "Infinity", "1e308", "nan", "0", "-1", "86401", "soon", ""])
def test_a_timeout_that_cannot_be_waited_for_is_refused(tmp_path, value):
    """inf and 1e308 overflowed the deadline and took the whole build down; 0, -1 and nan
    passed and timed out the cell at once ("timed out after nan s")."""
    msg = error_of(tmp_path, f'text\n\n<script data-timeout="{value}">\nx = 1\n</script>\n'.encode())
    assert ":3: data-timeout must be a number of seconds" in msg and msg.endswith(f'not "{value}"')


@pytest.mark.parametrize("value, seconds", [("0.5", 0.5), ("86400", 86400.0), (" 30 ", 30.0)])
def test_a_timeout_in_range_is_taken(value, seconds):
    assert cells(f'<script data-timeout="{value}">\nx = 1\n</script>\n')[0].timeout == seconds


def test_text_after_closing_tag(tmp_path):
    msg = error_of(tmp_path, b'<script>\ns = "</script>"\n</script>\n')
    assert ":2: text after </script>" in msg


# ----- a cell ends at its own </script> line and nowhere else ----------------------------

HTML_END_TAGS = ["</pre>", "</style>", "</textarea>"]


@pytest.mark.parametrize("end_tag", HTML_END_TAGS)
def test_html_end_tags_on_lines_of_their_own_stay_in_the_cell(end_tag):
    # CommonMark's HTML block type 1 ends at any of these: a cell must not
    text = f'Intro.\n\n<script>\nhtml = """\n<pre>\n{end_tag}\n\n"""\nn = 1\n</script>\n\nAfter *this*.\n'
    essay = parse_text(text, P)
    assert [type(b) for b in essay.blocks] == [Prose, Cell, Prose]
    cell = essay.cells[0]
    assert cell.source == f'html = """\n<pre>\n{end_tag}\n\n"""\nn = 1\n'
    assert (cell.tag_line, cell.line) == (3, 4)
    after = essay.blocks[2]
    assert after.line == 12 and after.tokens[0].type == "paragraph_open"


@pytest.mark.parametrize("end_tag", HTML_END_TAGS)
def test_html_end_tags_inline_stay_in_the_cell(end_tag):
    text = f'<script>\ndef show(x):\n    return "<pre>" + str(x) + "{end_tag}"\n\ny = show(1)\n</script>\n\nAfter.\n'
    essay = parse_text(text, P)
    assert [type(b) for b in essay.blocks] == [Cell, Prose]
    assert essay.cells[0].source == f'def show(x):\n    return "<pre>" + str(x) + "{end_tag}"\n\ny = show(1)\n'
    assert essay.cells[0].line == 2
    assert essay.blocks[1].line == 8


def test_html_end_tag_on_the_tag_line():
    c = cells('<script>s = "</pre>"</script>\n\nAfter.\n')
    assert c[0].source == 's = "</pre>"\n' and c[0].line == 1


def test_cells_after_an_html_end_tag_keep_their_lines():
    text = '<script>\na = "</pre>"\n</script>\n\nProse.\n\n<script>\nb = "</style>"\n</script>\n'
    a, b = cells(text)
    assert (a.source, a.line, b.source, b.line) == ('a = "</pre>"\n', 2, 'b = "</style>"\n', 8)


def test_unclosed_script_with_an_html_end_tag_names_its_tag(tmp_path):
    msg = error_of(tmp_path, b"text\n\n<script>\nx = '</pre>'\n\nmore\n")
    assert msg == f"{tmp_path / 'x.md'}:3: <script> is never closed"


def test_closing_tag_is_case_and_space_insensitive():
    essay = parse_text("<script>\nx = 1\n</SCRIPT >\n\nAfter.\n", P)
    assert [type(b) for b in essay.blocks] == [Cell, Prose]
    assert essay.cells[0].source == "x = 1\n"


def test_script_end_tag_in_a_string_ends_the_cell_and_escaped_does_not():
    # as in a browser: the first </script> ends the element, even inside a string
    assert cells('<script>\ns = """\n</script>\n"""\n')[0].source == 's = """\n'
    c = cells('<script>\ns = """\n<\\/script>\n"""\n</script>\n')
    assert c[0].source == 's = """\n<\\/script>\n"""\n'


def test_start_tag_attributes_over_several_lines():
    c = cells('Intro.\n\n<script id="a"\n        data-iterations="3">\nx = "</pre>"\n</script>\n')[0]
    assert c.attrs == {"id": "a", "data-iterations": "3"}
    assert (c.tag_line, c.line, c.source) == (3, 5, 'x = "</pre>"\n')


def test_a_script_line_ends_a_paragraph():
    essay = parse_text("Prose\n<script>\nx = '</pre>'\n</script>\n", P)
    assert [type(b) for b in essay.blocks] == [Prose, Cell]
    assert essay.cells[0].line == 3


@pytest.mark.parametrize(
    "text",
    ["> <script>\n> x = 1\n> </script>\n\nAfter.\n", "- item\n\n  <script>\n  x = 1\n  </script>\n\nAfter.\n"],
)
def test_scripts_in_blockquotes_and_list_items_are_not_cells(text):
    # as before cells had a rule of their own: only top-level scripts are cells
    essay = parse_text(text, P)
    assert essay.cells == []
    html = [t.content for t in essay.blocks[0].tokens if t.type == "html_block"]
    assert html == ["<script>\nx = 1\n</script>\n"]


def test_other_scripts_with_blank_lines_stay_one_html_block():
    essay = parse_text('<script type="module">\nlet a = 1;\n\nlet b = 2;\n</script>\n\nAfter.\n', P)
    assert essay.cells == []
    assert essay.blocks[0].tokens[0].content == '<script type="module">\nlet a = 1;\n\nlet b = 2;\n</script>\n'


def test_a_cell_token_never_renders_as_html():
    # parse.py takes every cell out of the prose; the parser alone shows one as source
    html = markdown().render("<script>\nx = 1\n</script>\n")
    assert "<script" not in html and html.startswith('<pre class="highlight">')


def test_dedent_keeps_the_spaces_a_string_holds_beyond_the_cells_indent():
    from builder.pipeline.parse import dedent

    assert dedent('  s = """\n      \n  """\n') == 's = """\n    \n"""\n'
    assert dedent("    a\n\n    if b:\n        c\n") == "a\n\nif b:\n    c\n"
    assert dedent("\tx\n\t\ty\n") == "x\n\ty\n"


def test_data_show_and_data_hide_per_cell():
    one, two, three = cells(
        '<script data-show="last" data-hide="code">\nx = 1\n</script>\n\n'
        '<script data-hide="code output">\ny = 2\n</script>\n\n<script>\nz = 3\n</script>\n'
    )
    assert (one.show, one.hide) == ("last", frozenset({"code"}))
    assert (two.show, two.hide) == ("names", frozenset({"code", "output"}))
    assert (three.show, three.hide) == ("names", frozenset())


def test_the_essays_show_and_hide_are_the_default_of_its_cells():
    text = '---\nshow: last\nhide: code\n---\n\n<script>\nx = 1\n</script>\n\n<script data-show="names">\ny = 2\n</script>\n'
    first, second = cells(text)
    assert (first.show, first.hide) == ("last", frozenset({"code"}))
    assert (second.show, second.hide) == ("names", frozenset({"code"}))
    # in the cell's attributes, so its cache key covers them
    assert first.attrs["data-show"] == "last"


@pytest.mark.parametrize(
    "text, message",
    [
        ('<script data-show="all">\nx\n</script>\n', 'data-show takes "names" or "last", not "all"'),
        ('<script data-hide="input">\nx\n</script>\n', 'data-hide takes "code" or "output", not "input"'),
        ("---\nshow: everything\n---\n\n<script>\nx\n</script>\n", 'show takes "names" or "last", not "everything"'),
    ],
)
def test_an_unknown_show_or_hide_is_refused_with_the_choices(text, message):
    with pytest.raises(EssayError, match=message):
        cells(text)
