"""`python -m builder` and the `essays` command."""

import sys

from .interrupt import command, install, interrupted


def run() -> None:
    """Ctrl+C at any moment of `essays build` ends it with one line, never a traceback
    (interrupt.py); the other commands take Python's KeyboardInterrupt, said here in one
    line when it comes before they can handle it (while their modules load)."""
    if command(sys.argv[1:]) == "build":
        install()
    try:
        from .cli import main

        code = main()
    except KeyboardInterrupt:
        from .errors import Interrupted, exit_status

        code = exit_status(Interrupted(interrupted(sys.argv[1:])))
    sys.exit(code)


if __name__ == "__main__":
    run()
