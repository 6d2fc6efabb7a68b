"""Cells run in a worker process per essay: crashes, timeouts and names stay inside it."""

import os

from support import alive, wait_for

from builder.execution.execute import execute_essay
from builder.pipeline.parse import parse_essay


def run(project, name, text, timeout=30.0):
    return execute_essay(parse_essay(project.write(name, text)), timeout)


def test_cells_run_in_order_in_the_essay_folder(project):
    project.write("data/words.txt", "alpha\nbeta\n")
    results = run(
        project,
        "a.md",
        """\
        <script>
        words = open("data/words.txt").read().split()
        </script>

        <script>
        n = len(words)
        </script>
        """,
    )
    assert [r.status for r in results] == ["ok", "ok"]
    assert results[1].outputs[0].text == "2"


def test_names_do_not_leak_between_essays(project):
    run(project, "a.md", "<script>\nsecret = 1\n</script>\n")
    results = run(project, "b.md", "<script>\nsecret\n</script>\n")
    assert results[0].status == "error" and "NameError" in results[0].outputs[-1].text


def test_os_exit_is_contained_and_state_is_rebuilt(project):
    results = run(
        project,
        "a.md",
        """\
        <script>
        x = 5
        </script>

        <script>
        import os
        os._exit(7)
        </script>

        <script>
        y = x + 1
        </script>
        """,
    )
    assert [r.status for r in results] == ["ok", "error", "ok"]
    assert "exit code 7" in results[1].outputs[0].text
    assert "rebuilt" in results[1].outputs[-1].text and results[1].outputs[-1].kind == "note"
    assert results[2].outputs[0].text == "6"


def test_runaway_cell_times_out_and_the_essay_goes_on(project):
    results = run(
        project,
        "a.md",
        """\
        <script>
        x = 1
        </script>

        <script data-timeout="0.5">
        while True:
            pass
        </script>

        <script>
        x + 1
        </script>
        """,
    )
    assert [r.status for r in results] == ["ok", "timeout", "ok"]
    assert results[1].outputs[0].text == "timed out after 0.5 s"
    assert results[2].outputs[0].text == "2"


def test_a_cell_that_breaks_the_rebuild_says_state_was_lost(project):
    flag = project.root / "ran-once"
    results = run(
        project,
        "a.md",
        f"""\
        <script>
        import os
        if os.path.exists({str(flag)!r}):
            raise RuntimeError("second run")
        open({str(flag)!r}, "w").close()
        x = 1
        </script>

        <script data-timeout="0.5">
        while True: pass
        </script>

        <script>
        print(x)
        </script>
        """,
    )
    assert results[1].status == "timeout"
    assert "state was lost" in results[1].outputs[-1].text
    assert results[2].status == "error"


def test_builder_process_is_untouched(project):
    before = os.getcwd()
    run(project, "a.md", "<script>\nimport os\nos.chdir('/')\n</script>\n")
    assert os.getcwd() == before


# ----- processes a cell starts end with its essay (issue 16, items 5 and 6) ---------------

# a grandchild in a session of its own, by a double fork and setsid: out of the worker's
# process group, and orphaned at once; escape() returns once it has written its pid
DOUBLE_FORK = """\
def escape(path):
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            with open(path + ".new", "w") as f:
                f.write(str(os.getpid()))
            os.rename(path + ".new", path)
            time.sleep(313)
        os._exit(0)
    while not os.path.exists(path):
        time.sleep(0.01)
"""


def pids_in(path, count=1):
    wait_for(lambda: path.exists() and len(path.read_text().split()) == count, f"{path.name} to be written")
    return [int(p) for p in path.read_text().split()]


def test_processes_in_new_sessions_end_with_the_essay(project, strays):
    popen, forked = project.root / "popen", project.root / "forked"
    strays.extend([popen, forked])
    results = run(
        project,
        "a.md",
        f"""\
        <script>
        import subprocess, pathlib
        child = subprocess.Popen(["sleep", "313"], start_new_session=True)
        pathlib.Path({str(popen)!r}).write_text(str(child.pid))
        </script>

        <script>
        {DOUBLE_FORK.replace(chr(10), chr(10) + " " * 8)}
        escape({str(forked)!r})
        </script>
        """,
    )
    assert [r.status for r in results] == ["ok", "ok"], results
    for path in (popen, forked):
        pid = pids_in(path)[0]
        wait_for(lambda pid=pid: not alive(pid), f"the process in {path.name} to end with its essay", timeout=5)


def test_a_timed_out_cell_takes_its_new_session_processes(project, strays):
    forked = project.root / "forked"
    strays.append(forked)
    results = run(
        project,
        "a.md",
        f"""\
        <script data-timeout="2">
        {DOUBLE_FORK.replace(chr(10), chr(10) + " " * 8)}
        escape({str(forked)!r})
        while True:
            pass
        </script>

        <script>
        x = 1
        </script>
        """,
    )
    assert [r.status for r in results] == ["timeout", "ok"]
    pid = pids_in(forked)[0]
    wait_for(lambda: not alive(pid), "the timed-out cell's grandchild to end with its worker", timeout=5)


def test_a_crashed_worker_takes_its_new_session_processes(project, strays):
    forked = project.root / "forked"
    strays.append(forked)
    results = run(
        project,
        "a.md",
        f"""\
        <script>
        {DOUBLE_FORK.replace(chr(10), chr(10) + " " * 8)}
        escape({str(forked)!r})
        import os
        os._exit(3)
        </script>
        """,
        timeout=10,  # today the grandchild holds the worker's line open: the cell times out
    )
    assert results[0].status == "error" and "exit code 3" in results[0].outputs[0].text
    pid = pids_in(forked)[0]
    wait_for(lambda: not alive(pid), "the crashed worker's grandchild to end", timeout=5)


def test_a_forked_child_that_returns_never_answers_for_the_cell(project):
    # the child returns into the kernel and finishes the cell late: today its reply stood
    # in for the next cell's
    results = run(
        project,
        "a.md",
        """\
        <script>
        import os, time
        pid = os.fork()
        if pid == 0:
            time.sleep(0.5)
        </script>

        <script>
        time.sleep(1.5)
        mine = "second"
        </script>
        """,
    )
    assert [r.status for r in results] == ["ok", "ok"]
    assert [(o.label, o.text) for o in results[0].outputs] != [("pid", "0")]
    assert [(o.label, o.text) for o in results[1].outputs] == [("mine", "'second'")]


def test_a_forked_child_that_finishes_first_is_not_the_cells_result(project):
    results = run(
        project,
        "a.md",
        """\
        <script>
        import os
        pid = os.fork()
        if pid:
            os.waitpid(pid, 0)
        </script>

        <script>
        after = pid > 0
        </script>
        """,
    )
    assert [r.status for r in results] == ["ok", "ok"]
    assert [o.text for o in results[0].outputs if o.label == "pid"] != ["0"]
    assert [(o.label, o.text) for o in results[1].outputs] == [("after", "True")]


def test_a_killed_worker_is_summed_up_in_one_line(project):
    results = run(project, "a.md", "<script>\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n</script>\n")
    assert results[0].status == "error" and "killed by SIGKILL" in results[0].outputs[0].text
    assert results[0].summary == "crashed: Killed (SIGKILL)"
