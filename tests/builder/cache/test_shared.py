"""A cache shared through fsspec (builder/cache/remote.py): several checkouts, one store."""

import json
import uuid
from pathlib import Path

import pytest

from builder.build import build
from builder.cache.remote import Remote, is_url
from builder.cache.store import Corrupt, seal
from builder.config import Config

fsspec = pytest.importorskip("fsspec", reason="the shared cache needs the `cluster` extra (fsspec)")


def essay_text(log: Path) -> str:
    """Cells that append their number to `log` when they run; the third leaves a big
    array (a blob) in the snapshots, the fourth reads the state the others made."""
    bodies = [
        "import numpy as np\nbig = np.arange(50_000, dtype=np.float64)",
        "W = 10",
        "def f():\n    return W * 2",
        "print(f() + big[-1])",
    ]
    cells = [f"<script>\nopen({str(log)!r}, 'a').write('{i} ')\n{body}\n</script>\n" for i, body in enumerate(bodies)]
    return "# Shared\n\nProse.\n\n" + "\n".join(cells)


class Checkout:
    """One author's folder: essays/, site/ and the local copy .essays-cache/."""

    def __init__(self, root: Path, log: Path, url: str) -> None:
        self.root, self.log, self.url = root, log, url
        (root / "essays").mkdir(parents=True)
        self.write(essay_text(log))

    def write(self, text: str) -> None:
        (self.root / "essays" / "01-shared.md").write_text(text, encoding="utf-8")

    def build(self) -> tuple[list[str], list[bool], str]:
        """The cells that ran, each cell's `cached`, and the page."""
        self.log.write_text("")
        report = self.root / "report.json"
        config = Config(self.root / "essays", self.root / "site", report=report, cache_url=self.url)
        build(config)
        cells = json.loads(report.read_text())["essays"][0]["cells"]
        page = (self.root / "site" / "01-shared.html").read_text(encoding="utf-8")
        return self.log.read_text().split(), [c["cached"] for c in cells], page


def state_files(checkout: Checkout) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (checkout.root / "site" / "_static" / "state").iterdir()}


@pytest.fixture
def shared(tmp_path: Path):
    def make(url: str) -> tuple[Checkout, Checkout]:
        log = tmp_path / "runs.log"  # outside both checkouts, so the essays are the same text
        return Checkout(tmp_path / "alice", log, url), Checkout(tmp_path / "bob", log, url)

    return make


@pytest.mark.slow
def test_a_second_checkout_sharing_a_file_url_cache_runs_no_cell(shared, tmp_path):
    alice, bob = shared((tmp_path / "shared").as_uri())
    ran, cached, alice_page = alice.build()
    assert ran == ["0", "1", "2", "3"] and not any(cached)
    assert list((tmp_path / "shared" / "cells").glob("*/*.pickle")), "the entries reached the shared store"
    ran, cached, bob_page = bob.build()
    assert ran == [] and all(cached)
    assert bob_page == alice_page
    # the page's state too: its values came from the shared store, with the entries
    assert state_files(bob) == state_files(alice) and len(state_files(alice)) > 1
    # the warm rebuild reads bob's local copy: the shared store could be gone
    assert list((bob.root / ".essays-cache" / "cells").glob("*/*.pickle"))


@pytest.mark.slow
def test_a_memory_url_cache_is_shared_and_its_snapshots_resume_an_edit(shared):
    alice, bob = shared(f"memory://essays-{uuid.uuid4().hex}")
    alice.build()
    # bob edits the last cell: the state after cell 3 comes from alice's snapshot and blobs
    bob.write(essay_text(bob.log).replace("print(f() + big[-1])", "print(f() - big[-1])"))
    ran, cached, page = bob.build()
    assert ran == ["3"] and cached == [True, True, True, False]
    assert "-49979.0" in page


@pytest.mark.slow
def test_a_truncated_shared_object_is_a_miss_not_an_error(shared, tmp_path):
    store = tmp_path / "shared"
    alice, bob = shared(store.as_uri())
    alice.build()
    entries = list(store.glob("cells/*/*.pickle"))
    for path in entries:
        path.write_bytes(path.read_bytes()[:-7])  # an upload cut short by a broken line
    ran, cached, _ = bob.build()
    assert ran == ["0", "1", "2", "3"] and not any(cached)


def test_a_url_is_told_from_a_path():
    assert is_url("s3://bucket/cache") and is_url("file:///tmp/c") and is_url("memory://x")
    assert not is_url("/tmp/cache") and not is_url("cache") and not is_url("C:\\cache")


def test_an_upload_is_whole_or_absent_and_leaves_no_temporary_object(tmp_path):
    remote = Remote(f"memory://essays-{uuid.uuid4().hex}")
    local = tmp_path / "entry.pickle"
    local.write_bytes(seal(b"outputs"))
    remote.push("cells/ab/entry.pickle", local)
    assert remote.fs.ls(remote._path("cells/ab"), detail=False) == [remote._path("cells/ab/entry.pickle")]
    into = tmp_path / "copy" / "entry.pickle"
    assert remote.fetch("cells/ab/entry.pickle", into) and into.read_bytes() == local.read_bytes()
    assert not remote.fetch("cells/ab/absent.pickle", tmp_path / "absent")


def test_a_second_writer_of_an_entry_does_not_replace_the_first(tmp_path):
    """Names are content keys: the first upload stands, and the second sends nothing."""
    remote = Remote(f"memory://essays-{uuid.uuid4().hex}")
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_bytes(seal(b"first run"))
    second.write_bytes(seal(b"second run"))
    remote.push("blobs/x.blob", first)
    remote.push("blobs/x.blob", second)
    assert remote.fs.cat_file(remote._path("blobs/x.blob")) == first.read_bytes()


def test_a_damaged_shared_object_raises_corrupt_and_leaves_the_local_copy_alone(tmp_path):
    remote = Remote(f"memory://essays-{uuid.uuid4().hex}")
    remote.fs.pipe_file(remote._path("cells/ab/k.pickle"), seal(b"outputs")[:-2])
    into = tmp_path / "k.pickle"
    with pytest.raises(Corrupt):
        remote.fetch("cells/ab/k.pickle", into)
    assert not into.exists()


def test_cache_dir_and_essays_cache_take_a_url_or_a_path(monkeypatch, tmp_path):
    from builder.cli import config_from, make_parser

    monkeypatch.setenv("ESSAYS_CACHE", "s3://bucket/essays-cache")
    config = config_from(make_parser().parse_args(["build", str(tmp_path)]))
    assert config.cache_url == "s3://bucket/essays-cache" and config.cache_root == tmp_path.parent / ".essays-cache"
    config = config_from(make_parser().parse_args(["build", str(tmp_path), "--cache-dir", str(tmp_path / "c")]))
    assert config.cache_url is None and config.cache_root == tmp_path / "c"
