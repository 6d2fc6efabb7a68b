"""The cache's storage primitives: files written whole or not at all, sealed with a digest
of their content that is checked when they are read; content compressed where that pays;
and blobs, bytes stored once under the digest of their content.

Standard library, xxhash and zstandard only: the worker uses this module too.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MAGIC = b"essays-cache-1\0"  # every cache file starts with this, then the digest of the rest
HEAD = len(MAGIC) + 16
TEMP_PREFIX = "."  # atomic_write's temporary files: ".<name>.<random>" beside the file

# pack()'s first byte says how the rest is stored
RAW, ZSTD = b"r", b"z"
LEVEL = 1  # zstd level: 1 and 3 shrink the essays' arrays alike (30-60x); 1 is the faster
PROBE = 64 * 1024  # bytes per sample when guessing whether big data compresses
PROBES = 4
WORTH = 0.9  # compress only what shrinks to at most this fraction of its size

Buffer = Any  # bytes, bytearray, memoryview, a contiguous numpy array: anything xxhash reads


class Corrupt(Exception):
    """A cache file whose content does not match its digest: a flipped bit, a torn disk
    write. It is a miss, never a value."""


def digest(data: Buffer) -> bytes:
    import xxhash

    return xxhash.xxh3_128_digest(data)


def seal(data: bytes) -> bytes:
    """Cache file content: a header and a digest that `unseal` checks."""
    return MAGIC + digest(data) + data


def seal_parts(parts: Sequence[Buffer]) -> list[Buffer]:
    """seal() of the parts joined, without joining them (a big array is not copied)."""
    import xxhash

    hasher = xxhash.xxh3_128()
    for part in parts:
        hasher.update(part)
    return [MAGIC, hasher.digest(), *parts]


def _unsealed(raw: Buffer, name: str) -> memoryview:
    view = memoryview(raw)
    if len(view) < HEAD or view[: len(MAGIC)] != MAGIC:
        raise Corrupt(f"{name} has no valid header")
    data = view[HEAD:]
    if digest(data) != view[len(MAGIC) : HEAD]:
        raise Corrupt(f"{name} does not match its digest")
    return data


def unseal(raw: bytes, name: str = "a cache file") -> bytes:
    """The data sealed in `raw`; raises Corrupt when it was changed after sealing."""
    return bytes(_unsealed(raw, name))


def atomic_write(path: Path, data: bytes | list[Buffer]) -> None:
    """Write through a temporary file and rename: a reader sees the old file or the whole
    new one, never half of it, even with two builds at once. `data` may be a list of
    buffers, written one after another."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            for part in data if isinstance(data, list) else [data]:
                f.write(part)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ----- compression ---------------------------------------------------------------------


def _compresses(view: memoryview) -> bool:
    """Whether zstd is worth running on `view`: samples from its start, middle and end
    tell random floats or bytes (which do not shrink) from the rest, at a fraction of
    the cost of compressing them all."""
    import zstandard

    n = len(view)
    if n <= PROBES * PROBE * 2:
        return True  # small: compressing it all costs no more than guessing
    step = (n - PROBE) // (PROBES - 1)
    sample = b"".join(view[i * step : i * step + PROBE] for i in range(PROBES))
    return len(zstandard.ZstdCompressor(level=LEVEL).compress(sample)) <= WORTH * len(sample)


def pack(data: Buffer) -> list[Buffer]:
    """`data` as stored: a byte saying how, then the data, compressed where that pays."""
    import zstandard

    view = memoryview(data).cast("B")
    if _compresses(view):
        packed = zstandard.ZstdCompressor(level=LEVEL).compress(view)
        if len(packed) <= WORTH * len(view):
            return [ZSTD, packed]
    return [RAW, view]


def unpack(data: memoryview) -> memoryview | bytes:
    """What pack() packed."""
    import zstandard

    how, rest = bytes(data[:1]), data[1:]
    if how == RAW:
        return rest
    if how == ZSTD:
        try:
            return zstandard.ZstdDecompressor().decompress(rest)
        except zstandard.ZstdError as exc:  # sealed, so only a bug or a foreign file gets here
            raise Corrupt(f"the data does not decompress ({exc})") from None
    raise Corrupt(f"unknown packing {how!r}")


def write_packed(path: Path, data: Buffer) -> None:
    """A sealed cache file holding `data`, compressed where that pays."""
    atomic_write(path, seal_parts(pack(data)))


def read_packed(path: Path, name: str | None = None) -> memoryview | bytes:
    """The data of a file write_packed wrote; Corrupt when it was changed after."""
    return unpack(_unsealed(path.read_bytes(), name or path.name))


# ----- blobs -----------------------------------------------------------------------------

BLOB_SUFFIX = ".blob"


def blob_path(folder: Path, name: str) -> Path:
    return folder / f"{name}{BLOB_SUFFIX}"


def content_name(data: Buffer) -> str:
    import xxhash

    return xxhash.xxh3_128_hexdigest(data)


def put_blob(folder: Path, data: Buffer, name: str | None = None) -> str:
    """Store `data` once under the digest of its content (`name`, when the caller has
    it); returns that name. A blob already there is only touched, so that a build
    pruning the cache at the same time sees it in use (cache.GRACE)."""
    name = name or content_name(data)
    path = blob_path(folder, name)
    try:
        os.utime(path)
    except FileNotFoundError:
        write_packed(path, data)
    return name


def get_blob(folder: Path, name: str) -> memoryview | bytes:
    """A blob's content, checked against its seal and its name; a corrupt blob is removed
    (so the next snapshot writes it again) and raises Corrupt."""
    path = blob_path(folder, name)
    try:
        data = read_packed(path, f"the blob {path.name}")
        if content_name(data) != name:
            raise Corrupt(f"the blob {path.name} does not match its name")
    except Corrupt:
        path.unlink(missing_ok=True)
        raise
    return data
