"""Essays as Dask tasks: `essays build --executor local-cluster[:N]` or `dask://HOST:PORT`.

Once build.link_essays() has collected the modules, each essay's inputs are known (its
cells, their keys, the modules' text), so the essays are independent tasks. A task runs on
a Dask worker what the local executor runs on a thread: execute_essay(), whose cells run in
a worker process of their own started there, with the same timeouts, restarts and cache
(the task carries the Cache; a shared cache URL gives every Dask worker the same entries).
It returns the records, which pickle.

What stays on the builder: progress (an essay's line starts when it is sent and ends when
its records come back; the bars of iterated cells are not relayed), the site, written and
swapped once every essay is back, and the stop. Dask cannot interrupt a running task, so a
stop sets a distributed.Event that each task watches and answers by cancelling its own
CancelToken, which kills its worker process; the futures are cancelled too. A Dask worker
that dies mid-essay loses its task, which the scheduler runs again elsewhere; its cell
processes end with it (their guard polls for its parent, procs.py).

dask and distributed are optional (the `cluster` extra) and imported here only when a
cluster is asked for.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.cache.entries import Cache
from builder.errors import UsageError
from builder.pipeline.parse import Essay
from builder.records import CellResult

from .cancel import CancelToken
from .execute import cached_essay, execute_essay

if TYPE_CHECKING:
    from builder.config import Config
    from builder.progress import Reporter
    from builder.records import EssayBuild

LOCAL_CLUSTER = "local-cluster"
POLL = 0.2  # seconds: how often the builder looks at its stop flag while tasks run
WATCH = 0.5  # seconds: how often a task looks at the build's stop event


@dataclass
class EssayTask:
    """What one essay's task carries to its Dask worker."""

    essay: Essay
    keys: list[str]
    timeout: float
    cache: Cache | None
    modules: Path | None  # the builder's folder of modules: used where the worker sees it
    module_texts: dict[str, str]  # the same modules, written out where it does not
    stop_event: str  # the distributed.Event that says the build is stopping


@dataclass
class EssayOutcome:
    """What comes back: the records, and what the task's copy of the cache found."""

    results: list[CellResult]
    seconds: float
    worker: str
    corrupt: list[str] = field(default_factory=list)
    unwritable: str | None = None
    remote_error: str | None = None


def check_executor(text: str) -> str:
    """An --executor value: `local`, `local-cluster`, `local-cluster:N` or `dask://HOST:PORT`;
    ValueError says what is wrong."""
    if text in ("local", LOCAL_CLUSTER):
        return text
    if text.startswith(f"{LOCAL_CLUSTER}:"):
        n = text.partition(":")[2]
        if n.isdigit() and int(n) > 0:
            return text
        raise ValueError(f'local-cluster takes a number of workers above 0, not "{n}"')
    if text.startswith("dask://"):
        host, _, port = text.removeprefix("dask://").rpartition(":")
        if host and port.isdigit():
            return text
        raise ValueError(f'a scheduler is dask://HOST:PORT, not "{text}"')
    raise ValueError(f'must be local, local-cluster[:N] or dask://HOST:PORT, not "{text}"')


def _distributed() -> Any:
    """The distributed package, imported when a cluster is used; Any, as its functions are
    untyped (they stay behind the typed functions of this module)."""
    import distributed

    return distributed


