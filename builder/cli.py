"""The `essays` command: build, serve, new."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .cache.remote import is_url
from .config import DEFAULT_CACHE_LIMIT_MB, DEFAULT_CELL_TIMEOUT, Config, timeout_seconds
from .errors import BuildFailed, EssaysError, Interrupted, UsageError, exit_status
from .interrupt import INTERRUPTED

if TYPE_CHECKING:
    from .cache.verify import Verification
    from .records import BuildResult


def main(argv: list[str] | None = None) -> int:
    """Run a command; its exit status. A command that fails raises an EssaysError, said
    and mapped to its status here (errors.py), in one place."""
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except EssaysError as exc:
        return exit_status(exc)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="essays",
        description="Build interactive essays: Markdown with Python cells, run at build time, "
        "written as a static site whose cells readers can edit and run again.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {tool_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    site = site_options()

    b = sub.add_parser(
        "build",
        parents=[site],
        help="run every essay's cells and write the site",
        description="Run every essay's cells and write the static site.",
    )
    b.add_argument(
        "--strict",
        action="store_true",
        help="exit non-zero if any cell failed, any essay could not be read, or the essays have any warning",
    )
    b.add_argument("--report", type=Path, metavar="FILE", help="write a JSON report of the build to FILE")
    b.add_argument(
        "--show-problems",
        action="store_true",
        help="list the build's warnings and failed cells at the top of every page, as `essays serve` does "
        "(a published site has no such list unless asked)",
    )
    b.add_argument(
        "--verify",
        action="store_true",
        help="then run every essay again without the cache and exit non-zero if any cell's output differs "
        '(the site shows the clean outputs); a cell with data-verify="skip" is left out',
    )
    b.add_argument(
        "--executor",
        type=executor,
        default="local",
        metavar="WHERE",
        help="where essays run: local (worker processes here), local-cluster[:N] (a Dask LocalCluster of N "
        "workers) or dask://HOST:PORT (a Dask scheduler); the clusters need the `cluster` extra (default: local)",
    )
    b.set_defaults(func=cmd_build)

    n = sub.add_parser(
        "new", help="start a new essay from a template", description="Create essays/NN-title.md with a working cell."
    )
    n.add_argument("title", type=essay_title, help='the essay\'s title, e.g. "Gradient descent"')
    n.add_argument("--source", type=Path, default=Path("essays"), help="essays folder (default: essays)")
    n.set_defaults(func=cmd_new)

    c = sub.add_parser(
        "convert",
        help="turn a Jupyter notebook into an essay",
        description="Write an essay (Markdown with <script> cells) from a Jupyter notebook.",
    )
    c.add_argument("notebook", type=Path, help="the .ipynb file")
    c.add_argument("-o", "--output", type=Path, help="the essay to write (default: the notebook's name, .md)")
    c.set_defaults(func=cmd_convert)

    p = sub.add_parser(
        "publish",
        help="commit the built site to a branch (gh-pages) and push it",
        description="Commit the built site as the whole content of a branch of this repository, "
        "and push the branch (GitHub Pages serves gh-pages). Your checkout is not touched.",
    )
    p.add_argument("site", nargs="?", type=Path, default=Path("site"), help="the built site (default: site)")
    p.add_argument("--branch", default="gh-pages", help="the branch to commit to (default: gh-pages)")
    p.add_argument("--remote", default="origin", help="the remote to push to (default: origin)")
    p.add_argument("--no-push", action="store_true", help="commit to the branch, push nothing")
    p.add_argument("-m", "--message", default="", help="the commit's message")
    p.set_defaults(func=cmd_publish)

    s = sub.add_parser(
        "serve",
        parents=[site],
        help="build, serve the site and rebuild on changes",
        description="Build the site, serve it, and rebuild when essays change.",
    )
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1, this machine only; ::1 is its IPv6 "
        "form; 0.0.0.0 or :: let others on the network connect)",
    )
    s.add_argument("--port", type=port_number, default=8000, help="port (default: 8000; 0: any free port)")
    s.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this host name (repeatable; .example.org takes its subdomains too). "
        "Only localhost and the address bound are answered otherwise, so a web page cannot read "
        "your drafts through a DNS name of its own; 0.0.0.0 and :: answer every name",
    )
    s.set_defaults(func=cmd_serve)
    return parser


def tool_version() -> str:
    """The installed distribution's version (pyproject.toml's), or "unknown" in a checkout
    that was never installed."""
    from importlib import metadata

    try:
        return metadata.version("interactive-essays")
    except metadata.PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def site_options() -> argparse.ArgumentParser:
    """What `build` and `serve` share: where the essays and the site are, how cells run,
    the cache, and where the page finds Pyodide."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("source", nargs="?", type=Path, default=Path("essays"), help="folder of essays (default: essays)")
    p.add_argument("-o", "--output", type=Path, default=Path("site"), help="site folder (default: site)")
    p.add_argument(
        "--cell-timeout",
        type=seconds,
        default=DEFAULT_CELL_TIMEOUT,
        metavar="S",
        help=f"seconds a cell may run before it is stopped (default: {DEFAULT_CELL_TIMEOUT:g}; "
        "a cell's data-timeout overrides it)",
    )
    p.add_argument(
        "--cache-dir",
        metavar="DIR|URL",
        default=os.environ.get("ESSAYS_CACHE") or None,
        help="where cell outputs and snapshots are kept: a folder, or an fsspec URL shared by several "
        "builders (file://, s3://, gs://; read through a local copy in .essays-cache beside the essays) "
        "(default: $ESSAYS_CACHE, else .essays-cache beside the essays)",
    )
    p.add_argument("--no-cache", action="store_true", help="run every cell; neither read nor write the cache")
    p.add_argument(
        "--cache-limit",
        type=whole(0),
        default=DEFAULT_CACHE_LIMIT_MB,
        metavar="MB",
        help=f"size the cache is pruned to, dropping entries the essays no longer use (default: {DEFAULT_CACHE_LIMIT_MB})",
    )
    p.add_argument("-j", "--jobs", type=whole(0), default=0, help="essays run at once (default: 0, one per core)")
    p.add_argument("--pyodide-url", metavar="URL", help="load Pyodide from URL instead of the site's copy")
    p.add_argument(
        "--package-base-url",
        metavar="URL",
        help="where the page loads Pyodide packages such as numpy (default: Pyodide's CDN)",
    )
    return p


