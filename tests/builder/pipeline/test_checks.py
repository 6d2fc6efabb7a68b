"""The Markdown checks (builder/pipeline/checks.py): file:line warnings with a suggestion."""

from pathlib import Path

from builder.diagnostics import Diagnostics
from builder.pipeline.checks import check_essay
from builder.pipeline.parse import parse_text


def warnings_of(text: str, folder: Path | None = None) -> list[str]:
    path = (folder or Path("/nonexistent")) / "01-e.md"
    diagnostics = Diagnostics()
    check_essay(parse_text(text, path, diagnostics), diagnostics)
    assert all(d.kind == "markup" and d.severity == "warning" for d in diagnostics)
    return [f"{d.line}: {d.message}" for d in diagnostics]


def test_a_misspelled_cell_attribute_is_named_with_the_right_one():
    text = '# T\n\n<script data-iteration="3">\nx = 1\n</script>\n\n<script data-expect-errors>\n1/0\n</script>\n'
    assert warnings_of(text) == [
        "3: cell 1 has an attribute the builder does not know, data-iteration: did you mean data-iterations?",
        "7: cell 2 has an attribute the builder does not know, data-expect-errors: did you mean data-expect-error?",
    ]


def test_an_unknown_attribute_far_from_any_lists_the_known_ones():
    (warning,) = warnings_of('<script colour="red">\nx = 1\n</script>\n')
    assert warning.startswith("1: cell 1 has an attribute the builder does not know, colour (cells know id, data-")


def test_the_known_attributes_say_nothing():
    text = '<script type="python" id="c" data-iterations="2" data-timeout="5" data-export data-show="last">\nx = 1\n</script>\n'
    assert warnings_of(text) == []


def test_an_id_used_twice_names_both_lines():
    text = '# Setup\n\n<script id="setup">\nx = 1\n</script>\n\n<div id="box"></div>\n\n<p id="box">b</p>\n'
    assert warnings_of(text) == [
        '3: the id "setup" of cell 1 is used by a heading at line 1 too: links find only one; give one of them another id',
        '9: the id "box" of an HTML element is used by an HTML element at line 7 too: links find only one; '
        "give one of them another id",
    ]


def test_missing_images_and_files_are_named_with_the_closest_file(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "walks.png").write_bytes(b"png")
    (tmp_path / "data" / "table.csv").write_text("1\n")
    (tmp_path / "notes.txt").write_text("mine\n")
    text = (
        "# Files\n\n![a walk](data/walk.png)\n\n[the table](data/table.csv) and [notes](notes.txt)\n\n"
        '<img src="data/gone.svg">\n\n[elsewhere](https://example.org/x.png) [essay](02-next.md) [top](#files)\n'
    )
    assert warnings_of(text, tmp_path) == [
        "3: the image data/walk.png is not in the essays folder: did you mean data/walks.png?",
        "5: the link notes.txt is a file at the top of the essays folder, which the site does not publish: "
        "move it into a folder (as data/notes.txt)",
        "7: the image data/gone.svg is not in the essays folder",
    ]


def test_an_unclosed_script_names_the_line_where_the_close_is_missing():
    text = (
        "# Walks\n\n<script>\nx = 1\ny = x + 1\n\n## Next part\n\nSome prose here.\n\n"
        "<script>\nz = 3\n</script>\n\nMore prose.\n"
    )
    assert warnings_of(text) == [
        "7: cell 1 (from line 3) runs on over line 7, which reads as Markdown: is its </script> missing before line 7?"
    ]


def test_an_unclosed_script_before_a_new_script_line():
    text = "<script>\nx = 1\n\n<script>\nz = 3\n</script>\n"
    (warning,) = warnings_of(text)
    assert warning.startswith("4: cell 1 (from line 1) runs on over line 4, which reads as a new <script>")


def test_comments_that_look_like_headings_in_code_that_parses_say_nothing():
    assert warnings_of("<script>\n# Setup\nx = 1\n## more\ny = 2\n</script>\n") == []


def test_the_build_reports_them_and_strict_fails_for_them(project):
    project.write("01-a.md", '# A\n\n<script data-iteration="2">\nx = 1\n</script>\n')
    result = project.build(strict=True)
    (diagnostic,) = result.diagnostics.of_kind("markup")
    assert str(diagnostic).endswith("01-a.md:3: " + diagnostic.message) and "data-iterations?" in diagnostic.message
    assert [d.kind for d in result.diagnostics.for_strict().errors()] == ["markup"]
