"""Cells run in a worker process per essay: crashes, timeouts and names stay inside it."""

import os

from builder.execute import execute_essay
from builder.parse import parse_essay


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
