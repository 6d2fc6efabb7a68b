"""The live-reload layer (builder/serve/livereload.py) on a real port on 127.0.0.1 (and ::1), with
a fake rebuild: files written by hand into a new folder, swapped in under the lock, then
`reloaded(errors)`. No essay is built, no watcher runs, no worker starts: these are the HTTP
tests (paths, ETags, the event stream, listings, bad requests, idle connections, IPv6).
test_serve.py keeps the end-to-end ones, with real builds.

Waits are generous (the machine may be busy); nothing asserts on a sleep.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
import socket
import struct
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from live_client import WAIT, Events, Hammer, fetch, get, in_browser, ipv6_unavailable, need_chromium, raw, status_of

from builder.serve import livereload
from builder.serve.livereload import Handler, LiveReloadServer, host_port

PAGE = "/01-live.html"
STYLE = "body { color: #222; }\n"


def page(word: str, filler: str = "") -> str:
    return (
        f"<!doctype html>\n<html><head><title>Live</title></head>\n"
        f"<body><main><p>The word is {word}.</p>{filler}</main></body>\n</html>\n"
    )


class FakeSite:
    """A folder rebuilt as a build does it: the new folder written beside the old one and
    swapped in by two renames under `lock` (builder/pipeline/writer.py), then the server told."""

    def __init__(self, parent: Path) -> None:
        self.parent = parent
        self.path = parent / "site"
        self.lock = threading.Lock()
        self._count = 0

    def rebuild(
        self,
        word: str,
        server: LiveReloadServer | None = None,
        errors: Sequence[str] = (),
        style: str = STYLE,
        filler: str = "",
        locked: bool = True,
    ) -> None:
        """`locked=False`: the caller holds the lock already."""
        self._count += 1
        new = self.parent / f".site-new-{self._count}"
        (new / "_static").mkdir(parents=True)
        (new / "01-live.html").write_text(page(word, filler), encoding="utf-8")
        (new / "index.html").write_text(page("index"), encoding="utf-8")
        (new / "_static" / "style.css").write_text(style, encoding="utf-8")
        # a copy made by each build: a new mtime, whatever the clock's resolution
        os.utime(new / "_static" / "style.css", ns=(self._count * 10**9, self._count * 10**9))
        old = self.parent / f".site-old-{self._count}"
        with self.lock if locked else contextlib.nullcontext():
            if self.path.exists():
                os.rename(self.path, old)
            os.rename(new, self.path)
        shutil.rmtree(old, ignore_errors=True)
        if server is not None:
            server.reloaded(errors)


@pytest.fixture
def site(tmp_path: Path) -> FakeSite:
    fake = FakeSite(tmp_path)
    fake.rebuild("alpha")
    return fake


def start(site: FakeSite, host: str = "127.0.0.1", port: int = 0) -> LiveReloadServer:
    """Serving, after the first build, as serve/watch.py starts it."""
    live = LiveReloadServer(site.path, host, port, lock=site.lock)
    live.reloaded([])
    live.start()
    return live


@pytest.fixture
def server(site: FakeSite):
    live = start(site)
    try:
        assert live.epoch == 1 and not live.errors
        yield live
    finally:
        live.shutdown()


# ----- reload events -----------------------------------------------------------------------


def test_reloaded_moves_the_event_stream_to_a_new_epoch(server, site):
    events = Events(server)
    try:
        first = events.next()
        assert first == {"epoch": server.epoch, "errors": [], "server": server.instance}
        site.rebuild("beta", server)
        after = events.next()
        assert after == {"epoch": first["epoch"] + 1, "errors": [], "server": server.instance}
    finally:
        events.close()
    status, body = get(server, PAGE)
    assert status == 200 and b"The word is beta." in body


def test_the_event_stream_carries_the_errors_until_they_are_gone(server, site):
    """The overlay's data: a failed rebuild keeps the old folder and names its problems."""
    events = Events(server)
    try:
        events.next()
        server.reloaded(["01-live.md:5: <script> is never closed"])
        assert events.next()["errors"] == ["01-live.md:5: <script> is never closed"]
        assert b"The word is alpha." in get(server, PAGE)[1]  # the last good page stays
        site.rebuild("fixed", server)
        assert events.next()["errors"] == []
    finally:
        events.close()


