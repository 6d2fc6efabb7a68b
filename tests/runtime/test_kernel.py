import os
import sysconfig

from runtime import kernel
from runtime.kernel import Kernel, scrub_paths, short_path


def texts(outputs):
    return [(o.kind, o.label, o.text) for o in outputs]


def test_outputs_in_order_print_show_names_then_trailing_expression():
    k = Kernel()
    out = k.execute('print("hello")\nshow(3, "three")\nx = 2\n_hidden = 1\nimport math\nx + 1').outputs
    assert texts(out) == [
        ("stream", None, "hello"),
        ("value", "three", "3"),
        ("value", "x", "2"),
        ("value", None, "3"),
    ]


def test_later_cells_see_earlier_names():
    k = Kernel()
    k.execute("a = 10")
    assert texts(k.execute("b = a * 2").outputs) == [("value", "b", "20")]


def test_rebound_name_is_shown_again():
    k = Kernel()
    k.execute("a = [1]")
    out = k.execute("a = a + [2]").outputs
    assert texts(out) == [("value", "a", "list(2) [1, 2]")]


def test_trailing_none_is_not_shown():
    assert [o.kind for o in Kernel().execute("print('x')").outputs] == ["stream"]
    out = Kernel().execute("def nothing():\n    return None\nnothing()").outputs
    assert texts(out) == [("value", "nothing", "<function nothing>")]


def test_error_names_file_and_line_and_keeps_earlier_output():
    k = Kernel()
    out = k.execute('print("before")\nx = 1\nraise ValueError("bad value")', filename="essays/02-x.md", line=17).outputs
    assert out[0].text == "before"
    err = out[-1]
    assert err.kind == "error"
    assert 'File "essays/02-x.md", line 19' in err.text
    assert 'raise ValueError("bad value")' in err.text  # the line is quoted from the cell
    assert err.text.splitlines()[-1] == "ValueError: bad value"
    assert "kernel.py" not in err.text


def test_error_inside_a_function_defined_in_an_earlier_cell():
    k = Kernel()
    k.execute("def f():\n    return 1 / 0", filename="essays/x.md", line=5)
    err = k.execute("f()", filename="essays/x.md", line=10).outputs[-1]
    assert "line 10" in err.text and "line 6, in f" in err.text


def test_syntax_error_is_reported_with_its_line():
    out = Kernel().execute("x = (1,\n", filename="essays/x.md", line=3).outputs
    assert out[0].kind == "error" and "essays/x.md" in out[0].text and "SyntaxError" in out[0].text


def test_system_exit_does_not_end_the_host():
    out = Kernel().execute("import sys\nsys.exit(3)").outputs
    assert out[-1].kind == "error" and "SystemExit: 3" in out[-1].text


def test_iterations_run_the_body_n_times_and_show_the_last_run():
    k = Kernel()
    k.execute("count = 0")
    seen = []
    out = k.execute("count += 1\nprint(count)", iterations=5, on_iteration=lambda i, n: seen.append((i, n))).outputs
    assert texts(out) == [("stream", None, "5"), ("value", "count", "5")]
    assert seen == [(i, 5) for i in range(1, 6)]


def test_iterations_stop_at_the_first_error():
    k = Kernel()
    k.execute("i = 0")
    out = k.execute("i += 1\nassert i < 3, i", iterations=10).outputs
    assert k.namespace["i"] == 3 and out[-1].kind == "error"


def test_show_works_from_functions_defined_earlier():
    k = Kernel()
    k.execute("def report(v):\n    show(v, 'v')")
    assert texts(k.execute("report(7)").outputs) == [("value", "v", "7")]


def test_stderr_is_captured_with_stdout():
    out = Kernel().execute("import sys\nprint('a')\nprint('b', file=sys.stderr)").outputs
    assert out[0].text == "a\nb"


def test_only_the_last_iteration_formats_its_outputs():
    k = Kernel()
    k.execute(
        "formatted = []\nclass Probe:\n    def __repr__(self):\n        formatted.append(1)\n        return 'probe'"
    )
    k.execute("show(Probe(), 'p')\nx = Probe()", iterations=10)
    assert len(k.namespace["formatted"]) == 2  # one show, one name: from the last run only


def test_run_compiled_alone_captures_what_the_cell_prints():
    k = Kernel()
    outputs, ok = k.run_compiled(k.compile("print('hi')\nx = 2"))
    assert ok and [(o.kind, o.text) for o in outputs] == [("stream", "hi"), ("value", "2")]


# ----- published texts name no folder of the author's (issue 16, item 7) -------------------


def test_short_path_forms():
    root = "/home/ada/notes/essays"
    runtime = os.path.dirname(os.path.dirname(kernel.__file__))
    stdlib = sysconfig.get_paths()["stdlib"]
    assert short_path(f"{root}/helpers.py", root) == "helpers.py"
    assert short_path(f"{root}2/helpers.py", root) == f"{root}2/helpers.py"  # a sibling, not inside
    assert short_path(f"{runtime}/runtime/display.py", root) == "runtime/display.py"
    assert short_path(f"{stdlib}/json/decoder.py", root) == f"…/{os.path.basename(stdlib)}/json/decoder.py"
    assert short_path("/opt/env/lib/python3.11/site-packages/numpy/core.py", root) == "…/site-packages/numpy/core.py"
    assert short_path("/tmp/modules/bigram.py", root, "/tmp/modules") == "bigram.py"


