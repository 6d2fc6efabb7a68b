"""Where the build reads and writes, checked before anything runs.

The CLI makes every path absolute once (`Config.resolved`), so nothing below depends on the
working directory. Before a single cell runs, `check_paths` refuses any output folder the
build could destroy: the builder only ever replaces a folder it marked as its own site, or
an empty or absent one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .config import Config

# Every site the builder writes holds this file; only a folder with it is ever replaced.
SITE_MARKER = ".essays-site"
MARKER_TEXT = "This folder is a site written by `essays build`; the next build replaces it whole.\n"
# Sites written before the marker existed are recognised by the runtime manifest they hold.
LEGACY_MARK = Path("_static") / "runtime" / "manifest.json"


class PathError(Exception):
    """A path the build must not use; the message is one line for the terminal."""


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


def check_paths(config: Config) -> None:
    """Raise PathError if building `config` could lose anything that the build did not
    write. Paths are absolute here (see Config.resolved)."""
    output = config.output
    out = shown(output)
    if not config.source.is_dir():
        raise PathError(f"{shown(config.source)}: no such folder of essays")
    # compared with symlinks resolved: a link must not smuggle one folder into another
    source, cache = config.source.resolve(), config.cache_root.resolve()
    if (output.exists() or output.is_symlink()) and (output.is_symlink() or not output.is_dir()):
        raise PathError(f"-o {out} is an existing file or link, not a folder: choose a folder")
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
    if output.is_dir() and not is_our_site(output) and any(output.iterdir()):
        raise PathError(
            f"-o {out} is a folder that essays did not write (no {SITE_MARKER} in it): "
            "refusing to replace it; choose an empty or new folder"
        )
    report = config.report
    if report is not None:
        if report.is_dir():
            raise PathError(f"--report {shown(report)} is a folder: give a file name")
        if inside(report.resolve(), source):
            raise PathError(f"--report {shown(report)} is inside the essays folder: write it elsewhere")


def _hidden_below(path: Path, folder: Path) -> bool:
    """A hidden folder inside the essays folder is never published nor hashed as an asset."""
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def clean_leftovers(output: Path) -> list[Path]:
    """Remove what an interrupted build left beside the output (`.site-building-PID-*`,
    `.site-old-PID-*`) when the process that made it is gone. Returns what was removed."""
    removed = []
    for prefix in (f".{output.name}-building-", f".{output.name}-old-"):
        for path in output.parent.glob(f"{prefix}*"):
            pid = path.name.removeprefix(prefix).split("-", 1)[0]
            if not pid.isdigit() or _alive(int(pid)) or not path.is_dir() or path.is_symlink():
                continue
            if not is_our_site(path) and any(path.iterdir()):
                continue  # not a site of ours after all: never delete what we did not write
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a folder of ours from an earlier build in this process: done with
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def source_files(source: Path, refused: list[Path] | None = None) -> list[Path]:
    """Everything beside the essays that a cell could read, and so what the cache key
    covers: not the essays themselves, templates, hidden files or caches. A symlink that
    leads outside the essays folder is left out (`data/passwd -> /etc/passwd`) and added
    to `refused`."""
    files = []
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
            if refused is not None:
                refused.append(path)
            continue
        files.append(path)
    return files


def asset_files(source: Path, refused: list[Path] | None = None) -> list[Path]:
    """What the site publishes beside the pages: the files in the folders beside the essays
    (essays/data/names.txt). A file at the top of the essays folder is the author's own
    (credentials.txt, notes, a helper module with a key in it): cells may read or import it
    at build time, but it is never published, whatever its name."""
    return [path for path in source_files(source, refused) if len(path.relative_to(source).parts) > 1]