def test_pages_carry_the_reload_script_at_their_epoch(server, site):
    status, body = get(server, PAGE)
    assert status == 200
    tag = f'<script src="/_dev/reload.js" data-epoch="{server.epoch}" data-server="{server.instance}"></script>'
    assert f"{tag}\n</body>".encode() in body
    assert body.count(b"/_dev/reload.js") == 1
    status, script = get(server, "/_dev/reload.js")
    assert status == 200 and b"EventSource" in script
    site.rebuild("beta", server)
    assert f'data-epoch="{server.epoch}"'.encode() in get(server, PAGE)[1]


def test_a_page_without_a_body_end_gets_the_script_at_its_end(server, site):
    (site.path / "bare.html").write_text("<p>No body tag.</p>", encoding="utf-8")
    status, body = get(server, "/bare.html")
    assert status == 200
    assert body.startswith(b'<p>No body tag.</p><script src="/_dev/reload.js"') and body.endswith(b"</script>")


def test_shutdown_ends_the_event_streams_and_the_epoch(site):
    live = start(site)
    events = Events(live)
    try:
        events.next()
        live.shutdown()
        with pytest.raises(EOFError):
            events.next()
        assert live.reloaded(["late"]) == 1 and live.errors == []  # nothing moves after it
        live.shutdown()  # a second time is nothing
    finally:
        events.close()
        live.shutdown()


@pytest.mark.browser
def test_a_page_left_open_reloads_when_a_restarted_server_has_changes(site):
    """After a restart the epoch counts from 1 again; the page must still see a new build."""
    need_chromium()
    servers = [start(site)]
    port = servers[0].address[1]

    def steps(page) -> None:
        servers[0].shutdown()
        site.rebuild("restarted")
        servers.append(start(site, port=port))
        assert servers[1].epoch == servers[0].epoch
        page.wait_for_function("() => document.body.textContent.includes('The word is restarted.')")

    try:
        in_browser(servers[0].url + PAGE.lstrip("/"), steps)
    finally:
        for live in servers:
            live.shutdown()


# ----- files and the lock ------------------------------------------------------------------


def test_files_inside_the_site_are_served(server):
    assert get(server, "/")[0] == 200
    assert get(server, "/_static/style.css")[0] == 200
    assert get(server, "/nowhere.html")[0] == 404


@pytest.mark.parametrize("path", ["/01-live.html", "/", "/_static/style.css", "/_dev/reload.js", "/nowhere.html"])
def test_every_response_makes_the_page_cross_origin_isolated(server, path):
    """COOP and COEP on pages, files, the server's own scripts and errors alike: a page is
    isolated only if its document is, and a worker script under COEP must carry it too."""
    response = fetch(server, path)[2]
    assert response.getheader("Cross-Origin-Opener-Policy") == "same-origin"
    assert response.getheader("Cross-Origin-Embedder-Policy") == "require-corp"


def test_an_event_stream_is_cross_origin_isolated_too(server):
    events = Events(server)
    try:
        assert events.response.getheader("Cross-Origin-Embedder-Policy") == "require-corp"
    finally:
        events.close()


def test_the_root_is_looked_up_for_every_request(tmp_path):
    first, second = FakeSite(tmp_path / "a"), FakeSite(tmp_path / "b")
    for fake, word in ((first, "first"), (second, "second")):
        fake.parent.mkdir()
        fake.rebuild(word)
    current = [first.path]
    live = LiveReloadServer(lambda: current[0], port=0)
    try:
        live.start()
        assert b"The word is first." in get(live, PAGE)[1]
        current[0] = second.path
        assert b"The word is second." in get(live, PAGE)[1]
        assert live.root == second.path
    finally:
        live.shutdown()


def test_a_file_is_opened_only_under_the_lock(server, site):
    """While a rebuild holds the lock (mid-swap: no folder at all), a request waits, then
    gets the new page whole."""
    answers: list[tuple[int, bytes]] = []
    with site.lock:
        os.rename(site.path, site.parent / "away")  # the first half of a swap
        request = threading.Thread(target=lambda: answers.append(get(server, PAGE)), daemon=True)
        request.start()
        request.join(0.5)
        assert request.is_alive() and not answers, "a request was answered while the lock was held"
        site.rebuild("swapped", locked=False)
    request.join(WAIT)
    assert answers and answers[0][0] == 200 and b"The word is swapped." in answers[0][1]


