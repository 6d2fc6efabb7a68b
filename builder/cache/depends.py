"""What a cell's output depends on beyond its key, recorded while it runs and checked before
its cached output is reused.

A cell's key covers its code, the cells before it, the essays' asset files and the runtime.
It cannot see what a cell reaches at run time: a numpy upgrade, an exported module imported
through a helper (`from helper import f`, where helper.py does `import alpha`), a file
outside the essays folder, an environment variable. The worker watches each cell with an
audit hook (Python reports every `open` and first `import` to it) and a recording
`os.environ`, and returns a `Depends`; the cache keeps it with the outputs, and a build
reuses them only while every recorded thing is as it was.

What a cell writes into the essays folder (`fig.savefig("figures/line.svg")`) is recorded
too: it is an output of the build, so it is left out of the asset digest and the dev
server's watch, and a cached cell whose file is gone or changed runs again to write it.

The worker half (Recorder) uses the standard library only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# variables the builder sets for each worker itself (its own folder, for one)
WORKER_VARIABLES = {"XDG_RUNTIME_DIR", "PYTHONPATH", "MPLBACKEND"}
# the code between a cell and os.environ.__getitem__ (os.getenv, Mapping.get), frozen or not
_MAPPING_CODE = ("os.py", "_collections_abc.py", "<frozen os>", "<frozen _collections_abc>")


@dataclass
class Depends:
    """What a cell read or wrote that its key does not cover."""

    distributions: dict[str, str] = field(default_factory=dict)  # installed distribution -> version
    modules: dict[str, str] = field(default_factory=dict)  # essays' exported module -> digest
    files: dict[str, str | None] = field(default_factory=dict)  # file outside the essays -> digest
    environ: dict[str, str | None] = field(default_factory=dict)  # variable -> value (None: unset)
    writes: dict[str, str | None] = field(default_factory=dict)  # file in the essays folder -> digest
    # files in the essays folder it read (relative): the key covers them, but one the site
    # does not publish (credentials.txt) keeps what the cell made out of the page's state
    local: list[str] = field(default_factory=list)

    def outside(self) -> list[str]:
        """What a reader of the build output is told this cell depends on, outside the key."""
        return [*self.files, *(f"${name}" for name in self.environ)]


def file_digest(path: str | Path) -> str | None:
    from .store import digest

    try:
        return digest(Path(path).read_bytes()).hex()
    except OSError:
        return None


# ----- in the worker -------------------------------------------------------------------


# Top-level modules the runtime answers with a stand-in when their distribution is missing
# (runtime/ipython.py): a cell that imported one depends on that distribution's absence.
STAND_INS = {"IPython": "ipython"}
NOT_INSTALLED = ""  # the recorded "version" of a distribution that was not installed


class Recorder:
    """Watches the cell that is running. One per worker process: audit hooks stay for life."""

    def __init__(self, essays: str, modules: str, private: list[str]) -> None:
        self.essays = os.path.abspath(essays)
        self.modules = os.path.abspath(modules) if modules else ""
        self.filename = ""  # the essay file name the cells are compiled under
        self.active = False
        # reads below these are the Python installation's, the key's (the essays folder) or
        # the machine's, not the cell's data
        roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, self.essays, *private}
        roots |= {"/dev", "/proc", "/sys", "/etc", "/usr", "/lib", "/run", "/var", os.path.expanduser("~/.cache")}
        if self.modules:
            roots.add(self.modules)
        self.ignored = tuple(os.path.abspath(r).rstrip(os.sep) + os.sep for r in roots if r)
        self.written: set[str] = set()  # by any cell so far: never an input of a later one
        self._distributions: Mapping[str, list[str]] | None = None
        self._reset()

    def _reset(self) -> None:
        self.imported: list[str] = []
        self.reads: set[str] = set()
        self.local: set[str] = set()
        self.writes: set[str] = set()
        self.environ: dict[str, str | None] = {}

    def install(self) -> None:
        sys.addaudithook(self._hook)
        recorder = self

        class RecordingEnviron(type(os.environ)):  # type: ignore[misc]
            def __getitem__(self, key: Any) -> Any:
                try:
                    value = super().__getitem__(key)
                except KeyError:
                    recorder._env(key, None)
                    raise
                recorder._env(key, value)
                return value

        os.environ.__class__ = RecordingEnviron

    # -- events (called for everything the process does: cheap, and never raise) -----------

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        try:
            if event == "open":
                self._open(args[0], args[2])
            elif event == "import":
                self.imported.append(args[0])
            elif event == "os.rename":
                self._open(args[1], os.O_WRONLY)
        except Exception:
            pass

    def _open(self, path: Any, flags: Any) -> None:
        if isinstance(path, int) or path is None:
            return
        name = os.path.abspath(os.fsdecode(path))
        mode = (flags if isinstance(flags, int) else os.O_RDONLY) & os.O_ACCMODE
        if mode != os.O_RDONLY:
            self.writes.add(name)
        elif not name.startswith(self.ignored):
            self.reads.add(name)
        elif name.startswith(self.essays + os.sep) and "__pycache__" not in name:
            self.local.add(name[len(self.essays) + 1 :])

    def _env(self, key: Any, value: str | None) -> None:
        if not self.active or key in WORKER_VARIABLES or not isinstance(key, str):
            return
        # only the cells' own reads (and their modules'): a library reading its settings at
        # import is covered by its version
        frame = sys._getframe(2)
        while frame is not None and frame.f_code.co_filename.endswith(_MAPPING_CODE):
            frame = frame.f_back  # type: ignore[assignment]
        if frame is None:
            return
        source = frame.f_code.co_filename
        if source == self.filename or source.startswith((self.essays + os.sep, self.modules + os.sep)):
            self.environ.setdefault(key, value)

    # -- one cell ---------------------------------------------------------------------------

    def start(self, filename: str) -> None:
        self._reset()
        self.filename = filename
        self.active = True

    def stop(self) -> Depends:
        self.active = False
        depends = Depends(environ=dict(self.environ), local=sorted(self.local))
        self._imports(depends)
        essays = self.essays + os.sep
        for path in sorted(self.writes):
            if path.startswith(essays):
                depends.writes[path[len(essays) :]] = file_digest(path)
        self.written |= self.writes
        for path in sorted(self.reads - self.written):
            if not os.path.isdir(path):
                depends.files[path] = file_digest(path)
        return depends

    def _imports(self, depends: Depends) -> None:
        tops = {name.partition(".")[0] for name in self.imported}
        exported = {n[:-3] for n in os.listdir(self.modules) if n.endswith(".py")} if self.modules else set()
        for name in sorted(tops & exported):
            depends.modules[name] = file_digest(os.path.join(self.modules, f"{name}.py")) or ""
        if not tops - exported:
            return
        from importlib import metadata

        if self._distributions is None:
            self._distributions = metadata.packages_distributions()
        distributions = self._distributions
        for top in sorted(tops - exported):
            for dist in distributions.get(top, []):
                try:
                    depends.distributions[dist] = metadata.version(dist)
                except metadata.PackageNotFoundError:
                    pass
            if top in STAND_INS and not distributions.get(top):
                # the runtime's stand-in answered the import: the output holds only while
                # the real distribution stays uninstalled
                depends.distributions[STAND_INS[top]] = NOT_INSTALLED


# ----- in the builder ------------------------------------------------------------------


class Checker:
    """Tells whether what cells recorded still holds, now. One per build: what it looks up
    (a version, a file's digest) it looks up once."""

    def __init__(self, essays: Path, modules: Path | None) -> None:
        self.essays = essays
        self.modules = modules
        self._versions: dict[str, str | None] = {}
        self._digests: dict[str, str | None] = {}

    def _version(self, dist: str) -> str | None:
        if dist not in self._versions:
            from importlib import metadata

            try:
                self._versions[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                self._versions[dist] = None
        return self._versions[dist]

    def _digest(self, path: Path) -> str | None:
        key = str(path)
        if key not in self._digests:
            self._digests[key] = file_digest(path)
        return self._digests[key]

    def changed(self, depends: Depends) -> str | None:
        """What no longer holds (for the report), or None when everything does. Files the
        cell wrote are checked by the caller, which knows which cell wrote them last."""
        for dist, version in depends.distributions.items():
            if (self._version(dist) or NOT_INSTALLED) != version:
                return f"{dist} is now {self._version(dist) or 'not installed'} (was {version or 'not installed'})"
        for name, digest in depends.modules.items():
            if self.modules is None or self._digest(self.modules / f"{name}.py") != digest:
                return f"the module {name} changed"
        for path, recorded in depends.files.items():
            if self._digest(Path(path)) != recorded:
                return f"{path} changed"
        for name, value in depends.environ.items():
            if os.environ.get(name) != value:
                return f"${name} changed"
        return None

    def written_changed(self, relative: str, digest: str | None) -> bool:
        return file_digest(self.essays / relative) != digest
