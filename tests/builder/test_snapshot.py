"""The snapshot store and the cache, in process: no worker, no build. Sealing and digests,
array blobs shared and checked, values that do not pickle, and pruning by age and use."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from builder import snapshot, store
from builder.cache import Cache
from builder.records import CellResult
from runtime.display import Output


def test_seal_round_trip_and_any_changed_byte_is_corrupt():
    sealed = store.seal(b"some data")
    assert store.unseal(sealed) == b"some data"
    for at in range(len(sealed)):
        broken = bytearray(sealed)
        broken[at] ^= 1
        with pytest.raises(store.Corrupt):
            store.unseal(bytes(broken))


def test_a_namespace_round_trips_with_functions_modules_and_shared_blobs(tmp_path):
    big = np.arange(50_000, dtype=np.float64)
    namespace = {"__name__": "__main__", "big": big, "same": big, "np": np, "n": 3}
    exec("def twice():\n    return n * 2\n", namespace)
    lost, blobs = snapshot.save(namespace, tmp_path / "a.pickle", tmp_path / "blobs")
    assert lost == {} and len(blobs) == 1  # the array is stored once, though two names hold it
    loaded = snapshot.load(tmp_path / "a.pickle", tmp_path / "blobs")
    assert np.array_equal(loaded["big"], big) and loaded["np"] is np
    loaded["n"] = 10
    assert loaded["twice"]() == 20  # functions see later assignments, as in the essay


def test_a_value_that_does_not_pickle_is_named_and_the_rest_is_kept(tmp_path):
    namespace = {"__name__": "__main__", "lock": threading.Lock(), "kept": [1, 2]}
    lost, _ = snapshot.save(namespace, tmp_path / "a.pickle", tmp_path / "blobs")
    assert list(lost) == ["lock"] and "lock" in lost["lock"]
    assert snapshot.load(tmp_path / "a.pickle", tmp_path / "blobs")["kept"] == [1, 2]


def test_a_changed_blob_is_corrupt_and_removed(tmp_path):
    namespace = {"__name__": "__main__", "big": np.ones(50_000)}
    _, (digest,) = snapshot.save(namespace, tmp_path / "a.pickle", tmp_path / "blobs")
    blob = tmp_path / "blobs" / f"{digest}.npy"
    data = bytearray(blob.read_bytes())
    data[-8] ^= 0xFF  # inside the array's data: the .npy header still parses
    blob.write_bytes(bytes(data))
    with pytest.raises(store.Corrupt, match="does not match its digest"):
        snapshot.load(tmp_path / "a.pickle", tmp_path / "blobs")
    assert not blob.exists()  # so that the next snapshot writes it again


def test_a_full_disk_while_saving_is_an_os_error_not_a_lost_value(tmp_path, monkeypatch):
    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshot, "atomic_write", full)  # as imported there
    with pytest.raises(OSError, match="No space"):
        snapshot.save({"big": np.ones(50_000)}, tmp_path / "a.pickle", tmp_path / "blobs")


# ----- the cache's entries --------------------------------------------------------------


@pytest.fixture
def cache(tmp_path):
    (tmp_path / "essays").mkdir()
    return Cache(tmp_path / "cache", tmp_path / "essays")


def result(text: str, blobs: list[str] | None = None) -> CellResult:
    return CellResult("ok", [Output("value", text=text, label="x")], 0.5, lost=[], blobs=blobs or [])


def test_store_and_load(cache):
    cache.store("k" * 32, result("42"))
    hit = cache.load("k" * 32)
    assert hit is not None and hit.cached and hit.outputs[0].text == "42"
    assert cache.load("m" * 32) is None and cache.warnings() == []


def test_a_corrupt_entry_is_a_miss_said_once(cache):
    cache.store("k" * 32, result("42"))
    entry = next((cache.root / "cells").glob("*/*.pickle"))
    data = bytearray(entry.read_bytes())
    data[-3] ^= 1
    entry.write_bytes(bytes(data))
    assert cache.load("k" * 32) is None
    (warning,) = cache.warnings()
    assert "1 corrupt cache entry" in warning


def test_a_cache_that_cannot_be_written_says_so_once(cache, monkeypatch):
    def read_only(path, data):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("builder.cache.atomic_write", read_only)
    cache.store("a" * 32, result("1"))
    cache.store("b" * 32, result("2"))
    assert not cache.writable
    (warning,) = cache.warnings()
    assert "Read-only file system" in warning
    assert cache.prune(set(), 0) == 0  # nothing is even tried


# ----- pruning ----------------------------------------------------------------------------


def age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_pruning_drops_least_recently_used_unlive_entries_and_their_own_blobs(cache):
    blobs = cache.blobs
    blobs.mkdir(parents=True)
    for name in ("shared", "only-old"):
        (blobs / f"{name}.npy").write_bytes(b"x" * 1000)
    cache.store("old" + "0" * 29, result("1", ["shared", "only-old"]))
    cache.store("mid" + "0" * 29, result("2", ["shared"]))
    cache.store("new" + "0" * 29, result("3"))
    for key, seconds in (("old", 3000), ("mid", 2000), ("new", 1000)):
        age(next((cache.root / "cells").glob(f"*/{key}*.pickle")), seconds)
    live = {"new" + "0" * 29}
    freed = cache.prune(live, max_bytes=2500)  # room for about two blobs and the entries
    keys = {p.stem[:3] for p in (cache.root / "cells").glob("*/*.pickle")}
    assert keys == {"mid", "new"}  # the least recently used, not live, went first
    assert not (blobs / "only-old.npy").exists() and (blobs / "shared.npy").exists()
    assert freed > 1000
    cache.prune(live, max_bytes=0)
    assert {p.stem[:3] for p in (cache.root / "cells").glob("*/*.pickle")} == {"new"}  # live stays
    assert not (blobs / "shared.npy").exists()


def test_unreferenced_files_are_kept_while_young(cache):
    cache.blobs.mkdir(parents=True)
    young, old = cache.blobs / "young.npy", cache.blobs / "old.npy"
    young.write_bytes(b"y")
    old.write_bytes(b"o")
    age(old, 3600)
    cache.prune(set(), max_bytes=10**9)
    assert young.exists() and not old.exists()  # a running build may be about to refer to young