def test_a_swap_is_never_seen_half_done(server, site):
    """Requests during many swaps: every answer a whole page, none a 404 between renames."""
    filler = "".join(f"<p>Paragraph {i} of filler, so a page is more than one write.</p>" for i in range(300))
    with Hammer(server, PAGE) as hammer:
        for i in range(30):
            site.rebuild(f"round{i}", server, filler=filler)
            time.sleep(0.005)  # let a request in between swaps
    words = hammer.check(b"The word is ")
    assert len(words) >= 2, words  # the requests did span swaps


def test_static_files_revalidate_by_content_across_rebuilds(server, site):
    """Every build copies the static files anew; equal content still answers 304, so a
    reloaded page keeps its copy of plotly.js instead of fetching and compiling it again."""
    status, _, first = fetch(server, "/_static/style.css")
    etag = first.getheader("ETag")
    assert status == 200 and etag and first.getheader("Cache-Control") == "no-cache"
    site.rebuild("beta", server)
    status, body, again = fetch(server, "/_static/style.css", {"If-None-Match": etag})
    assert status == 304 and again.getheader("ETag") == etag and body == b""
    assert get(server, "/_static/style.css", {"If-None-Match": '"something-else"'})[0] == 200
    assert get(server, "/_static/style.css", {"If-None-Match": f'"x", W/{etag}'})[0] == 304
    site.rebuild("gamma", server, style="body { color: #000; }\n")  # new content: a new tag
    status, body, changed = fetch(server, "/_static/style.css", {"If-None-Match": etag})
    assert status == 200 and changed.getheader("ETag") != etag and b"#000" in body


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
def test_no_path_leaves_the_site(server, site, path):
    secret = site.parent / "secret.txt"
    secret.write_text("TOP-SECRET")
    for name, target in (("leak.txt", secret), ("etc", Path("/etc")), ("up", site.parent)):
        (site.path / name).symlink_to(target)
    status, body = get(server, path)
    assert status in (400, 403, 404), (status, body[:200])
    assert b"TOP-SECRET" not in body and b"root:" not in body


def test_folders_are_not_listed(server, site):
    (site.path / "notes").mkdir()
    (site.path / "notes" / "draft-secret.txt").write_text("x")
    (site.path / "book").mkdir()
    (site.path / "book" / "index.html").write_text("<html><body>The book.</body></html>")
    for path in ("/notes/", "/notes", "/_static/", "/_static", "/notes/?C=M;O=A"):
        status, body = get(server, path)
        assert status == 404, (path, status)
        assert b"draft-secret" not in body and b"style.css" not in body and b"Directory listing" not in body
    assert get(server, "/notes/draft-secret.txt")[0] == 200
    status, body = get(server, "/book/")
    assert status == 200 and b"The book." in body
    assert get(server, "/book")[0] == 301  # to /book/, as before


# ----- bad requests, idle connections, many clients ----------------------------------------


@pytest.mark.parametrize("path", ["/x%00", "/01-live.html%00", "/%00/_static/style.css", "/_static/style.css%00.txt"])
def test_a_nul_in_the_path_is_a_bad_request(server, path):
    # a NUL after percent-decoding made Path.resolve() raise ValueError: no answer at all
    assert status_of(raw(server, f"GET {path} HTTP/1.0\r\n\r\n".encode())) == 400
    assert status_of(raw(server, f"HEAD {path} HTTP/1.0\r\n\r\n".encode())) == 400
    assert get(server, PAGE)[0] == 200


def test_a_path_no_file_can_have_is_not_found(server, site):
    """Names the system refuses (too long: OSError from is_file) or cannot follow (a symlink
    loop) are missing files, not a dropped connection."""
    (site.path / "loop").symlink_to("loop")
    paths = [
        "/" + "a/" * 30_000,
        "/" + "a" * 300,
        "/" + "a" * 300 + ".html",
        "/_static/" + "b" * 60_000 + "/",
        "/loop",
        "/loop/index.html",
    ]
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
    for sent in (b"", b"GET /01-live.html HT"):
        with socket.create_connection(server.address, timeout=WAIT) as sock:
            sock.sendall(sent)
            try:
                assert sock.recv(1024) == b""  # closed by the server, with nothing sent
            except TimeoutError:
                pytest.fail(f"the server kept an idle connection open for {WAIT:g} s")
    assert get(server, PAGE)[0] == 200


def test_the_event_stream_outlives_the_idle_timeout(server, site, monkeypatch):
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
        site.rebuild("beta", server)
        assert events.next()["epoch"] > first["epoch"]
    finally:
        events.close()


