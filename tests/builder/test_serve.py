"""`essays serve` with a real watcher and a real port on 127.0.0.1 (and ::1): reload after
an edit, debounce, the error overlay, traversal attempts, bad requests, idle connections,
IPv6, clean exit, never a half-built page.

Waits are generous (the machine may be busy); nothing asserts on a sleep.
"""

from __future__ import annotations

import http.client
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from builder import livereload
from builder.livereload import Handler
from builder.serve import DevServer

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
WAIT = 20.0  # seconds: the longest any one thing may take on a loaded machine
PAGE = "/01-live.html"


def live_essay(word: str, closed: bool = True) -> str:
    end = "</script>\n" if closed else ""
    return f"# Live\n\nThe word is {word}.\n\n<script>\nx = 1\n{end}"


def wait_for(predicate: Callable[[], object], timeout: float = WAIT, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def wait_for_epoch(dev: DevServer, epoch: int) -> None:
    with dev.state:
        if not dev.state.wait_for(lambda: dev.epoch >= epoch, timeout=WAIT):
            pytest.fail(f"no build {epoch} within {WAIT:g} s (epoch is {dev.epoch})")


def get(dev: DevServer, path: str) -> tuple[int, bytes]:
    host, port = dev.address
    conn = http.client.HTTPConnection(host, port, timeout=WAIT)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def raw(dev: DevServer, request: bytes) -> bytes:
    """Send request as it is, then read the whole answer (the server closes after it)."""
    host, port = dev.address
    with socket.create_connection((host, port), timeout=WAIT) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def status_of(answer: bytes) -> int:
    """The status code of a raw answer; it must begin with a status line."""
    assert answer.startswith(b"HTTP/1."), answer[:200]
    return int(answer.split(b" ", 2)[1])


class Events:
    """A client of /_dev/events: next() is the next `build` event's data."""

    def __init__(self, dev: DevServer) -> None:
        host, port = dev.address
        self.conn = http.client.HTTPConnection(host, port, timeout=WAIT)
        self.conn.request("GET", "/_dev/events")
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type") == "text/event-stream"

    def next(self) -> dict:
        data = None
        while True:
            line = self.response.readline()
            if not line:
                raise EOFError("the event stream closed")
            line = line.decode().rstrip("\r\n")
            if line.startswith("data: "):
                data = json.loads(line[len("data: "):])
            elif line == "" and data is not None:
                return data

    def close(self) -> None:
        self.conn.close()


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
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium when run as root")


def in_browser(url: str, steps: Callable) -> None:
    """Open url in headless Chromium and run steps(page), on a thread of its own: Playwright's
    sync API refuses a thread where another Playwright runs (tests/browser keeps one open
    for the whole session). Failures in steps are raised here."""
    errors: list[BaseException] = []

    def main() -> None:
        try:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                try:
                    page = browser.new_page()
                    page.set_default_timeout(WAIT * 1000)
                    page.goto(url)
                    steps(page)
                finally:
                    browser.close()
        except BaseException as exc:  # pytest's Failed too
            errors.append(exc)

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    thread.join(6 * WAIT)
    if thread.is_alive():
        pytest.fail("the browser did not finish")
    if errors:
        raise errors[0]


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


def test_pages_carry_the_reload_script_at_their_epoch(server):
    status, body = get(server, PAGE)
    assert status == 200
    tag = f'<script src="/_dev/reload.js" data-epoch="{server.epoch}" data-server="{server.instance}"></script>'
    assert f"{tag}\n</body>".encode() in body
    status, script = get(server, "/_dev/reload.js")
    assert status == 200 and b"EventSource" in script


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
    status, body = get(server, PAGE)
    assert b"The word is burst4." in body  # the one rebuild saw the last save


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


def test_a_page_left_open_reloads_when_a_restarted_server_has_changes(project, chromium):
    """After a restart the epoch counts from 1 again; the page must still see a new build."""
    project.write("01-live.md", live_essay("alpha"))
    servers = [dev_server(project)]
    servers[0].start()
    port = servers[0].address[1]

    def steps(page) -> None:
        servers[0].stop()
        project.write("01-live.md", live_essay("restarted"))
        servers.append(dev_server(project, port))
        servers[1].start()
        assert servers[1].epoch == servers[0].epoch
        page.wait_for_function("() => document.body.textContent.includes('The word is restarted.')")

    try:
        in_browser(servers[0].url + PAGE.lstrip("/"), steps)
    finally:
        for dev in servers:
            dev.stop()


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
    finally:
        dev.stop()


# ----- paths outside the site -------------------------------------------------------------

TRAVERSALS = [
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/..%2f..%2fetc%2fpasswd",
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/%252e%252e/x",
    "/%252e%252e/%252e%252e/etc/passwd",
    "//etc/passwd",
    "///etc/passwd",
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/..%2fsecret.txt",
    "/_static/../../secret.txt",
    "/./../secret.txt",
    "/leak.txt",  # a symlink inside the site to a file outside it
    "/etc/passwd",  # through a symlink inside the site to /etc
    "/up/secret.txt",  # through a symlink inside the site to the folder above it
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_leaves_the_site(server, project, path):
    secret = project.root / "secret.txt"
    secret.write_text("TOP-SECRET")
    for name, target in (("leak.txt", secret), ("etc", Path("/etc")), ("up", project.root)):
        if not (project.site / name).is_symlink():
            (project.site / name).symlink_to(target)
    status, body = get(server, path)
    assert status in (400, 403, 404), (status, body[:200])
    assert b"TOP-SECRET" not in body and b"root:" not in body


def test_files_inside_the_site_are_served(server):
    assert get(server, "/")[0] == 200
    assert get(server, "/_static/style.css")[0] == 200
    assert get(server, "/nowhere.html")[0] == 404


def test_static_files_revalidate_by_content_across_rebuilds(server, project):
    """Every build copies the static files anew; equal content still answers 304, so a
    reloaded page keeps its copy of plotly.js instead of fetching and compiling it again."""
    host, port = server.address

    def fetch(headers: dict) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection(host, port, timeout=WAIT)
        conn.request("GET", "/_static/style.css", headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        return response

    first = fetch({})
    etag = first.getheader("ETag")
    assert first.status == 200 and etag and first.getheader("Cache-Control") == "no-cache"
    epoch = server.epoch
    project.write("01-live.md", live_essay("beta"))
    wait_for_epoch(server, epoch + 1)
    again = fetch({"If-None-Match": etag})
    assert again.status == 304 and again.getheader("ETag") == etag
    assert fetch({"If-None-Match": '"something-else"'}).status == 200


def test_what_the_watcher_ignores(project):
    project.write("01-live.md", live_essay("alpha"))
    dev = DevServer(project.config(quiet=True), "127.0.0.1", 0)
    try:
        watched = dev.watched()
        assert project.essays in watched
        assert {p.name for p in watched} >= {"templates", "static", "runtime", "shaders"}
        ignored = [project.essays / "01-live.md.swp", project.essays / "01-live.md~", project.essays / ".#01-live.md",
                   project.essays / "__pycache__" / "x.pyc", project.site / "index.html",
                   project.root / ".essays-cache" / "cells" / "ab" / "x.pickle"]
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
    from builder.serve import serve

    project.write("01-live.md", live_essay("alpha"))
    dev = DevServer(project.config(quiet=True), port=0)
    try:
        assert dev.address[0] == "127.0.0.1"
    finally:
        dev.stop()  # never started: stop must not wait for a server loop that never ran
    assert inspect.signature(DevServer).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    assert make_parser().parse_args(["serve"]).host == "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workers_of(essays: Path) -> list[int]:
    """Live `builder.worker` processes running an essay of this folder."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"builder.worker" in argv and str(essays.resolve()).encode() in argv:
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
    command = [sys.executable, "-m", "builder", "serve", str(project.essays), "-o", str(project.site),
               "--port", str(free_port())]
    proc = subprocess.Popen(command, cwd=project.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
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
        project.write("01-live.md", f"# Live\n\nThe word is slow.\n\n<script>\nopen({str(started)!r}, 'w').close()\n"
                                    "import time\ntime.sleep(600)\n</script>\n")
        wait_for(started.exists, what="the slow cell to start")
    finally:
        dev.stop()
    assert workers_of(project.essays) == []
    assert (project.site / "01-live.html").read_text() == good


# ----- never a half-built page -------------------------------------------------------------


def test_never_serves_a_half_built_page(server, project):
    filler = "\n\n".join(f"Paragraph {i} of filler, so a page is more than one write." for i in range(300))
    seen: list[tuple[int, bytes]] = []
    failures: list[str] = []
    done = threading.Event()

    def hammer() -> None:
        while not done.is_set():
            try:
                seen.append(get(server, PAGE))
            except Exception as exc:  # an incomplete read, a reset: all failures here
                failures.append(repr(exc))

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    try:
        for i in range(5):
            epoch = server.epoch
            text = live_essay(f"round{i}").replace("\n\n<script>", f"\n\n{filler}\n\n<script>\ny = {i}\n", 1)
            project.write("01-live.md", text)
            wait_for_epoch(server, epoch + 1)
    finally:
        done.set()
        thread.join(WAIT)
    assert not failures, failures[:3]
    assert len(seen) > 5
    words = set()
    for status, body in seen:
        assert status == 200
        assert body.rstrip().endswith(b"</html>"), body[-200:]
        assert body.count(b"The word is ") == 1
        words.add(body.split(b"The word is ")[1].split(b".")[0])
    assert len(words) >= 2, words  # the requests did span rebuilds


# ----- many clients, bad requests, idle connections ----------------------------------------


def test_a_burst_of_connections_is_queued_not_dropped(project):
    """Connections wait in the kernel's queue until the server accepts them. With room
    for only 5, the SYNs of a burst of 50 were dropped and retried after 1, 3, 7, 15 s."""
    import select

    project.write("01-live.md", live_essay("alpha"))
    dev = dev_server(project)  # listening, but never started: nothing accepts, all must queue
    clients = []
    try:
        host, port = dev.address
        for _ in range(60):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            clients.append(sock)
            sock.connect_ex((host, port))
        pending = set(clients)
        deadline = time.monotonic() + WAIT
        while pending and time.monotonic() < deadline:
            _, writable, _ = select.select([], list(pending), [], 0.1)
            for sock in writable:
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                pending.discard(sock)
        assert not pending, f"{len(pending)} of {len(clients)} connections not queued after {WAIT:g} s"
    finally:
        for sock in clients:
            sock.close()
        dev.stop()


def test_folders_are_not_listed(server, project):
    (project.site / "notes").mkdir()
    (project.site / "notes" / "draft-secret.txt").write_text("x")
    (project.site / "book").mkdir()
    (project.site / "book" / "index.html").write_text("<html><body>The book.</body></html>")
    for path in ("/notes/", "/notes", "/_static/", "/_static", "/notes/?C=M;O=A"):
        status, body = get(server, path)
        assert status == 404, (path, status)
        assert b"draft-secret" not in body and b"style.css" not in body and b"Directory listing" not in body
    assert get(server, "/notes/draft-secret.txt")[0] == 200
    status, body = get(server, "/book/")
    assert status == 200 and b"The book." in body
    assert get(server, "/book")[0] == 301  # to /book/, as before


@pytest.mark.parametrize("path", ["/x%00", "/01-live.html%00", "/%00/_static/style.css", "/_static/style.css%00.txt"])
def test_a_nul_in_the_path_is_a_bad_request(server, path):
    # a NUL after percent-decoding made Path.resolve() raise ValueError: no answer at all
    assert status_of(raw(server, f"GET {path} HTTP/1.0\r\n\r\n".encode())) == 400
    assert status_of(raw(server, f"HEAD {path} HTTP/1.0\r\n\r\n".encode())) == 400
    assert get(server, PAGE)[0] == 200


def test_a_path_no_file_can_have_is_not_found(server, project):
    """Names the system refuses (too long: OSError from is_file) or cannot follow (a symlink
    loop) are missing files, not a dropped connection."""
    (project.site / "loop").symlink_to("loop")
    paths = ["/" + "a/" * 30_000, "/" + "a" * 300, "/" + "a" * 300 + ".html", "/_static/" + "b" * 60_000 + "/",
             "/loop", "/loop/index.html"]
    for path in paths:
        assert status_of(raw(server, f"GET {path} HTTP/1.0\r\n\r\n".encode())) == 404, path[:40]
    assert get(server, PAGE)[0] == 200


@pytest.mark.parametrize("size", [70_000, 16 << 20])
def test_an_over_long_request_line_is_answered_414(server, size):
    """The base class reads 64 KiB of a request line and refuses the rest; the client must
    get the refusal even while it is still sending (16 MiB), not a reset connection."""
    request = b"GET /" + b"a" * size + b" HTTP/1.0\r\nHost: localhost\r\n\r\n"
    assert status_of(raw(server, request)) == 414
    assert get(server, PAGE)[0] == 200


def test_an_idle_connection_is_closed(server, monkeypatch):
    """A connection that sends nothing, or half a request, held a thread open forever."""
    assert Handler.timeout is not None and Handler.timeout > livereload.KEEPALIVE
    monkeypatch.setattr(Handler, "timeout", 0.5)
    host, port = server.address
    for sent in (b"", b"GET /01-live.html HT"):
        with socket.create_connection((host, port), timeout=WAIT) as sock:
            sock.sendall(sent)
            try:
                assert sock.recv(1024) == b""  # closed by the server, with nothing sent
            except TimeoutError:
                pytest.fail(f"the server kept an idle connection open for {WAIT:g} s")
    assert get(server, PAGE)[0] == 200


def test_the_event_stream_outlives_the_idle_timeout(server, project, monkeypatch):
    """/_dev/events stays open for as long as the page does, however short the timeout for
    idle connections: here the keep-alives come at more than twice its interval."""
    monkeypatch.setattr(Handler, "timeout", 0.2)
    monkeypatch.setattr(livereload, "KEEPALIVE", 0.5)
    events = Events(server)
    try:
        first = events.next()
        keepalives = 0
        while keepalives < 3:  # 1.5 s: several idle timeouts
            line = events.response.readline()
            assert line, "the event stream was closed"
            keepalives += line.startswith(b": keep-alive")
        project.write("01-live.md", live_essay("beta"))
        assert events.next()["epoch"] > first["epoch"]
    finally:
        events.close()



# ----- addresses: IPv6, and a warning when others can connect ------------------------------


def ipv6_unavailable() -> str | None:
    """Why ::1 cannot be listened on here, or None."""
    if not socket.has_ipv6:
        return "this Python was built without IPv6"
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError as exc:
        return f"this machine cannot bind ::1: {exc}"
    return None


def start_cli(project, *args: str, prelude: str = "", **popen) -> subprocess.Popen:
    """`essays serve` on the project in a process (and session) of its own; stdout goes to
    serve.out and stderr to serve.err in the project. `prelude`: Python to run first there."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    entry = ["-c", f"import sys\n{prelude}\nfrom builder.cli import main\nsys.exit(main(sys.argv[1:]))"] \
        if prelude else ["-m", "builder"]
    command = [sys.executable, *entry, "serve", str(project.essays), "-o", str(project.site), *args]
    with (project.root / "serve.out").open("w") as out, (project.root / "serve.err").open("w") as err:
        return subprocess.Popen(command, cwd=project.root, env=env, stdout=out, stderr=err,
                                start_new_session=True, **popen)


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


@pytest.mark.parametrize("address, loopback", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("10.0.0.5", False),
    ("2001:db8::1", False), ("fe80::1%eth0", False), ("::ffff:192.168.1.20", False),
])
def test_which_addresses_only_this_machine_can_reach(address, loopback):
    assert livereload.is_loopback(address) is loopback


def test_serving_beyond_this_machine_prints_a_warning(project):
    """A server others can connect to says so, on one line of stderr. No test listens beyond
    loopback: the bound address is taken for one others can reach."""
    project.write("01-live.md", live_essay("alpha"))
    prelude = "import builder.livereload\nbuilder.livereload.is_loopback = lambda address: False"
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


def test_serves_on_ipv6_loopback(project):
    if why := ipv6_unavailable():
        pytest.skip(why)
    project.write("01-live.md", live_essay("alpha"))
    dev = DevServer(project.config(quiet=True), "::1", 0, watch=[project.essays])
    try:
        dev.start()
        port = dev.address[1]
        assert dev.url == f"http://[::1]:{port}/" and dev.loopback
        status, body = get(dev, PAGE)
        assert status == 200 and b"The word is alpha." in body
    finally:
        dev.stop()


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


def test_every_ipv6_address_takes_ipv4_clients_too(monkeypatch):
    """`--host ::` clears IPV6_V6ONLY, which some systems set by default, so IPv4 clients
    reach it as they would 0.0.0.0. Checked on sockets never bound: no test listens on ::."""
    import socketserver

    if why := ipv6_unavailable():
        pytest.skip(why)
    monkeypatch.setattr(socketserver.TCPServer, "server_bind", lambda self: None)
    for host, v6only in (("::", 0), ("::1", 1)):
        httpd = livereload._Server6((host, 0), Handler, bind_and_activate=False)
        try:
            httpd.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as such a system
            httpd.server_bind()
            assert httpd.socket.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == v6only, host
        finally:
            httpd.server_close()



def test_sigint_stops_a_server_started_with_sigint_ignored(project):
    """A shell starts a background job (`essays serve &`) with SIGINT ignored, and Python
    then leaves it so: SIGINT did nothing. The server must stop on it all the same."""
    project.write("01-live.md", live_essay("alpha"))
    proc = start_cli(project, "--port", str(free_port()),
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
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