# ----- values checked at the edge: argparse prints `error: argument X: why` and exits 2 -----


def seconds(text: str) -> float:
    try:
        return timeout_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def executor(text: str) -> str:
    from .execution.cluster import check_executor

    try:
        return check_executor(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def whole(least: int, most: int | None = None) -> Callable[[str], int]:
    """A type= for a whole number in [least, most]."""

    def check(text: str) -> int:
        if not re.fullmatch(r"\s*[0-9]+\s*", text) or int(text) < least or (most is not None and int(text) > most):
            bound = f"from {least} to {most}" if most is not None else f"of at least {least}"
            raise argparse.ArgumentTypeError(f'must be a whole number {bound}, not "{text}"')
        return int(text)

    return check


port_number = whole(0, 65535)


def essay_title(text: str) -> str:
    """A title that shows: not blank, and one line (it becomes a heading and a file name)."""
    title = text.strip()
    # strip() leaves format characters such as a zero-width space: a title needs one that shows
    if not any(unicodedata.category(c)[0] in "LNPS" for c in title):
        raise argparse.ArgumentTypeError('the title is blank: give the essay a title, e.g. "Gradient descent"')
    if any(unicodedata.category(c) == "Cc" for c in title):
        raise argparse.ArgumentTypeError("the title must be one line of text, without control characters")
    return title


def config_from(args: argparse.Namespace) -> Config:
    """The configuration of `build` or `serve`, every path made absolute here, once."""
    return Config(
        source=args.source,
        output=args.output,
        strict=getattr(args, "strict", False),
        cell_timeout=args.cell_timeout,
        report=getattr(args, "report", None),
        jobs=args.jobs,
        pyodide_url=args.pyodide_url,
        package_base_url=args.package_base_url,
        cache_dir=None if args.cache_dir is None or is_url(args.cache_dir) else Path(args.cache_dir),
        cache_url=args.cache_dir if args.cache_dir is not None and is_url(args.cache_dir) else None,
        use_cache=not args.no_cache,
        cache_limit=args.cache_limit * 2**20,
        verify=getattr(args, "verify", False),
        show_problems=getattr(args, "show_problems", False),
        executor=getattr(args, "executor", "local"),
    ).resolved()


def cmd_build(args: argparse.Namespace) -> int:
    from jinja2 import TemplateError

    from .build import build
    from .paths import shown
    from .progress import Reporter
    from .stoppable import StoppableBuild

    config = config_from(args)
    reporter = Reporter(enabled=sys.stdout.isatty())
    late = False
    # on a thread of its own: a Ctrl+C lands in this thread's wait, never inside the build
    run = StoppableBuild(lambda gate, cancel: build(config, swap_lock=gate, reporter=reporter, cancel=cancel))
    try:
        try:
            run.start()
            result = run.wait()
        except KeyboardInterrupt:
            if run.stop():
                raise Interrupted(INTERRUPTED["build"]) from None
            late = True  # the new site was being swapped in: it is finished, whole
            result = run.wait()
    except OSError as exc:  # the site could not be written: full, read-only, busy (a PathError says itself)
        where = exc.filename or config.output
        raise BuildFailed(
            f"cannot write the site to {shown(config.output)} ({shown(where)}: "
            f"{exc.strerror or exc}); the previous site was kept"
        ) from exc
    except TemplateError as exc:
        filename, lineno = getattr(exc, "filename", None), getattr(exc, "lineno", None)  # TemplateSyntaxError has them
        where = f"{filename}:{lineno}: " if filename else ""
        raise BuildFailed(f"template error: {where}{exc.message}; the previous site was kept") from exc
    if late:
        print("\nessays: interrupted as the new site was being swapped in: it is in place, whole", file=sys.stderr)
    return report_build(result, config)


def report_build(result: BuildResult, config: Config) -> int:
    """The build's warnings, problems and summary; its exit status."""
    from .paths import shown

    diagnostics = result.diagnostics.for_strict(config.strict)
    for warning in diagnostics.warnings():
        print(f"essays: warning: {warning}", file=sys.stderr)
    for line in result.outside():
        print(f"essays: note: {line}", file=sys.stderr)
    cells = sum(len(e.results) for e in result.essays)
    print(
        f"built {plural(len(result.essays), 'essay')} ({plural(cells, 'cell')}) into {shown(config.output)} in {result.seconds:.2f} s"
    )
    costs = [f"{e.source.stem} {e.state_cost}" for e in result.essays if e.state_cost is not None]
    if costs:  # what the pages' resume-from-the-build state weighs (builder/state.py)
        print("state shipped for the pages: " + "; ".join(costs))
    failures = diagnostics.errors()
    if failures:
        print(f"{plural(len(failures), 'problem')}:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
    summary = result.packages.summary() if result.packages else None
    if summary:
        print(summary)
    verified = print_verification(result.verification)
    return 1 if (failures and config.strict) or not verified else 0


def print_verification(verification: Verification | None) -> bool:
    """`--verify`'s differences (`-` the cache's line, `+` a clean build's) and summary;
    False when a cell differed."""
    if verification is None:
        return True
    for difference in verification.differences:
        print("\n".join(difference.lines()), file=sys.stderr)
    print(verification.summary(), file=sys.stdout if verification.ok else sys.stderr)
    return verification.ok


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def cmd_serve(args: argparse.Namespace) -> int:
    from .paths import check_paths
    from .progress import Reporter
    from .serve.watch import serve

    # the author's own pages: each lists the build's problems at the top (pipeline/problems.py)
    config = dataclasses.replace(config_from(args), show_problems=True)
    check_paths(config)  # before the server starts: the same refusals as `build` (PathError, exit 2)
    return serve(
        config,
        host=args.host,
        port=args.port,
        reporter=Reporter(enabled=sys.stdout.isatty()),
        allowed_hosts=args.allow_host,
    )


def cmd_convert(args: argparse.Namespace) -> int:
    from .convert.notebook import convert

    try:
        target = convert(args.notebook, args.output or essay_path(args.notebook))
    except FileExistsError as exc:
        raise EssaysError(f"{exc.filename} already exists: choose another name with -o") from exc
    except (OSError, ValueError) as exc:  # unreadable, not a valid notebook, a cell an essay cannot hold
        raise UsageError(f"cannot convert {args.notebook}: {exc}") from exc
    print(f"created {target}")
    return 0


NEW_ESSAY = """---
title: {title_yaml}
description: One sentence that says what the reader will learn.
---

# {title}

Write your prose here. Cells are `<script>` blocks holding Python; they run in order when
the site is built, and every name a cell defines is shown below it.

<script>
numbers = [n * n for n in range(10)]
total = sum(numbers)
</script>

Call `show(value, label)` to show anything else, and end a cell with an expression to
show its value.

<script>
show(total / len(numbers), "mean")
max(numbers)
</script>
"""


SLUG_LENGTH = 60  # characters; at 4 bytes each the file name stays under the usual 255


def slugify(title: str) -> str:
    """A file name from a title that keeps its letters in any script, lowercased and in NFC
    (the form editors and most file systems write): "Ñandú café" is ñandú-café. Anything
    but letters, marks and digits becomes a dash. Transliterating to ASCII would lose every
    title written in Greek, Cyrillic or Chinese; page links percent-encode the name."""
    text = unicodedata.normalize("NFC", title).lower()
    kept = "".join(c if unicodedata.category(c)[0] in "LMN" else "-" for c in text)
    slug = re.sub(r"-+", "-", kept)[:SLUG_LENGTH].strip("-")
    return unicodedata.normalize("NFC", slug) or "essay"


def cmd_publish(args: argparse.Namespace) -> int:
    from .publish import publish

    done = publish(args.site, args.branch, None if args.no_push else args.remote, args.message)
    said = (
        f"committed the site to {done.branch} ({done.commit[:12]})"
        if done.changed
        else f"{done.branch} has this site already"
    )
    print(said + (f", pushed to {done.pushed_to}" if done.pushed_to else ""))
    return 0


def essay_path(notebook: Path) -> Path:
    """Where a converted notebook's essay goes by default: beside it, named as `essays new`
    names essays: "1. Why are we here.ipynb" becomes 01-why-are-we-here.md."""
    number, rest = re.fullmatch(r"(?:(\d+)[\s._-]*)?(.*)", notebook.stem, re.S).groups()  # type: ignore[union-attr]
    slug = slugify(rest) if rest.strip() else "essay"
    return notebook.with_name(f"{int(number):02d}-{slug}.md" if number else f"{slug}.md")


def cmd_new(args: argparse.Namespace) -> int:
    source: Path = args.source
    try:
        source.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot make the essays folder {source}: {exc.strerror or exc}") from exc
    slug = slugify(args.title)
    numbers = [int(m.group(1)) for p in source.glob("*.md") if (m := re.match(r"(\d+)-", p.name))]
    path = source / f"{max(numbers, default=0) + 1:02d}-{slug}.md"
    if path.exists():
        raise EssaysError(f"{path} already exists")
    # a JSON string is a valid YAML scalar, whatever quotes or colons the title holds
    text = NEW_ESSAY.format(title=args.title, title_yaml=json.dumps(args.title, ensure_ascii=False))
    try:
        with open(path, "x", encoding="utf-8") as f:  # "x": never overwrite an essay that appeared meanwhile
            f.write(text)
    except OSError as exc:
        raise EssaysError(f"cannot write {path}: {exc.strerror or exc}") from exc
    print(f"created {path}")
    return 0
