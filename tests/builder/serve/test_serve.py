"""`essays serve` end to end: a real watcher, real builds (with their workers) and a real
port on 127.0.0.1 (and ::1), to keep the wiring in builder/serve/watch.py honest: reload after an
edit, debounce, the error overlay, what the watcher ignores, never a half-built page, clean
exit with a cell running, and the command line (SIGINT, SIGTERM, IPv6, the network warning).

The HTTP layer's own tests (paths, ETags, the event stream, listings, bad requests, idle
connections, IPv6 binding) are in test_livereload.py, against a fake rebuild.

Waits are generous (the machine may be busy); nothing asserts on a sleep.
"""

from __future__ import annotations

import http.client
import inspect
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from live_client import WAIT, Events, Hammer, free_port, get, in_browser, ipv6_unavailable, need_chromium, wait_for

from builder.serve.watch import DevServer

pytestmark = pytest.mark.slow  # real builds, a real watcher, worker processes

ROOT = Path(__file__).resolve().parents[3]
PAGE = "/01-live.html"


def live_essay(word: str, closed: bool = True) -> str:
    end = "</script>\n" if closed else ""
    return f"# Live\n\nThe word is {word}.\n\n<script>\nx = 1\n{end}"


def wait_for_epoch(dev: DevServer, epoch: int) -> None:
    # dev.state is the build thread's: notified as each build ends, after the epoch moved
    with dev.state:
        if not dev.state.wait_for(lambda: dev.epoch >= epoch, timeout=WAIT):
            pytest.fail(f"no build {epoch} within {WAIT:g} s (epoch is {dev.epoch})")


def dev_server(project, port: int = 0) -> DevServer:
    """A server watching only the project's essays: the repository's runtime/ and templates
    may be edited while the tests run, and a rebuild for that is not the one a test awaits."""
    return DevServer(project.config(quiet=True), "127.0.0.1", port, watch=[project.essays])


@pytest.fixture
def server(project):
    project.write("01-live.md", live_essay("alpha"))
    dev = dev_server(project)
    try:
        dev.start()
        assert dev.epoch == 1 and not dev.errors
        yield dev
    finally:
        dev.stop()


@pytest.fixture
def chromium() -> None:
    need_chromium()


# ----- reload after an edit ----------------------------------------------------------------


def test_the_event_stream_moves_to_a_new_epoch_after_an_edit(server, project):
    events = Events(server)
    try:
        first = events.next()
        assert first == {"epoch": server.epoch, "errors": [], "server": server.instance}
        project.write("01-live.md", live_essay("beta"))
        after = events.next()
        assert after["epoch"] > first["epoch"] and after["errors"] == []
    finally:
        events.close()
    status, body = get(server, PAGE)
    assert status == 200 and b"The word is beta." in body
    assert f'<script src="/_dev/reload.js" data-epoch="{server.epoch}"'.encode() in body


@pytest.mark.browser
def test_the_page_reloads_after_an_edit(server, project, chromium):
    def steps(page) -> None:
        assert "The word is alpha." in page.text_content("main")
        loads = []
        page.on("load", lambda _: loads.append(1))
        project.write("01-live.md", live_essay("beta"))
        page.wait_for_function("() => document.body.textContent.includes('The word is beta.')")
        assert loads  # a reload, not a change made in place

    in_browser(server.url + PAGE.lstrip("/"), steps)


# ----- debounce ------------------------------------------------------------------------


def test_a_burst_of_saves_gives_one_rebuild(server, project):
    # The window is widened from its default so a busy machine delaying the watcher's
    # thread cannot split the burst; the coalescing is the same code either way.
    server.debounce = 0.5
    before = server.epoch
    for i in range(5):  # five saves within about 50 ms
        project.write("01-live.md", live_essay(f"burst{i}"))
        time.sleep(0.01)
    wait_for_epoch(server, before + 1)
    # let any straggling event arrive and any rebuild it would cause begin
    wait_for(lambda: server.idle() and time.monotonic() - server._last_change > 2.0, what="the server to go quiet")
    assert server.epoch == before + 1
    _, body = get(server, PAGE)
    assert b"The word is burst4." in body  # the one rebuild saw the last save


