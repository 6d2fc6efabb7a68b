"""The snapshot store and the cache, mostly in process: sealing and digests, compression,
values stored once by content and checked, the identities a restore keeps, values that do
not pickle, and pruning by age and use. A few build an essay, to count what is stored."""

from __future__ import annotations

import os
import pickle
import random
import threading
import time

import numpy as np
import pytest

from builder.cache import snapshot, store
from builder.cache.entries import GRACE, Cache
from builder.diagnostics import Diagnostics
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
    blob = store.blob_path(tmp_path / "blobs", digest)
    data = bytearray(blob.read_bytes())
    data[-8] ^= 0xFF  # inside the compressed data: the header still parses
    blob.write_bytes(bytes(data))
    with pytest.raises(store.Corrupt, match="does not match its digest"):
        snapshot.load(tmp_path / "a.pickle", tmp_path / "blobs")
    assert not blob.exists()  # so that the next snapshot writes it again


def test_a_full_disk_while_saving_is_an_os_error_not_a_lost_value(tmp_path, monkeypatch):
    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "atomic_write", full)  # as write_packed calls it
    with pytest.raises(OSError, match="No space"):
        snapshot.save({"big": np.ones(50_000)}, tmp_path / "a.pickle", tmp_path / "blobs")


CELLS = """
import numpy as np
K = 2
a = b = [1]
nested = {"a": a}
big = np.arange(100_000.0)
same = big
fortran = np.asfortranarray(np.arange(40_000.0).reshape(200, 200))
class Point:
    def __init__(self, x):
        self.x = x
    def scaled(self):
        return self.x * K
p = Point(3)
handlers = [lambda: K + 1]
def f():
    return K * 10
funcs = [f]
words = [str(i) for i in range(50_000)]
holder = {"words": words}
"""


def saved_and_loaded(tmp_path, cells: str = CELLS) -> tuple[dict, dict]:
    namespace = {"__name__": "__main__"}
    exec(cells, namespace)
    lost, _ = snapshot.save(namespace, tmp_path / "a.pickle", tmp_path / "blobs")
    assert lost == {}
    return namespace, snapshot.load(tmp_path / "a.pickle", tmp_path / "blobs")


def test_names_bound_to_one_object_are_one_object_after_a_restore(tmp_path):
    _, loaded = saved_and_loaded(tmp_path)
    loaded["a"].append(2)
    assert loaded["b"] == [1, 2] and loaded["nested"]["a"] is loaded["a"]
    assert loaded["big"] is loaded["same"]  # an array blob, referred to twice
    assert loaded["holder"]["words"] is loaded["words"]
    assert type(loaded["p"]) is loaded["Point"]  # one class, not a copy per name


def test_functions_share_the_restored_namespace_as_their_globals(tmp_path):
    _, loaded = saved_and_loaded(tmp_path)
    loaded["K"] = 5  # a later cell's assignment, seen by every kind of function
    assert loaded["f"]() == 50 and loaded["handlers"][0]() == 6 and loaded["p"].scaled() == 15
    assert loaded["f"].__globals__ is loaded and loaded["funcs"][0] is loaded["f"]
    assert list(loaded).index("K") < list(loaded).index("words")  # the essay's order


def test_arrays_come_back_equal_writable_and_in_their_order(tmp_path):
    original, loaded = saved_and_loaded(tmp_path)
    assert np.array_equal(loaded["fortran"], original["fortran"]) and loaded["fortran"].flags.f_contiguous
    loaded["big"][0] = 7.0  # writable, as it was
    dates = {"__name__": "__main__", "dates": np.arange(20_000).astype("datetime64[s]")}
    snapshot.save(dates, tmp_path / "d.pickle", tmp_path / "blobs")
    assert np.array_equal(snapshot.load(tmp_path / "d.pickle", tmp_path / "blobs")["dates"], dates["dates"])