def test_a_burst_of_connections_is_queued_not_dropped(site):
    """Connections wait in the kernel's queue until the server accepts them. With room
    for only 5, the SYNs of a burst of 50 were dropped and retried after 1, 3, 7, 15 s."""
    import select

    live = LiveReloadServer(site.path, port=0)  # listening, but never started: nothing accepts, all must queue
    clients = []
    try:
        for _ in range(60):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            clients.append(sock)
            sock.connect_ex(live.address)
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
        live.shutdown()


# ----- addresses ---------------------------------------------------------------------------


def test_binds_loopback_unless_told_otherwise(site):
    live = LiveReloadServer(site.path, port=0)
    began = time.monotonic()
    try:
        assert live.address[0] == "127.0.0.1" and live.loopback
    finally:
        live.shutdown()  # never started: shutdown must not wait for a server loop that never ran
    assert time.monotonic() - began < 5
    assert inspect.signature(LiveReloadServer).parameters["host"].default == "127.0.0.1"


@pytest.mark.parametrize(
    "address, loopback",
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("10.0.0.5", False),
        ("2001:db8::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:192.168.1.20", False),
    ],
)
def test_which_addresses_only_this_machine_can_reach(address, loopback):
    assert livereload.is_loopback(address) is loopback


def test_host_port_writes_ipv6_in_brackets():
    assert host_port("127.0.0.1", 8000) == "127.0.0.1:8000"
    assert host_port("::1", 8000) == host_port("[::1]", 8000) == "[::1]:8000"
    assert host_port("fe80::1%eth0", 80) == "[fe80::1%25eth0]:80"


@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_serves_on_ipv6_loopback(site, host):
    if why := ipv6_unavailable():
        pytest.skip(why)
    live = start(site, host)
    try:
        port = live.address[1]
        assert live.url == f"http://[::1]:{port}/" and live.loopback
        status, body = get(live, PAGE)
        assert status == 200 and b"The word is alpha." in body
    finally:
        live.shutdown()


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


# ----- the Host header: DNS rebinding ------------------------------------------------------


def request_with_host(server: LiveReloadServer, path: str, *hosts: str, method: str = "GET") -> bytes:
    headers = "".join(f"Host: {h}\r\n" for h in hosts)
    return raw(server, f"{method} {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n".encode())


REBINDING = [
    "attacker.example:{port}",
    "attacker.example",
    "ATTACKER.example.:{port}",
    "localhost.attacker.example:{port}",
    "127.0.0.1.nip.io:{port}",
    "[::1].attacker.example",
    "evil.localhost:{port}",
    "",
    "localhost:{port}@attacker.example",
    "127.0.0.1:99999999",
]


@pytest.mark.parametrize("host", REBINDING)
@pytest.mark.parametrize("path", [PAGE, "/", "/_dev/events", "/_dev/reload.js", "/_static/style.css", "/nowhere"])
def test_a_request_naming_another_host_is_refused(server, host, path):
    """A page on attacker.example whose name was rebound to 127.0.0.1 is same-origin with
    the server as far as the browser knows: it could read every draft and the event stream."""
    answer = request_with_host(server, path, host.format(port=server.address[1]))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert status_of(answer) == 403, answer[:300]
    assert b"Content-Type: text/plain; charset=utf-8" in head
    assert b"--allow-host" in body and len(body.splitlines()) <= 3
    assert b"The word is" not in body and b"event: build" not in body and b"color" not in body


def test_two_host_headers_are_refused(server):
    port = server.address[1]
    assert status_of(request_with_host(server, PAGE, f"localhost:{port}", "attacker.example")) == 403
    assert status_of(request_with_host(server, PAGE, f"localhost:{port}", "attacker.example", method="HEAD")) == 403


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "127.0.0.1", "localhost:{port}", "LocalHost", "localhost.:{port}", "[::1]:{port}"]
)
def test_the_local_names_are_answered(server, host):
    assert status_of(request_with_host(server, PAGE, host.format(port=server.address[1]))) == 200


def test_a_request_without_a_host_header_is_answered(server):
    """No browser leaves it out, so it cannot come from a rebinding page (curl -0, scripts)."""
    assert status_of(raw(server, f"GET {PAGE} HTTP/1.0\r\n\r\n".encode())) == 200