def test_a_file_a_cell_writes_into_the_essays_never_rebuilds(project):
    # matplotlib's SVG carries a date: each run writes a new file, which once rebuilt forever
    writer = "# W\n\n<script>\nimport time\nopen('line.svg', 'w').write(str(time.time()))\n</script>\n"
    project.write("01-w.md", writer, dedent=False)
    dev = dev_server(project)
    try:
        dev.start()
        before = dev.epoch
        project.write("01-w.md", writer.replace("import time", "import time  # edited"), dedent=False)
        wait_for_epoch(dev, before + 1)
        wait_for(lambda: dev.idle() and time.monotonic() - dev._last_change > 2.0, what="the server to go quiet")
        assert dev.epoch == before + 1
    finally:
        dev.stop()


def test_an_edit_to_the_settings_file_beside_the_essays_rebuilds(project):
    project.write("01-live.md", live_essay("alpha"))
    settings = project.essays.parent / "essays.toml"
    settings.write_text('title = "First title"\n')
    dev = dev_server(project)
    try:
        dev.start()
        assert b"First title" in get(dev, "/index.html")[1]
        settings.write_text('title = "Second title"\n')
        wait_for_epoch(dev, 2)
        assert b"Second title" in get(dev, "/index.html")[1]
    finally:
        dev.stop()


# ----- the error overlay ------------------------------------------------------------------


def test_a_broken_essay_is_reported_and_the_last_good_page_stays(server, project):
    events = Events(server)
    try:
        events.next()
        project.write("01-live.md", live_essay("broken", closed=False))
        state = events.next()
        assert len(state["errors"]) == 1
        assert "01-live.md:5: <script> is never closed" in state["errors"][0]
        status, body = get(server, PAGE)
        assert status == 200 and b"The word is alpha." in body and b"broken" not in body
        project.write("01-live.md", live_essay("fixed"))
        assert events.next()["errors"] == []
    finally:
        events.close()
    assert b"The word is fixed." in get(server, PAGE)[1]


@pytest.mark.browser
def test_the_overlay_names_file_and_line_and_goes_when_fixed(server, project, chromium):
    def steps(page) -> None:
        project.write("01-live.md", live_essay("broken", closed=False))
        alert = page.locator("[role=alert]")
        alert.wait_for()
        assert "01-live.md:5" in alert.text_content()
        assert "The word is alpha." in page.text_content("main")  # the last good page, still served
        project.write("01-live.md", live_essay("fixed"))
        page.wait_for_function("() => document.body.textContent.includes('The word is fixed.')")
        page.wait_for_load_state()
        assert alert.count() == 0

    in_browser(server.url + PAGE.lstrip("/"), steps)


def test_the_rebuilt_line_counts_failing_cells(project, capsys):
    """`rebuilt: ok` was printed while cells failed: only essays that could not be read
    counted. Those alone still go to the overlay."""
    project.write("01-live.md", live_essay("alpha"))
    dev = DevServer(project.config(), "127.0.0.1", 0, watch=[project.essays])
    try:
        dev.rebuild()
        assert capsys.readouterr().out.strip().endswith(": ok")
        project.write("02-fails.md", "# Fails\n\n<script>\n1 / 0\n</script>\n")
        dev.rebuild()
        out, err = capsys.readouterr()
        assert out.strip().endswith(": 1 problem"), out
        assert "02-fails.md:4: cell 1: ZeroDivisionError" in err, err
        assert dev.errors == []
        project.write("03-broken.md", live_essay("broken", closed=False))
        dev.rebuild()
        out, err = capsys.readouterr()
        assert out.strip().endswith(": 2 problems"), out
        assert "02-fails.md:4: cell 1: ZeroDivisionError" in err and "03-broken.md:5: <script> is never closed" in err
        assert len(dev.errors) == 1 and "03-broken.md:5" in dev.errors[0]
        project.write("04-warns.md", "# Warns\n\nSee [there](#nowhere).\n")
        dev.rebuild()
        out, err = capsys.readouterr()
        # a warning is said, never "ok": --strict would refuse it, so it is a problem here
        assert out.strip().endswith(": 3 problems"), out
        assert "04-warns.md:3: no anchor #nowhere" in err, err
    finally:
        dev.stop()


