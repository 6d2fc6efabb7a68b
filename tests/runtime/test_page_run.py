"""runtime/page.py's run(), as the page's worker calls it: JSON the JavaScript reads."""

import json

import pytest

from runtime import page
from runtime.kernel import Kernel


@pytest.fixture(autouse=True)
def fresh_kernel(monkeypatch):
    monkeypatch.setattr(page, "_kernel", Kernel())


def test_a_stopped_cell_reads_as_interrupted():
    result = json.loads(page.run("import time\nraise KeyboardInterrupt", "cell 1"))
    assert result["ok"] is False and result["interrupted"] is True
    assert "KeyboardInterrupt" in result["html"]


@pytest.mark.parametrize(
    "source",
    ["raise RuntimeError('stopped by KeyboardInterrupt')", "print('KeyboardInterrupt')\n1 / 0"],
)
def test_a_failure_that_names_the_word_is_not_interrupted(source):
    result = json.loads(page.run(source, "cell 1"))
    assert result["ok"] is False and result["interrupted"] is False


def test_a_cell_that_succeeds_is_neither_failed_nor_interrupted():
    result = json.loads(page.run("print('KeyboardInterrupt')", "cell 1"))
    assert result == {"html": result["html"], "ok": True, "interrupted": False}
