"""Where the build reads and writes, checked before anything runs.

The CLI makes every path absolute once (`Config.resolved`), so nothing below depends on the
working directory. Before a single cell runs, `check_paths` refuses any output folder the
build could destroy: the builder only ever replaces a folder it marked as its own site, or
an empty or absent one; the writer checks it again right before the swap (`check_output`).
What a killed build left beside the output is put back or removed here too.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.analysis import imported_modules

from .config import Config
from .errors import UsageError
from .leftovers import alive, owner

if TYPE_CHECKING:  # diagnostics.py imports this module
    from .diagnostics import Diagnostics

# Every site the builder writes holds this file; only a folder with it is ever replaced.
SITE_MARKER = ".essays-site"
MARKER_TEXT = "This folder is a site written by `essays build`; the next build replaces it whole.\n"
# Sites written before the marker existed are recognised by the runtime manifest they hold.
LEGACY_MARK = Path("_static") / "runtime" / "manifest.json"


class PathError(UsageError):
    """A path the build must not use; the message is one line for the terminal (exit 2)."""


def shown(path: Path | str) -> str:
    """A path as the author typed it, more or less: relative to the working directory when
    it lies inside it, absolute otherwise."""
    path = Path(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def inside(path: Path, folder: Path) -> bool:
    """`path` is `folder` or lies somewhere below it (both absolute)."""
    return path == folder or folder in path.parents


def is_our_site(folder: Path) -> bool:
    return (folder / SITE_MARKER).is_file() or (folder / LEGACY_MARK).is_file()


def missing_source(source: Path) -> str:
    """What to say when the essays folder is not there: what to do about it."""
    return (
        f'{shown(source)}: no such folder of essays. Start one with `essays new "My first essay"` '
        "(it makes essays/), or name your folder: `essays build FOLDER`"
    )


def check_paths(config: Config) -> None:
    """Raise PathError if building `config` could lose anything that the build did not
    write. Paths are absolute here (see Config.resolved)."""
    output = config.output
    out = shown(output)
    if not config.source.is_dir():
        raise PathError(missing_source(config.source))
    # compared with symlinks resolved: a link must not smuggle one folder into another
    source, cache = config.source.resolve(), config.cache_root.resolve()
    _check_kind(output, during_build=False)
    output = output.resolve()
    if inside(source, output):
        raise PathError(f"-o {out} would replace the essays in {shown(source)}: choose an output folder outside it")
    if inside(output, source):
        raise PathError(f"-o {out} is inside the essays folder {shown(source)}: choose an output folder outside it")
    if config.use_cache and inside(cache, output):
        raise PathError(f"the cache {shown(cache)} is inside the output {out}, which every build replaces")
    if config.use_cache and inside(output, cache):
        raise PathError(f"-o {out} is inside the cache {shown(cache)}: choose another output folder")
    if config.use_cache and inside(cache, source) and not _hidden_below(cache, source):
        raise PathError(
            f"the cache {shown(cache)} is inside the essays folder, whose files are published: "
            "put it beside the essays instead"
        )
    _check_ours(config.output, during_build=False)
    report = config.report
    if report is not None:
        if report.is_dir():
            raise PathError(f"--report {shown(report)} is a folder: give a file name")
        if inside(report.resolve(), source):
            raise PathError(f"--report {shown(report)} is inside the essays folder: write it elsewhere")


def check_output(output: Path, during_build: bool = False) -> None:
    """Raise PathError unless `output` is absent, an empty folder, or a site of ours: the
    only folders a build may replace. Checked before any cell runs (`check_paths`), and
    again, `during_build`, right before the swap, for the folder may have changed since."""
    _check_kind(output, during_build)
    _check_ours(output, during_build)


def _check_kind(output: Path, during_build: bool) -> None:
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        if during_build:
            raise PathError(f"-o {shown(output)} became a file or link during the build: the new site was discarded")
        raise PathError(f"-o {shown(output)} is an existing file or link, not a folder: choose a folder")


def _check_ours(output: Path, during_build: bool) -> None:
    if output.is_dir() and not is_our_site(output) and any(output.iterdir()):
        if during_build:
            raise PathError(
                f"-o {shown(output)} became a folder that essays did not write during the build "
                f"(no {SITE_MARKER} in it): refusing to replace it; the new site was discarded"
            )
        raise PathError(
            f"-o {shown(output)} is a folder that essays did not write (no {SITE_MARKER} in it): "
            "refusing to replace it; choose an empty or new folder"
        )


def _hidden_below(path: Path, folder: Path) -> bool:
    """A hidden folder inside the essays folder is never published nor hashed as an asset."""
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def restore_previous(output: Path) -> Path | None:
    """Put back the previous site when a build was killed between the two renames of its
    swap: the output is gone and its last copy waits beside it as `.SITE-old-PID-…`. Runs
    before `clean_leftovers`, which would otherwise delete the only copy of the site.
    Returns the folder it came from, or None."""
    if output.exists() or output.is_symlink():
        return None
    copies = [path for path in _leftovers(output, "old") if is_our_site(path)]
    if not copies:
        return None
    latest = max(copies, key=lambda path: path.stat().st_ctime)  # a rename sets the ctime
    os.rename(latest, output)
    return latest


def clean_leftovers(output: Path) -> list[Path]:
    """Remove what an interrupted build left beside the output (`.SITE-building-PID-*`,
    `.SITE-old-PID-*`, `.SITE-trash-PID-*`) when the process that made it is gone. Only
    folders that hold our marker, or nothing, are removed; call `restore_previous` first.
    Returns what was removed."""
    removed = []
    for kind in ("building", "old", "trash"):
        for path in _leftovers(output, kind):
            if not is_our_site(path) and any(path.iterdir()):
                continue  # not a site of ours after all: never delete what we did not write
            remove_site(path)
            removed.append(path)
    return removed


def _leftovers(output: Path, kind: str) -> list[Path]:
    """The folders named `.SITE-KIND-PID-…` beside the output whose PID is gone (or is this
    process: a folder from an earlier build in it, done with)."""
    prefix = f".{output.name}-{kind}-"
    found = []
    for path in sorted(output.parent.glob(f"{glob.escape(prefix)}*")):
        pid = owner(path.name, prefix)
        if pid is None or (pid != os.getpid() and alive(pid)) or path.is_symlink() or not path.is_dir():
            continue
        found.append(path)
    return found


def remove_site(folder: Path) -> None:
    """Delete a site folder of ours with its marker last, so that a deletion cut short
    (a kill, a full disk) leaves a folder that the next build still knows for its own."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name == SITE_MARKER:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    shutil.rmtree(folder, ignore_errors=True)