def test_allowed_host_names(site):
    live = LiveReloadServer(site.path, port=0, lock=site.lock, allowed_hosts=["Notes.Example", ".tunnel.test"])
    live.reloaded([])
    live.start()
    try:
        for host, status in [
            ("notes.example", 200),
            ("notes.example:443", 200),
            ("tunnel.test", 200),
            ("abc.tunnel.test:8000", 200),
            ("other.example", 403),
            ("eviltunnel.test", 403),
            ("notes.example.attacker.example", 403),
        ]:
            assert status_of(request_with_host(live, PAGE, host)) == status, host
    finally:
        live.shutdown()


@pytest.mark.parametrize(
    "bound, host, allowed",
    [
        ("0.0.0.0", "attacker.example", True),  # every address: the author asked to be reached by any name
        ("::", "my-laptop.local:8000", True),
        ("192.168.1.20", "192.168.1.20:8000", True),
        ("192.168.1.20", "my-laptop.local:8000", False),
        ("2001:db8::1", "[2001:DB8:0::1]:8000", True),
        ("2001:db8::1", "[2001:db8::2]:8000", False),
        ("::1", "[::1]:8000", True),
        ("::1", "[0:0:0:0:0:0:0:1]:8000", True),
        ("127.0.0.1", "127.0.0.2", True),  # a literal cannot be rebound
        ("fe80::1%eth0", "[fe80::1%25eth0]:8000", True),
        ("127.0.0.1", "[::1", False),
        ("127.0.0.1", "localhost:80:80", False),
    ],
)
def test_which_host_names_each_bind_answers(bound, host, allowed):
    assert livereload.HostCheck(bound).allows([host]) is allowed


def test_an_event_stream_for_another_host_is_refused(server):
    host, port = server.address
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=WAIT)
    try:
        conn.request("GET", "/_dev/events", headers={"Host": f"attacker.example:{port}"})
        response = conn.getresponse()
        assert response.status == 403 and b"data:" not in response.read()
    finally:
        conn.close()


# ----- undecodable paths, clients that go away ---------------------------------------------


@pytest.mark.parametrize(
    "path", ["/%ff", "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "/%ed%a0%80.html", "/_static/%fe%ff.css", "/%e2%82"]
)
def test_a_path_that_is_not_utf8_is_a_bad_request(server, path, capfd):
    """These raised UnicodeDecodeError in the NUL check: no answer, and a traceback."""
    for method in ("GET", "HEAD"):
        answer = raw(server, f"{method} {path} HTTP/1.0\r\n\r\n".encode())
        assert status_of(answer) == 400, answer[:200]
        assert b"root:" not in answer
    assert get(server, PAGE)[0] == 200
    assert "Traceback" not in capfd.readouterr().err


def test_a_path_with_non_ascii_letters_is_served(server, site):
    (site.path / "ñandú-café.html").write_text(page("ñandú"), encoding="utf-8")
    status, body = get(server, "/%C3%B1and%C3%BA-caf%C3%A9.html")
    assert status == 200 and "The word is ñandú.".encode() in body


@pytest.fixture
def answered(monkeypatch):
    """An event set once the server has finished with a connection (handle_error included)."""
    done = threading.Event()
    original = livereload._Server.shutdown_request

    def shutdown_request(self, request):
        original(self, request)
        done.set()

    monkeypatch.setattr(livereload._Server, "shutdown_request", shutdown_request)
    return done


@pytest.mark.parametrize("how", ["reset", "close"])
def test_a_client_that_disconnects_mid_download_is_not_a_traceback(server, site, capfd, answered, how):
    """Each closed tab or cancelled download printed a 30-line BrokenPipe traceback."""
    (site.path / "_static" / "big.bin").write_bytes(os.urandom(1 << 20) * 16)
    with socket.create_connection(server.address, timeout=WAIT) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /_static/big.bin HTTP/1.0\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.0 200")
        if how == "reset":  # an RST at once, as a killed client's
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert answered.wait(WAIT), "the server never finished the request"
    assert get(server, PAGE)[0] == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err


def test_a_fault_of_the_server_still_shows_its_traceback(server, capfd, monkeypatch):
    """Only disconnects are quiet: a bug must still be seen."""
    monkeypatch.setattr(Handler, "send_head", lambda self: 1 / 0)
    with contextlib.suppress(OSError):
        raw(server, f"GET {PAGE} HTTP/1.0\r\n\r\n".encode())
    wait_for_text = time.monotonic() + WAIT
    err = ""
    while "ZeroDivisionError" not in err and time.monotonic() < wait_for_text:
        time.sleep(0.02)
        err += capfd.readouterr().err
    assert "ZeroDivisionError" in err