def test_scrub_paths_in_free_text():
    root = "/srv/ada/essays"
    runtime = os.path.dirname(os.path.dirname(kernel.__file__))
    text = (
        "Fatal Python error: Segmentation fault\n\n"
        f'  File "{sysconfig.get_paths()["stdlib"]}/ctypes/__init__.py", line 519 in string_at\n'
        '  File "01-a.md", line 4 in <module>\n'
        f'  File "{runtime}/builder/execution/worker.py", line 80 in _run\n'
        '  File "<frozen runpy>", line 198 in _run_module_as_main\n'
        f"FileNotFoundError: [Errno 2] No such file or directory: '{root}/data/x.txt'\n"
        f"see {root}2/other and {os.path.expanduser('~')}/.config/x"
    )
    scrubbed = scrub_paths(text, root)
    assert f'File "…/{os.path.basename(sysconfig.get_paths()["stdlib"])}/ctypes/__init__.py"' in scrubbed
    assert 'File "builder/execution/worker.py", line 80' in scrubbed and 'File "<frozen runpy>"' in scrubbed
    assert "'data/x.txt'" in scrubbed and f"{root}2/other" in scrubbed
    assert runtime not in scrubbed and sysconfig.get_paths()["stdlib"] not in scrubbed
    assert scrub_paths(scrubbed, root) == scrubbed  # once is enough: scrubbing again changes nothing


def test_errors_name_no_folder_of_the_authors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    k = Kernel()
    out = k.execute(f"open({str(tmp_path / 'missing.txt')!r})").outputs
    assert out[-1].text.splitlines()[-1] == "FileNotFoundError: [Errno 2] No such file or directory: 'missing.txt'"
    out = k.execute("class Bad:\n    def _repr_html_(self):\n        raise ValueError('no html')\nbad = Bad()").outputs
    assert 'File "runtime/display.py"' in out[-1].text
    assert os.path.dirname(os.path.dirname(kernel.__file__)) not in out[-1].text


def test_a_keyboard_interrupt_is_marked_where_the_kernel_catches_it():
    k = Kernel()
    ran = k.execute("x = 1\nraise KeyboardInterrupt")
    assert not ran.ok and ran.interrupted
    assert k.execute("y = 2").interrupted is False  # the next cell starts unmarked


def test_an_error_whose_text_ends_in_the_word_is_not_an_interruption():
    ran = Kernel().execute("raise ValueError('KeyboardInterrupt')")
    assert not ran.ok and not ran.interrupted
    assert ran.outputs[-1].text.endswith("KeyboardInterrupt")  # what the old text test was fooled by


def test_an_interrupt_while_a_value_is_formatted_is_marked_too():
    ran = Kernel().execute(
        "class Slow:\n    def __repr__(self):\n        raise KeyboardInterrupt\nSlow()",
    )
    assert not ran.ok and ran.interrupted


def test_a_cell_showing_a_numpy_type_succeeds():
    ran = Kernel().execute("import numpy as np\nnp.float64")
    assert ran.ok
    assert texts(ran.outputs) == [("value", None, "<class float64>")]


def test_print_options_set_in_one_cell_apply_to_the_next_cells_values():
    import numpy as np

    before = np.get_printoptions()
    try:
        k = Kernel()
        k.execute("import numpy as np\nnp.set_printoptions(precision=3, suppress=True)")
        assert texts(k.execute("np.array([1/3, 1e-12])").outputs) == [("value", None, "array(2) [0.333, 0.]")]
    finally:
        np.set_printoptions(**before)


def test_a_name_and_the_last_expression_naming_it_show_once():
    k = Kernel()
    assert texts(k.execute("x = 5\nx").outputs) == [("value", "x", "5")]
    assert texts(k.execute("items = [1]\nalias = items\nitems").outputs) == [("value", "items", "list(1) [1]")]
    # equal numbers bound to two names are two values to the reader
    assert texts(k.execute("a = 5\nb = 5").outputs) == [("value", "a", "5"), ("value", "b", "5")]
    assert texts(k.execute("y = 7\nx").outputs) == [("value", "y", "7"), ("value", None, "5")]


def test_names_bound_by_import_or_by_a_loop_are_not_listed():
    k = Kernel()
    out = k.execute(
        "from runtime.display import Dot\nfrom os import path as p\nimport json\ntotal = 0\nfor i in range(3):\n    total += i"
    )
    assert texts(out.outputs) == [("value", "total", "3")]
    # a name bound by import and then assigned is a value of the cell's own
    assert texts(k.execute("from os import sep\nsep = 'x'").outputs) == [("value", "sep", "'x'")]


def test_show_last_keeps_printed_text_shown_values_and_the_last_expression():
    k = Kernel()
    out = k.execute('print("hi")\nshow(1, "one")\nx = 2\ny = 3\nx + y', show="last").outputs
    assert texts(out) == [("stream", None, "hi"), ("value", "one", "1"), ("value", None, "5")]
    assert texts(k.execute("z = 4", show="last").outputs) == []