def test_a_function_that_reads_a_name_left_out_is_left_out_too(tmp_path):
    namespace = {"__name__": "__main__", "lock": threading.Lock()}
    exec("def locked():\n    with lock:\n        return 1\nother = 2\n", namespace)
    lost, _ = snapshot.save(namespace, tmp_path / "a.pickle", tmp_path / "blobs")
    assert set(lost) == {"lock", "locked"} and "'lock'" in lost["locked"]
    assert snapshot.load(tmp_path / "a.pickle", tmp_path / "blobs")["other"] == 2


def test_a_function_that_calls_show_is_kept_and_calls_the_next_cells_show(tmp_path):
    lock = threading.Lock()  # the kernel's show() holds what does not pickle
    namespace = {"__name__": "__main__", "show": lambda value: lock}
    exec("def report(x):\n    return show(x * 2)\n", namespace)
    lost, _ = snapshot.save(namespace, tmp_path / "a.pickle", tmp_path / "blobs")
    assert lost == {}
    loaded = snapshot.load(tmp_path / "a.pickle", tmp_path / "blobs")
    loaded["show"] = lambda value: value  # as the kernel sets it before each cell
    assert loaded["report"](21) == 42


def test_an_unchanged_value_is_stored_once_across_snapshots(tmp_path):
    namespace = {"__name__": "__main__", "words": [f"word {i}" for i in range(100_000)]}
    exec("import numpy as np\ntable = np.ones((500, 500))\n", namespace)
    blobs = tmp_path / "blobs"
    for i in range(5):
        namespace[f"x{i}"] = i
        snapshot.save(namespace, tmp_path / f"{i}.pickle", blobs)
    assert len(list(blobs.iterdir())) == 2  # the word list and the array, once each
    # each snapshot holds names and the random generators' states (a few kB), not the values
    assert all((tmp_path / f"{i}.pickle").stat().st_size < 16_000 for i in range(5))


def test_compression_round_trips_and_leaves_random_data_as_it_is(tmp_path):
    ones, noise = np.ones(1_000_000).tobytes(), random.Random(0).randbytes(1_000_000)
    for data in (b"", b"x", ones, noise):
        packed = b"".join(bytes(part) for part in store.pack(data))
        assert bytes(store.unpack(memoryview(packed))) == data
    assert len(b"".join(bytes(p) for p in store.pack(ones))) < len(ones) / 100
    assert store.pack(noise)[0] == store.RAW  # a sample said it does not shrink
    store.write_packed(tmp_path / "f", ones)
    assert bytes(store.read_packed(tmp_path / "f")) == ones


def test_a_corrupt_compressed_blob_is_corrupt_and_removed(tmp_path):
    namespace = {"__name__": "__main__", "words": [f"word {i}" for i in range(100_000)]}
    _, (name,) = snapshot.save(namespace, tmp_path / "a.pickle", tmp_path / "blobs")
    blob = store.blob_path(tmp_path / "blobs", name)
    assert bytes(blob.read_bytes()[store.HEAD : store.HEAD + 1]) == store.ZSTD
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x10
    blob.write_bytes(bytes(data))
    with pytest.raises(store.Corrupt):
        snapshot.load(tmp_path / "a.pickle", tmp_path / "blobs")
    assert not blob.exists()


KEPT = """\
# Kept

<script>
import random
payload = random.Random(0).randbytes(2_000_000)
numbers = list(range(300_000))
</script>
""" + "".join(f"\n<script>\nx{i} = {i}\n</script>\n" for i in range(2, 6))


@pytest.mark.slow
def test_a_value_kept_through_many_cells_is_stored_near_once(project):
    project.write("01-kept.md", KEPT, dedent=False)
    result = project.build()
    assert [r.status for r in result.essays[0].results] == ["ok"] * 5
    cache = project.root / ".essays-cache"
    blobs = list((cache / "blobs").iterdir())
    assert len(blobs) == 2  # the bytes and the list, each once though five snapshots hold them
    stored = sum(p.stat().st_size for p in [*blobs, *(cache / "snapshots").rglob("*.pickle")])
    one_copy = 2_000_000 + len(pickle.dumps(list(range(300_000)), protocol=pickle.HIGHEST_PROTOCOL))
    assert stored < 1.05 * one_copy  # random bytes do not shrink; the list does


