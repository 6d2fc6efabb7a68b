"""Failures cross the worker's line as typed fields, never as words to match."""

import pickle

from builder.cache.places import Places
from builder.execution.child import _restore
from builder.execution.protocol import Failure, FailureKind, Restore, Restored
from runtime.kernel import Kernel


def restore(tmp_path, name: str) -> Failure | None:
    kernel = Kernel()
    return _restore(kernel, Restore(str(tmp_path / name), str(tmp_path / "blobs")), Places(""))


def test_a_corrupt_snapshot_is_recognised_by_its_type(tmp_path):
    (tmp_path / "blobs").mkdir()
    (tmp_path / "bad.snapshot").write_bytes(b"not a sealed file at all")
    failure = restore(tmp_path, "bad.snapshot")
    assert failure is not None and failure.kind is FailureKind.CORRUPT_SNAPSHOT
    assert failure.error_type == "Corrupt" and "no valid header" in failure.message


def test_a_missing_snapshot_is_a_failure_of_another_kind(tmp_path):
    failure = restore(tmp_path, "missing.snapshot")
    assert failure is not None and failure.kind is FailureKind.SNAPSHOT_FAILED
    assert failure.error_type == "FileNotFoundError"


def test_the_reply_pickles_with_its_kind(tmp_path):
    """The protocol is pickled over a socket: the kind survives as the enum member."""
    sent = Restored(Failure(FailureKind.CORRUPT_SNAPSHOT, "Corrupt", "the blob b does not match its name"))
    received = pickle.loads(pickle.dumps(sent))
    assert received == sent and received.error.kind is FailureKind.CORRUPT_SNAPSHOT
    assert str(received.error) == "Corrupt: the blob b does not match its name"
