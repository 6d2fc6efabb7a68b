"""A cache shared through fsspec: a folder, S3, GCS, or memory:// for tests.

The local cache folder stays what the build and the workers read and write; this module
copies entries between it and the shared store. Nothing here can publish a wrong value:

- every object is a sealed cache file (store.seal), so a fetched one is checked against its
  digest before it is written into the local copy; a truncated or damaged object is a miss;
- an upload goes to a temporary name and is moved to its real name when whole, and an
  entry is uploaded after the snapshot and blobs it refers to, so an entry that a reader
  finds has its parts beside it;
- names are content keys, so two writers of one entry write results of the same cell with
  the same inputs: whichever lands last, a reader gets a sound entry;
- a build never deletes anything here. Pruning by size is for the local copy only: one
  writer cannot know what another build needs right now.

fsspec is an optional dependency (the `cluster` extra), imported when a URL is opened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder.errors import UsageError

from .store import TEMP_PREFIX, Corrupt, atomic_write, unseal


def is_url(text: str) -> bool:
    """Whether a --cache-dir or ESSAYS_CACHE value names an fsspec store, not a path."""
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.replace("+", "").replace("-", "").isalnum()


@dataclass
class Remote:
    """The shared store at `url`; paths inside it mirror the local cache folder's."""

    url: str
    fs: Any = field(init=False, repr=False, compare=False)  # an fsspec AbstractFileSystem
    base: str = field(init=False)

    def __post_init__(self) -> None:
        try:
            import fsspec
        except ImportError:
            raise UsageError(f"the cache {self.url} needs fsspec: pip install 'interactive-essays[cluster]'") from None
        try:
            self.fs, self.base = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:  # an unknown protocol, or its package missing
            raise UsageError(f"the cache {self.url} cannot be opened: {exc}") from None
        self.base = self.base.rstrip("/")

    def __getstate__(self) -> dict[str, str]:
        # a cluster's task carries the URL; each worker opens the store itself
        return {"url": self.url}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.url = state["url"]
        self.__post_init__()

    def _path(self, relative: str) -> str:
        return f"{self.base}/{relative}"

    def fetch(self, relative: str, into: Path) -> bool:
        """Copy the object at `relative` into the local file `into` once it is checked
        against its seal. False when there is none; Corrupt when it is damaged (the local
        copy is then left as it was)."""
        try:
            raw = self.fs.cat_file(self._path(relative))
        except (FileNotFoundError, IsADirectoryError):
            return False
        unseal(raw, f"the shared cache's {relative}")  # raises Corrupt
        atomic_write(into, raw)
        return True

    def has(self, relative: str) -> bool:
        return bool(self.fs.exists(self._path(relative)))

    def push(self, relative: str, source: Path, replace: bool = False) -> None:
        """Upload the local file `source` to `relative`, unless one is there already (a
        blob or entry is the same whoever wrote it) and `replace` is False. Written under a
        temporary name and moved into place, so readers never see part of it."""
        target = self._path(relative)
        if not replace and self.fs.exists(target):
            return
        data = source.read_bytes()
        folder, _, name = target.rpartition("/")
        temporary = f"{folder}/{TEMP_PREFIX}{name}.{uuid.uuid4().hex}"
        self.fs.makedirs(folder, exist_ok=True)
        self.fs.pipe_file(temporary, data)
        try:
            self.fs.mv(temporary, target)
        except BaseException:
            try:
                self.fs.rm_file(temporary)
            except OSError:
                pass
            raise

    def remove(self, relative: str) -> None:
        try:
            self.fs.rm_file(self._path(relative))
        except FileNotFoundError:
            pass


__all__ = ["Corrupt", "Remote", "is_url"]
