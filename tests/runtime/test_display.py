import json

import numpy as np
import pytest

from runtime.display import MAX_BYTES, MAX_LINES, format_value, limit_output, to_output


@pytest.mark.parametrize(
    "value, expected",
    [
        (42, "42"),
        (0.1 + 0.2, "0.30000000000000004"),
        (True, "True"),
        (None, "None"),
        ("hi", "'hi'"),
        ([1, 2, 3], "list(3) [1, 2, 3]"),
        (list(range(10)), "list(10) [0, 1, 2, …, 7, 8, 9]"),
        ((1, "a"), "tuple(2) [1, 'a']"),
        ({3, 1, 2}, "set(3) [1, 2, 3]"),
        ({"a": 1, "b": [1, 2]}, "{'a': 1, 'b': list(2) [1, 2]}"),
        (np.arange(10), "array(10) [0, 1, 2, …, 7, 8, 9]"),
        (np.float32(1.5), "1.5"),
        (np.int64(7), "7"),
        (np.float64(2.5), "2.5"),
        ([np.float64(0.5), np.int32(3)], "list(2) [0.5, 3]"),
    ],
)
def test_format_value_matches_notebook_formats(value, expected):
    assert format_value(value) == expected


def test_long_string_is_cut_at_100_characters_with_ellipsis():
    text = format_value("x" * 300)
    assert text == "'" + "x" * 99 + "…'"


def test_functions_and_classes_are_short():
    def square(x):
        return x * x

    class Thing:
        pass

    assert format_value(square) == "<function test_functions_and_classes_are_short.<locals>.square>"
    assert format_value(Thing).startswith("<class ")
    assert format_value(len) == "<function len>"


def test_matrix_shows_shape_dtype_and_corners():
    text = format_value(np.arange(100, dtype=np.float32).reshape(10, 10))
    lines = text.splitlines()
    assert lines[0] == "10×10 float32"
    assert lines[1] == "[[0.0, 1.0, 2.0, …, 7.0, 8.0, 9.0],"
    assert lines[4].strip() == "…,"
    assert lines[-1] == " [90.0, 91.0, 92.0, …, 97.0, 98.0, 99.0]]"
    assert len(lines) == 8


def test_small_matrix_is_shown_whole():
    text = format_value(np.eye(2, dtype=np.float32))
    assert text == "2×2 float32\n[[1.0, 0.0],\n [0.0, 1.0]]"


def test_3d_array_names_its_shape():
    text = format_value(np.zeros((2, 3, 4), dtype=np.int32))
    assert text.startswith("2×3×4 int32\n[[[0, 0, 0, 0]")


def test_dict_is_one_line_and_cut():
    text = format_value(dict.fromkeys(range(50), "v" * 20))
    assert "\n" not in text and len(text) <= 200 and text.endswith("…")


def test_broken_repr_does_not_raise():
    class Bad:
        def __repr__(self):
            raise RuntimeError("nope")

    assert "repr failed" in format_value(Bad())


def test_long_output_is_cut_with_a_visible_note():
    text = limit_output("\n".join(str(i) for i in range(MAX_LINES + 500)))
    assert text.splitlines()[-1] == "… 500 more lines cut"
    big = limit_output("x" * (MAX_BYTES + 1234))
    assert big.endswith("… 1,234 more bytes cut")


def test_plotly_figure_becomes_plain_json_data():
    go = pytest.importorskip("plotly.graph_objects")
    fig = go.Figure(go.Scatter(y=[1.0, 3.0, 2.0]), layout={"title": {"text": "t"}})
    out = to_output(fig, "chart")
    assert out.kind == "figure" and out.label == "chart"
    assert json.loads(json.dumps(out.figure)) == out.figure
    assert out.figure["data"][0]["y"] == [1.0, 3.0, 2.0]
    assert out.figure["layout"]["title"]["text"] == "t"


def test_figure_with_numpy_arrays_serialises():
    go = pytest.importorskip("plotly.graph_objects")
    out = to_output(go.Figure(go.Heatmap(z=np.eye(3, dtype=np.float32))))
    assert out.kind == "figure"
    json.dumps(out.figure)  # plotly may encode arrays as typed-array specs: still plain JSON


def test_dict_with_data_is_a_figure():
    out = to_output({"data": [{"type": "bar", "y": [1, 2]}], "layout": {"title": "t"}})
    assert out.kind == "figure" and out.figure["layout"] == {"title": "t"}


def test_float32_values_print_in_their_own_precision():
    assert format_value(np.float32(0.1)) == "0.1"
    assert format_value(np.array([0.1, -0.45829179883003235], dtype=np.float32)) == "array(2) [0.1, -0.4582918]"


def test_big_arrays_are_formatted_from_their_corners_only():
    class Huge(np.ndarray):
        def tolist(self):  # reading the whole array is what this test forbids
            raise AssertionError("tolist() of the whole array")

    big = np.zeros((200_000, 27), dtype=np.float32).view(Huge)
    assert format_value(big).startswith("200000×27 float32\n[[0.0, 0.0, 0.0, …, 0.0, 0.0, 0.0],")


def test_strings_in_arrays_are_quoted():
    assert format_value(np.array(["a", "b"])) == "array(2) ['a', 'b']"


def test_memory_addresses_are_left_out_so_builds_are_reproducible():
    class Thing:
        pass

    text = format_value(Thing())
    assert " at 0x" not in text and text.endswith("Thing object>")
    assert format_value(np.random.default_rng(1)) == "Generator(PCG64)"


def test_a_huge_dict_is_cut_without_formatting_all_of_it():
    text = format_value({i: i for i in range(1_000_000)})
    assert len(text) <= 200 and text.endswith("…")


def test_an_array_like_class_with_array_is_read_through_numpys_view():
    """An essay's own matrix class (shape, dtype, tolist, __array__): formatting it must not
    turn 200,000 rows into nested lists (that cost the bigram essay 1.4 s per build)."""
    import numpy as np

    class Matrix:
        dtype = np.dtype(np.float32)

        def __init__(self, array):
            self.data, self.shape = array, array.shape

        def __array__(self, dtype=None, copy=None):
            return self.data

        def tolist(self):
            raise AssertionError("tolist() of the whole matrix")

    text = format_value(Matrix(np.zeros((200_000, 27), dtype=np.float32)))
    assert text.splitlines()[0] == "200000×27 float32" and "…" in text


def test_bytes_in_arrays_are_cut_not_crashing():
    import numpy as np

    text = format_value(np.array([b"x" * 200]))
    assert text.startswith("array(1) [b'xxx") and text.endswith("…]")


def test_numpy_print_options_set_by_a_cell_are_respected():
    before = np.get_printoptions()
    try:
        np.set_printoptions(precision=3, suppress=True)
        assert format_value(np.float64(1 / 3)) == "0.333"
        assert format_value(np.array([1 / 3, 1e-10, 2.0])) == "array(3) [0.333, 0., 2.]"
        assert format_value(np.array([[1 / 3, 2 / 3]])) == "1×2 float64\n[[0.333, 0.667]]"
        assert format_value(np.int64(12345)) == "12345"  # integers are not theirs to change
    finally:
        np.set_printoptions(**before)
    # numpy's defaults again: the shortest text that reads back, as before
    assert format_value(np.float64(1 / 3)) == "0.3333333333333333"


@pytest.mark.parametrize("cls", [np.float64, np.ndarray, np.int32, np.dtype])
def test_a_numpy_type_shows_as_a_class_not_as_an_array(cls):
    assert format_value(cls) == f"<class {cls.__qualname__}>"
    assert to_output(cls).kind == "value"