def test_what_the_watcher_ignores(project):
    project.write("01-live.md", live_essay("alpha"))
    dev = DevServer(project.config(quiet=True), "127.0.0.1", 0)
    try:
        watched = dev.watched()
        assert project.essays in watched
        assert {p.name for p in watched} >= {"templates", "static", "runtime", "shaders"}
        ignored = [
            project.essays / "01-live.md.swp",
            project.essays / "01-live.md~",
            project.essays / ".#01-live.md",
            project.essays / "__pycache__" / "x.pyc",
            project.site / "index.html",
            project.root / ".essays-cache" / "cells" / "ab" / "x.pickle",
        ]
        for path in ignored:
            dev.changed(str(path))
            assert not dev._dirty, path
        dev.changed(str(project.essays / "01-live.md"))
        assert dev._dirty
    finally:
        dev.stop()


# ----- address and lifetime ----------------------------------------------------------------


def test_binds_loopback_unless_told_otherwise(project):
    from builder.cli import make_parser
    from builder.serve.watch import serve

    project.write("01-live.md", live_essay("alpha"))
    dev = DevServer(project.config(quiet=True), port=0)
    try:
        assert dev.address[0] == "127.0.0.1"
    finally:
        dev.stop()  # never started: stop must not wait for a server loop that never ran
    assert inspect.signature(DevServer).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    assert make_parser().parse_args(["serve"]).host == "127.0.0.1"


def workers_of(essays: Path) -> list[int]:
    """Live `builder.execution.child` processes running an essay of this folder."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"builder.execution.child" in argv and str(essays.resolve()).encode() in argv:
            found.append(int(proc.name))
    return found


@pytest.mark.parametrize("how", ["SIGINT", "SIGINT to the process group (Ctrl+C)", "SIGTERM"])
def test_stopping_ends_cleanly_with_no_worker_left(project, how):
    started = project.root / "started"
    slow = f"<script>\nopen({str(started)!r}, 'w').close()\nimport time\ntime.sleep(600)\n</script>\n"
    # a cell before the slow one and another slow one after it: once a worker is killed the
    # build recovers the state in a fresh worker and goes on, and that one must go too
    project.write("01-slow.md", f"# Slow\n\n<script>\na = 1\n</script>\n\n{slow}\n{slow}")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = (project.root / "serve.log").open("w")
    command = [
        sys.executable,
        "-m",
        "builder",
        "serve",
        str(project.essays),
        "-o",
        str(project.site),
        "--port",
        str(free_port()),
    ]
    proc = subprocess.Popen(
        command, cwd=project.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_for(started.exists, what="the cell to start")
        assert workers_of(project.essays)  # a worker is mid-cell
        if how.startswith("SIGINT to"):
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, getattr(signal, how))
        sent = time.monotonic()
        code = proc.wait(timeout=WAIT)
        took = time.monotonic() - sent
        output = (project.root / "serve.log").read_text()
        assert code == 0, output
        assert took < 10, f"took {took:.1f} s to stop"
        assert workers_of(project.essays) == [], output
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in workers_of(project.essays):
            os.kill(pid, signal.SIGKILL)
        log.close()


def test_stop_while_a_rebuild_runs_keeps_the_last_good_site(project):
    """stop() kills the cells of a build in progress; that build must not swap in pages
    that show the killed cells."""
    started = project.root / "started"
    project.write("01-live.md", live_essay("alpha"))
    dev = dev_server(project)
    try:
        dev.start()
        good = (project.site / "01-live.html").read_text()
        project.write(
            "01-live.md",
            f"# Live\n\nThe word is slow.\n\n<script>\nopen({str(started)!r}, 'w').close()\n"
            "import time\ntime.sleep(600)\n</script>\n",
        )
        wait_for(started.exists, what="the slow cell to start")
    finally:
        dev.stop()
    assert workers_of(project.essays) == []
    assert (project.site / "01-live.html").read_text() == good


# ----- never a half-built page -------------------------------------------------------------


def test_never_serves_a_half_built_page(server, project):
    filler = "\n\n".join(f"Paragraph {i} of filler, so a page is more than one write." for i in range(300))
    with Hammer(server, PAGE) as hammer:
        for i in range(5):
            epoch = server.epoch
            text = live_essay(f"round{i}").replace("\n\n<script>", f"\n\n{filler}\n\n<script>\ny = {i}\n", 1)
            project.write("01-live.md", text)
            wait_for_epoch(server, epoch + 1)
    words = hammer.check(b"The word is ")
    assert len(words) >= 2, words  # the requests did span rebuilds


# ----- addresses: IPv6, and a warning when others can connect ------------------------------


def start_cli(project, *args: str, prelude: str = "", **popen) -> subprocess.Popen:
    """`essays serve` on the project in a process (and session) of its own; stdout goes to
    serve.out and stderr to serve.err in the project. `prelude`: Python to run first there."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    entry = (
        ["-c", f"import sys\n{prelude}\nfrom builder.cli import main\nsys.exit(main(sys.argv[1:]))"]
        if prelude
        else ["-m", "builder"]
    )
    command = [sys.executable, *entry, "serve", str(project.essays), "-o", str(project.site), *args]
    with (project.root / "serve.out").open("w") as out, (project.root / "serve.err").open("w") as err:
        return subprocess.Popen(
            command, cwd=project.root, env=env, stdout=out, stderr=err, start_new_session=True, **popen
        )


