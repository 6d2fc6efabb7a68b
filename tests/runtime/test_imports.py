"""Import errors from the essays' modules name the essay and suggest names (runtime/imports.py)."""

import sys

import pytest

from runtime.imports import MODULE_HEADER, exported_modules
from runtime.kernel import Kernel


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """A modules folder as the build writes it, on sys.path."""
    (tmp_path / "walks.py").write_text(
        MODULE_HEADER.format(source="01-walks.md") + "def many_walks(n):\n    return n\n"
    )
    (tmp_path / "helper.py").write_text("x = 1\n")  # a module of no essay
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("walks", "helper"):
        sys.modules.pop(name, None)


def last_line(source: str) -> str:
    ran = Kernel().execute(source)
    assert not ran.ok
    return ran.outputs[-1].text.splitlines()[-1]


def test_the_essays_modules_are_found_on_sys_path_by_their_first_line(modules):
    assert exported_modules() == {"walks": "01-walks.md"}


def test_a_name_the_module_lacks_names_the_essay_and_the_closest_name(modules):
    assert last_line("from walks import many_walk") == (
        "ImportError: cannot import name 'many_walk' from 'walks' (the module of 01-walks.md): did you mean 'many_walks'?"
    )
    assert str(modules) not in Kernel().execute("from walks import many_walk").outputs[-1].text  # no temporary path


def test_a_module_not_found_lists_what_the_essays_export(modules):
    assert last_line("import walk") == (
        "ModuleNotFoundError: No module named 'walk': did you mean 'walks'? (the essays export walks from 01-walks.md)"
    )
    assert (
        last_line("import zebra")
        == "ModuleNotFoundError: No module named 'zebra' (the essays export walks from 01-walks.md)"
    )


def test_other_import_errors_keep_their_message_and_get_a_close_name(modules):
    assert last_line("from helper import y").startswith("ImportError: cannot import name 'y' from 'helper'")
    assert last_line("from json import dump_s").endswith(": did you mean 'dumps'?")
