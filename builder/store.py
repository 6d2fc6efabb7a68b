"""The cache's storage primitives: files written whole or not at all, sealed with a digest
of their content that is checked when they are read.

Standard library and xxhash only: the worker uses this module too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

MAGIC = b"essays-cache-1\0"  # every cache file starts with this, then the digest of the rest


class Corrupt(Exception):
    """A cache file whose content does not match its digest: a flipped bit, a torn disk
    write. It is a miss, never a value."""


def digest(data: Any) -> bytes:
    import xxhash

    return xxhash.xxh3_128_digest(data)


def seal(data: bytes) -> bytes:
    """Cache file content: a header and a digest that `unseal` checks."""
    return MAGIC + digest(data) + data


def unseal(raw: bytes, name: str = "a cache file") -> bytes:
    """The data sealed in `raw`; raises Corrupt when it was changed after sealing."""
    head = len(MAGIC) + 16
    if not raw.startswith(MAGIC) or len(raw) < head:
        raise Corrupt(f"{name} has no valid header")
    data = memoryview(raw)[head:]
    if digest(data) != raw[len(MAGIC) : head]:
        raise Corrupt(f"{name} does not match its digest")
    return bytes(data)


def atomic_write(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename: a reader sees the old file or the whole
    new one, never half of it, even with two builds at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
