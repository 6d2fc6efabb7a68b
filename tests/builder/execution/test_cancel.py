"""Each build stops its own workers: a CancelToken per build, never a flag for the process."""

import threading

import pytest
from support import wait_for

from builder.execution.cancel import Cancelled, CancelToken
from builder.execution.execute import execute_essay
from builder.pipeline.parse import parse_essay


class FakeWorker:
    def __init__(self) -> None:
        self.killed = 0

    def kill(self) -> None:
        self.killed += 1


def test_cancelling_one_token_kills_its_workers_and_no_others():
    mine, theirs = CancelToken(), CancelToken()
    a, b = FakeWorker(), FakeWorker()
    mine.adopt(a)
    theirs.adopt(b)
    mine.cancel()
    assert a.killed == 1 and b.killed == 0
    assert mine.cancelled and not theirs.cancelled
    theirs.check()  # raises nothing: the other build goes on


def test_a_cancelled_token_refuses_new_workers_and_kills_one_that_started_meanwhile():
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        token.check()
    late = FakeWorker()  # started between check() and the cancel
    with pytest.raises(Cancelled):
        token.adopt(late)
    assert late.killed == 1 and token.live() == []


def test_a_released_worker_is_not_killed_by_a_later_cancel():
    token = CancelToken()
    done = FakeWorker()
    token.adopt(done)
    token.release(done)
    token.cancel()
    assert done.killed == 0


SLOW = """\
<script>
x = 1
</script>

<script>
import os, time
open({started!r}, "w").close()
while not os.path.exists({go!r}):
    time.sleep(0.05)
</script>
"""


def test_two_builds_in_one_process_stop_separately(project):
    """Cancelling one build's token ends its worker (and refuses the one it would start to
    recover the essay's state); the other build, in the same process, runs on to the end."""
    go = project.root / "go"
    outcome: dict[str, object] = {}
    tokens = {"a": CancelToken(), "b": CancelToken()}

    def run(name: str) -> None:
        essay = parse_essay(project.write(f"{name}.md", SLOW.format(started=str(project.root / name), go=str(go))))
        try:
            outcome[name] = execute_essay(essay, 60.0, cancel=tokens[name])
        except Cancelled as exc:
            outcome[name] = exc

    threads = {name: threading.Thread(target=run, args=(name,)) for name in tokens}
    for thread in threads.values():
        thread.start()
    wait_for(lambda: (project.root / "a").exists() and (project.root / "b").exists(), "both slow cells to start")
    tokens["a"].cancel(lambda: not threads["a"].is_alive())
    threads["a"].join(timeout=30)
    assert isinstance(outcome.get("a"), Cancelled)
    assert threads["b"].is_alive() and len(tokens["b"].live()) == 1  # b's worker is untouched
    go.touch()
    threads["b"].join(timeout=30)
    results = outcome["b"]
    assert isinstance(results, list) and [r.status for r in results] == ["ok", "ok"]
    assert tokens["a"].live() == [] and tokens["b"].live() == []


def test_a_crash_seen_as_the_build_removes_the_workers_folder_is_told_without_its_output(tmp_path):
    """Cancelling removes the worker's folder while the thread that waits on the worker sees
    it die: the output file it had just listed is gone, and that is not an error of its own."""
    from types import SimpleNamespace

    from builder.execution.worker import Worker

    gone = tmp_path / "cell-3.out"
    folder = SimpleNamespace(glob=lambda pattern: [gone])  # listed, then removed before it is read
    assert Worker._last_output(SimpleNamespace(folder=folder)) == ""  # type: ignore[arg-type]
