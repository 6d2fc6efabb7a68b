"""Essays built side by side share the cores: each worker's numerical libraries get their
share of threads, unless the author set the count."""

import pytest

from builder.execution.execute import execute_essay
from builder.execution.worker import THREAD_VARIABLES, library_threads, threads_per_worker
from builder.pipeline.parse import parse_essay

READ = """\
<script>
import os
print([os.environ.get(name) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")])
</script>
"""


@pytest.mark.parametrize(
    ("jobs", "cores", "share"),
    [(1, 8, None), (2, 2, 1), (2, 8, 4), (3, 8, 2), (8, 2, 1), (0, 4, None)],
)
def test_each_worker_gets_its_share_of_the_cores(jobs, cores, share):
    assert threads_per_worker(jobs, cores) == share


def test_the_environment_names_every_library_with_at_least_one_thread():
    assert library_threads(0) == dict.fromkeys(THREAD_VARIABLES, "1")
    assert set(library_threads(3).values()) == {"3"}


def test_a_workers_cells_see_their_share(project, monkeypatch):
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    results = execute_essay(parse_essay(project.write("a.md", READ)), 30.0, threads=1)
    assert results[0].outputs[0].text == "['1', '1', '1']"


def test_alone_a_worker_leaves_the_libraries_their_default(project, monkeypatch):
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    results = execute_essay(parse_essay(project.write("a.md", READ)), 30.0)
    assert results[0].outputs[0].text == "[None, None, None]"


def test_an_authors_own_setting_wins(project, monkeypatch):
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    results = execute_essay(parse_essay(project.write("a.md", READ)), 30.0, threads=1)
    assert results[0].outputs[0].text == "['1', '3', '1']"