@contextmanager
def dask_client(executor: str) -> Iterator[Any]:
    """A distributed.Client for `executor`: a LocalCluster started (and closed) here, or
    the scheduler at dask://HOST:PORT."""
    try:
        distributed = _distributed()
    except ImportError:
        raise UsageError(
            f"--executor {executor} needs dask and distributed: pip install 'interactive-essays[cluster]'"
        ) from None
    if executor.startswith("dask://"):
        with distributed.Client(f"tcp://{executor.removeprefix('dask://')}", timeout=30) as client:
            yield client
        return
    n = int(executor.partition(":")[2] or 0) or os.cpu_count() or 1
    # one thread per Dask worker: each runs one essay at a time, as one core would;
    # no dashboard, which would need bokeh and a port
    with (
        distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def execute_on_cluster(
    runnable: list[EssayBuild],
    config: Config,
    cache: Cache | None,
    reporter: Reporter,
    modules: Path | None,
    cancel: CancelToken,
) -> None:
    """Run each essay of `runnable` as a Dask task and keep its records on its EssayBuild."""
    distributed = _distributed()
    texts = {p.stem: p.read_text(encoding="utf-8") for p in modules.glob("*.py")} if modules else {}
    to_send = []
    for b in runnable:
        assert b.essay is not None
        started = time.monotonic()
        hits = cached_essay(b.essay, config.cell_timeout, cache, modules, keys=b.keys) if cache else None
        if hits is None:
            to_send.append(b)
            continue
        reporter.essay_started(b.essay)
        b.results, b.seconds = hits, time.monotonic() - started
        reporter.essay_done(b.essay, b.results, b.seconds)
    if not to_send:
        return  # every cell came from the cache: no cluster to start
    with dask_client(config.executor) as client:
        stop = f"essays-stop-{uuid.uuid4().hex}"
        event = distributed.Event(stop, client=client)
        futures = {}
        for b in to_send:
            assert b.essay is not None
            task = EssayTask(b.essay, list(b.keys), config.cell_timeout, cache, modules, texts, stop)
            # pure=False: an essay's run is not a value Dask may reuse from another build
            futures[client.submit(run_essay_task, task, pure=False, key=f"essay-{b.essay.slug}-{stop}")] = b
            reporter.essay_started(b.essay)
        pending = set(futures)
        try:
            while pending:
                cancel.check()
                done = {f for f in pending if f.done()}
                if not done:
                    time.sleep(POLL)
                    continue
                pending -= done
                for future in done:
                    b = futures[future]
                    outcome: EssayOutcome = future.result()
                    b.results, b.seconds = outcome.results, outcome.seconds
                    if cache is not None:
                        merge_cache_news(cache, outcome)
                    assert b.essay is not None
                    reporter.essay_done(b.essay, b.results, b.seconds)
        except BaseException:
            # Ctrl+C or a task that failed: every task's cells stop now
            event.set()
            client.cancel(list(futures), force=True)
            raise


def merge_cache_news(cache: Cache, outcome: EssayOutcome) -> None:
    """What a task's copy of the cache found, told to the builder's: said once, in report()."""
    for what in outcome.corrupt:
        cache.found_corrupt(what)
    if outcome.unwritable is not None:
        cache.write_failed(outcome.unwritable)
    if outcome.remote_error is not None and cache.remote_error is None:
        cache.remote_error = outcome.remote_error


def run_essay_task(task: EssayTask) -> EssayOutcome:
    """On a Dask worker: one essay, its cells in a worker process started here."""
    distributed = _distributed()
    token = CancelToken()
    finished = threading.Event()

    # made here, in the task's own thread, where distributed finds its worker
    event = distributed.Event(task.stop_event)

    def watch() -> None:
        while not finished.is_set():
            try:
                stopping = event.wait(WATCH)
            except Exception:  # the worker is closing, or the scheduler out of reach for now
                finished.wait(WATCH)
                continue
            if stopping:
                token.cancel(finished.is_set)
                return

    watcher = threading.Thread(target=watch, name="essays-stop-watch", daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        with _modules_here(task) as modules:
            results = execute_essay(
                task.essay, task.timeout, cache=task.cache, modules=modules, keys=task.keys, cancel=token
            )
    finally:
        finished.set()
    cache = task.cache
    return EssayOutcome(
        results,
        time.monotonic() - started,
        socket.gethostname(),
        corrupt=cache.corrupt_found() if cache is not None else [],
        unwritable=cache.unwritable if cache is not None else None,
        remote_error=cache.remote_error if cache is not None else None,
    )


@contextmanager
def _modules_here(task: EssayTask) -> Iterator[Path | None]:
    """The modules' folder as this Dask worker sees it: the builder's own on the same
    machine (or a shared file system), else a copy written from the task."""
    if task.modules is None or task.modules.is_dir():
        yield task.modules
        return
    with tempfile.TemporaryDirectory(prefix="essays-modules-") as folder:
        for name, text in task.module_texts.items():
            (Path(folder) / f"{name}.py").write_text(text, encoding="utf-8")
        yield Path(folder)
