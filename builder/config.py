"""One typed configuration object, built by the CLI and passed explicitly."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_CELL_TIMEOUT = 120.0  # seconds; a cell's data-timeout overrides it
# A day: longer is surely a typo, and a deadline must stay a float the clock can add to
# (inf or 1e308 overflowed the wait and took the whole build down)
MAX_CELL_TIMEOUT = 86400.0
DEFAULT_CACHE_LIMIT_MB = 2048  # the cache is pruned to this after each build


def timeout_seconds(text: str) -> float:
    """A cell's time limit from the command line or a `data-timeout` attribute: a finite
    number of seconds above 0 and at most a day. ValueError says what is wrong, in words."""
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f'must be a number of seconds, not "{text}"') from None
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_CELL_TIMEOUT):
        raise ValueError(f'must be a number of seconds above 0 and at most {MAX_CELL_TIMEOUT:g} (a day), not "{text}"')
    return seconds


@dataclass
class Config:
    source: Path = Path("essays")
    output: Path = Path("site")
    strict: bool = False
    cell_timeout: float = DEFAULT_CELL_TIMEOUT
    report: Path | None = None
    jobs: int = 0  # essays executed at once; 0 means one per CPU core
    pyodide_url: str | None = None  # load Pyodide from here instead of the site's copy
    package_base_url: str | None = None  # where the page fetches Pyodide packages (numpy...)
    quiet: bool = False
    cache_dir: Path | None = None  # default: .essays-cache beside the essays
    # a cache shared through fsspec (file://, s3://, gs://, memory://); cache_root is then
    # its local read-through copy (builder/cache/remote.py)
    cache_url: str | None = None
    use_cache: bool = True
    cache_limit: int = DEFAULT_CACHE_LIMIT_MB * 2**20  # bytes the cache may keep beyond what the current essays use
    # where essays run: "local" (worker processes here), "local-cluster[:N]" or
    # "dask://HOST:PORT" (execution/cluster.py)
    executor: str = "local"
    # every page lists the build's problems at the top (pipeline/problems.py): `essays serve`
    # always, `essays build --show-problems` when the author asks
    show_problems: bool = False
    verify: bool = False  # run every essay again without the cache and compare (builder/cache/verify.py)

    def resolved(self) -> Config:
        """The same configuration with every path absolute, resolved against the working
        directory once, here at the edge: the workers change into the essays folder, and
        nothing below the CLI may depend on where the build was started."""

        def absolute(path: Path) -> Path:
            return Path(os.path.abspath(os.path.expanduser(path)))

        return replace(
            self,
            source=absolute(self.source),
            output=absolute(self.output),
            report=absolute(self.report) if self.report else None,
            cache_dir=absolute(self.cache_dir) if self.cache_dir else None,
        )

    @property
    def cache_root(self) -> Path:
        return self.cache_dir or (self.source.parent / ".essays-cache")

    @property
    def templates(self) -> Path:
        """A templates/ folder beside the essays overrides the built-in templates."""
        return self.source / "templates"