COUNT = """\
# Count

<script>
import numpy as np
big = np.arange(200_000) % 7
</script>

<script>
result = int(big.sum()) + 2
</script>
"""


@pytest.mark.slow
def test_a_corrupt_compressed_blob_is_a_miss_and_the_cell_runs_again(project):
    essay = project.write("01-count.md", COUNT, dedent=False)
    project.build()
    (blob,) = (project.root / ".essays-cache" / "blobs").iterdir()
    data = bytearray(blob.read_bytes())
    assert data[store.HEAD : store.HEAD + 1] == store.ZSTD and len(data) < 200_000 * 8 / 10
    data[-10] ^= 0x5A
    blob.write_bytes(bytes(data))
    essay.write_text(COUNT.replace("+ 2", "+ 3"))  # resumes from the snapshot after cell 1
    result = project.build()
    assert [r.cached for r in result.essays[0].results] == [False, False]  # cell 1 ran again
    assert "result:</span><pre>599997</pre>" in project.page("01-count.html")
    assert any("corrupt" in w for w in result.warnings)


# ----- the cache's entries --------------------------------------------------------------


@pytest.fixture
def cache(tmp_path):
    (tmp_path / "essays").mkdir()
    return Cache(tmp_path / "cache", tmp_path / "essays")


def warnings_of(cache: Cache) -> list[str]:
    diagnostics = Diagnostics()
    cache.report(diagnostics)
    return [str(d) for d in diagnostics.warnings()]


def result(text: str, blobs: list[str] | None = None) -> CellResult:
    return CellResult("ok", [Output("value", text=text, label="x")], 0.5, lost=[], blobs=blobs or [])


def test_store_and_load(cache):
    cache.store("k" * 32, result("42"))
    hit = cache.load("k" * 32)
    assert hit is not None and hit.cached and hit.outputs[0].text == "42"
    assert cache.load("m" * 32) is None and not warnings_of(cache)


def test_a_corrupt_entry_is_a_miss_said_once(cache):
    cache.store("k" * 32, result("42"))
    entry = next((cache.root / "cells").glob("*/*.pickle"))
    data = bytearray(entry.read_bytes())
    data[-3] ^= 1
    entry.write_bytes(bytes(data))
    assert cache.load("k" * 32) is None
    (warning,) = warnings_of(cache)
    assert "1 corrupt cache entry" in warning


def test_a_cache_that_cannot_be_written_says_so_once(cache, monkeypatch):
    def read_only(path, data):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("builder.cache.store.atomic_write", read_only)
    cache.store("a" * 32, result("1"))
    cache.store("b" * 32, result("2"))
    assert not cache.writable
    (warning,) = warnings_of(cache)
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


def test_pruning_removes_old_temporary_files_and_blobs_no_entry_refers_to(cache):
    cache.store("k" * 32, result("1", ["used"]))
    cache.blobs.mkdir(parents=True)
    used, orphan = store.blob_path(cache.blobs, "used"), store.blob_path(cache.blobs, "orphan")
    for blob in (used, orphan):
        blob.write_bytes(b"b" * 100)
        age(blob, GRACE + 60)
    entry_dir = next((cache.root / "cells").iterdir())
    snapshots = cache.root / "snapshots" / entry_dir.name
    snapshots.mkdir(parents=True)
    # what store.atomic_write leaves when the process is killed between mkstemp and rename
    temps = [entry_dir / ".kk.pickle.a1b2c3", snapshots / ".kk.pickle.d4e5f6", cache.blobs / ".orphan.blob.g7h8"]
    young = cache.blobs / ".other.blob.i9j0"
    for temp in [*temps, young]:
        temp.write_bytes(b"t" * 10)
    for temp in temps:
        age(temp, GRACE + 60)
    freed = cache.prune({"k" * 32}, max_bytes=10**9)
    assert used.exists() and not orphan.exists()
    assert not any(t.exists() for t in temps) and young.exists()  # a write may be under way
    assert freed == 100 + 3 * 10
    assert cache.load("k" * 32) is not None
