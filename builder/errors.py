"""The builder's errors, each with the exit status `essays` ends with.

A command raises one of these with its one-line message; `cli.main` (and `__main__.run`,
for a Ctrl+C that comes before the command has loaded) says it and maps it to the exit
status in one place, `exit_status`, rather than each command printing and returning codes
of its own. Standard library only: `__main__` imports it while the command starts.
"""

from __future__ import annotations

import sys


class EssaysError(Exception):
    """A failure of the command that ends it: its message is one line for the terminal,
    said after "essays: "."""

    exit_code = 1

    def line(self) -> str:
        return f"essays: {self}"


class UsageError(EssaysError):
    """What the user asked for cannot be done as asked: a folder the build must not use,
    a notebook that is not one. Exit 2, as argparse's refusals."""

    exit_code = 2


class BuildFailed(EssaysError):
    """The build itself failed (the site could not be written, a template is broken);
    the previous site stays."""

    exit_code = 1


class Interrupted(EssaysError):
    """Ctrl+C ended the command; 130 is a shell's status for a process ended by SIGINT."""

    exit_code = 130

    def line(self) -> str:
        return f"\n{super().line()}"  # below the ^C that the terminal echoed


def exit_status(exc: EssaysError) -> int:
    """Say `exc` on stderr; the exit status it stands for."""
    print(exc.line(), file=sys.stderr)
    return exc.exit_code
