"""One exception base class, mapped to exit codes in one place: cli.main."""

import pytest

from builder import cli
from builder.errors import BuildFailed, EssaysError, Interrupted, UsageError
from builder.execution.cancel import Cancelled
from builder.paths import PathError


@pytest.mark.parametrize(
    "error, code",
    [
        (EssaysError("it went wrong"), 1),
        (UsageError("it went wrong"), 2),
        (PathError("it went wrong"), 2),
        (BuildFailed("it went wrong"), 1),
        (Interrupted("it went wrong"), 130),
        (Cancelled("it went wrong"), 130),
    ],
)
def test_main_says_a_commands_error_and_exits_with_its_code(monkeypatch, capsys, error, code):
    def command(args):
        raise error

    monkeypatch.setattr(cli, "cmd_new", command)
    assert cli.main(["new", "A title"]) == code
    err = capsys.readouterr().err
    assert err.strip() == "essays: it went wrong" and "Traceback" not in err
    assert err.startswith("\n") == (code == 130)  # an interruption is said below the echoed ^C


def test_an_error_that_is_not_the_tools_own_is_not_swallowed(monkeypatch):
    def command(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "cmd_new", command)
    with pytest.raises(RuntimeError):
        cli.main(["new", "A title"])


def test_the_commands_failures_reach_main_with_their_messages(tmp_path, monkeypatch, capsys):
    """Real failures, in this process: what the user asked for is refused (exit 2), said once."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["convert", "missing.ipynb"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("essays: cannot convert missing.ipynb: ") and err.count("essays:") == 1
    assert cli.main(["build", "nowhere", "--no-cache"]) == 2
    # said once, on one line, with what to do about it
    err = capsys.readouterr().err
    assert err.startswith("essays: nowhere: no such folder of essays. Start one with `essays new")
    assert err.count("\n") == 1 and err.count("essays:") == 1