def cli_output(project) -> tuple[str, str]:
    return (project.root / "serve.out").read_text(), (project.root / "serve.err").read_text()


def wait_serving(proc: subprocess.Popen, project) -> str:
    """The URL the command says it serves on, once it does."""
    wait_for(lambda: "serving " in cli_output(project)[0] or proc.poll() is not None, what="`serving ...`")
    out, err = cli_output(project)
    assert proc.poll() is None, (out, err)
    return out.split(" on ", 1)[1].split()[0]


def end_cli(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_serving_beyond_this_machine_prints_a_warning(project):
    """A server others can connect to says so, on one line of stderr. No test listens beyond
    loopback: the bound address is taken for one others can reach."""
    project.write("01-live.md", live_essay("alpha"))
    prelude = "import builder.serve.livereload\nbuilder.serve.livereload.is_loopback = lambda address: False"
    proc = start_cli(project, "--port", str(free_port()), prelude=prelude)
    try:
        url = wait_serving(proc, project)
        wait_for(lambda: "warning" in cli_output(project)[1], what="the warning")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT) == 0
    finally:
        end_cli(proc)
    warnings = [line for line in cli_output(project)[1].splitlines() if "warning" in line]
    assert len(warnings) == 1, warnings
    for words in (url, "development preview server", "not for production", "reachable by others on the network"):
        assert words in warnings[0]


def test_the_command_line_serves_on_ipv6_and_prints_its_url(project):
    if why := ipv6_unavailable():
        pytest.skip(why)
    project.write("01-live.md", live_essay("alpha"))
    port = free_port()
    proc = start_cli(project, "--host", "::1", "--port", str(port))
    try:
        url = wait_serving(proc, project)
        assert url == f"http://[::1]:{port}/"
        conn = http.client.HTTPConnection("::1", port, timeout=WAIT)
        try:
            conn.request("GET", PAGE)
            assert conn.getresponse().status == 200
        finally:
            conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT) == 0
    finally:
        end_cli(proc)
    assert "warning" not in cli_output(project)[1]  # ::1 is this machine only


def test_sigint_stops_a_server_started_with_sigint_ignored(project):
    """A shell starts a background job (`essays serve &`) with SIGINT ignored, and Python
    then leaves it so: SIGINT did nothing. The server must stop on it all the same."""
    project.write("01-live.md", live_essay("alpha"))
    proc = start_cli(
        project, "--port", str(free_port()), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)
    )
    try:
        wait_serving(proc, project)
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"SIGINT did not stop the server within {WAIT:g} s")
        assert code == 0, cli_output(project)
        assert "stopping" in cli_output(project)[0]
    finally:
        end_cli(proc)
    assert workers_of(project.essays) == []


def test_the_rebuilt_line_counts_warnings_rather_than_saying_ok():
    from builder.serve.watch import build_status

    assert build_status([], []) == "ok"
    assert build_status([], ["a"]) == "1 warning"
    assert build_status(["p", "q"], ["a", "b"]) == "2 problems, 2 warnings"
