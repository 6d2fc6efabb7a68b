"""Essays as Dask tasks (builder/execution/cluster.py): the same site as the local executor."""

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from builder.build import build
from builder.config import Config
from builder.execution import cluster
from builder.execution.cancel import Cancelled, CancelToken
from builder.execution.cluster import check_executor

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "cluster"


def test_executor_values_are_checked():
    for good in ("local", "local-cluster", "local-cluster:2", "dask://scheduler:8786"):
        assert check_executor(good) == good
    for bad in ("cluster", "local-cluster:0", "local-cluster:two", "dask://scheduler", "tcp://x:1"):
        with pytest.raises(ValueError):
            check_executor(bad)


def site_files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


@pytest.fixture
def essays(tmp_path: Path) -> Path:
    folder = tmp_path / "essays"
    shutil.copytree(FIXTURE, folder)
    return folder


@pytest.mark.slow
def test_a_local_cluster_of_two_workers_builds_the_site_a_local_build_does(essays, tmp_path):
    pytest.importorskip("distributed", reason="the cluster executor needs the `cluster` extra")
    local = build(Config(essays, tmp_path / "local", use_cache=False))
    report = tmp_path / "report.json"
    on_cluster = build(
        Config(essays, tmp_path / "cluster", report=report, executor="local-cluster:2", cache_dir=tmp_path / "cache")
    )
    assert [b.status for b in on_cluster.essays] == [b.status for b in local.essays] == ["ok", "ok", "ok"]
    assert site_files(tmp_path / "cluster") == site_files(tmp_path / "local")
    cells = [c for e in json.loads(report.read_text())["essays"] for c in e["cells"]]
    assert len(cells) == 7 and not any(c["cached"] for c in cells)
    # the tasks wrote their entries into the builder's cache: a local rebuild runs no cell
    again = build(Config(essays, tmp_path / "again", cache_dir=tmp_path / "cache"))
    assert all(r.cached for b in again.essays for r in b.results)
    assert site_files(tmp_path / "again") == site_files(tmp_path / "local")


@pytest.mark.slow
def test_a_cluster_rebuild_that_the_cache_answers_starts_no_cluster(essays, tmp_path, monkeypatch):
    build(Config(essays, tmp_path / "first", cache_dir=tmp_path / "cache"))

    def no_cluster(executor):
        raise AssertionError(f"a cluster was started for {executor}")

    monkeypatch.setattr(cluster, "dask_client", no_cluster)
    again = build(Config(essays, tmp_path / "again", executor="local-cluster:2", cache_dir=tmp_path / "cache"))
    assert all(r.cached for b in again.essays for r in b.results)
    assert site_files(tmp_path / "again") == site_files(tmp_path / "first")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone as far as its cells go
    status = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return status != "Z"


@pytest.mark.slow
def test_stopping_a_cluster_build_ends_the_cells_running_on_its_workers(tmp_path, strays):
    """Ctrl+C cancels the build's token: the futures are cancelled and each task kills the
    worker process running its cells, as the local executor's stop does."""
    pytest.importorskip("distributed", reason="the cluster executor needs the `cluster` extra")
    essays = tmp_path / "essays"
    essays.mkdir()
    pid_file = tmp_path / "pid"
    strays.append(pid_file)
    (essays / "01-long.md").write_text(
        f"# Long\n\n<script>\nimport os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(120)\n</script>\n",
        encoding="utf-8",
    )
    token = CancelToken()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            build(Config(essays, tmp_path / "site", executor="local-cluster:1", use_cache=False), cancel=token)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    pid = int(pid_file.read_text())
    stopped = time.monotonic()
    token.cancel(lambda: not thread.is_alive(), grace=30)
    thread.join(30)
    assert not thread.is_alive() and failure and isinstance(failure[0], Cancelled)
    while alive(pid) and time.monotonic() < stopped + 10:
        time.sleep(0.1)
    assert not alive(pid), "the cell's process outlived the stop"
    assert not (tmp_path / "site").exists(), "a stopped build writes no site"


@pytest.mark.slow
def test_an_essay_whose_dask_worker_dies_runs_again_elsewhere(tmp_path, strays):
    """Killing the Dask worker mid-essay loses its task; the scheduler runs it again on
    another worker, and the site is whole."""
    pytest.importorskip("distributed", reason="the cluster executor needs the `cluster` extra")
    essays = tmp_path / "essays"
    essays.mkdir()
    log = tmp_path / "guards"
    strays.append(log)
    (essays / "01-dies.md").write_text(
        f"# Dies\n\n<script>\nimport os, time\nopen({str(log)!r}, 'a').write(f'{{os.getppid()}} ')\n"
        "time.sleep(3)\nprint('survived')\n</script>\n",
        encoding="utf-8",
    )
    result: list[object] = []
    thread = threading.Thread(
        target=lambda: result.append(build(Config(essays, tmp_path / "site", executor="local-cluster:2")))
    )
    thread.start()
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    guard = int(log.read_text().split()[0])  # the cell's kernel's parent: its worker's guard
    dask_worker = int(Path(f"/proc/{guard}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.kill(dask_worker, signal.SIGKILL)
    thread.join(120)
    assert not thread.is_alive() and result
    assert len(log.read_text().split()) == 2, "the essay ran again"
    page = (tmp_path / "site" / "01-dies.html").read_text(encoding="utf-8")
    assert "survived" in page