def source_files(source: Path) -> list[Path]:
    """Everything beside the essays that a cell could read, and so what the cache key
    covers: not the essays themselves, templates, hidden files or caches. A symlink that
    leads outside the essays folder is left out (`data/passwd -> /etc/passwd`)."""
    return _walk(source)[0]


def _walk(source: Path) -> tuple[list[Path], list[Path]]:
    """source_files, and the symlinks it left out for leading outside the essays folder."""
    files = []
    refused = []
    root = source.resolve()
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if not path.is_file() or rel.parts[0] == "templates" or "__pycache__" in rel.parts:
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        if len(rel.parts) == 1 and path.suffix == ".md":
            continue
        if path.is_symlink() and root not in path.resolve().parents:
            refused.append(path)
            continue
        files.append(path)
    return files, refused


def asset_files(source: Path, imported: set[str] | None = None, diagnostics: Diagnostics | None = None) -> list[Path]:
    """What the site publishes beside the pages: the files in the folders beside the essays
    (essays/data/names.txt), and the helper modules at the top of the essays folder that
    cells import (`imported`: top-level module names), with those they import in turn, so
    a reader's run of such a cell finds them in the page too. Any other file at the top
    (credentials.txt, notes, a module no cell imports) is the author's own: cells may read
    it at build time, but it is never published. A symlink leading outside the essays
    folder is not published either, and a warning in `diagnostics` says so."""
    files, refused = _walk(source)
    for path in refused:
        if diagnostics is not None:
            diagnostics.warn(f"{shown(path)} links outside the essays folder (to {path.resolve()}): not published")
    top = {p.stem: p for p in files if len(p.relative_to(source).parts) == 1 and p.suffix == ".py"}
    wanted: set[str] = set()
    todo = [name for name in imported or set() if name in top]
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        try:
            todo.extend(m for m in imported_modules(top[name].read_text(encoding="utf-8")) if m in top)
        except (OSError, UnicodeDecodeError):
            pass
    return [
        p
        for p in files
        # a notebook beside the essays is the source of one, converted: not for readers
        if p.suffix != ".ipynb" and (len(p.relative_to(source).parts) > 1 or (p.suffix == ".py" and p.stem in wanted))
    ]
