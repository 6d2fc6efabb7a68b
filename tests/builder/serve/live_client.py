"""Clients for the dev server's tests (test_livereload.py, test_serve.py): plain requests,
raw bytes, the event stream, a headless browser. Each takes anything with an `address`
(host, port): a LiveReloadServer or a DevServer.

Waits are generous (the machine may be busy); nothing asserts on a sleep.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pytest
from support import CHROMIUM, WAIT
from support import CHROMIUM_ARGS as ARGS


class Listening(Protocol):
    @property
    def address(self) -> tuple[str, int]: ...


def wait_for(predicate: Callable[[], object], timeout: float = WAIT, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def get(server: Listening, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    return fetch(server, path, headers)[:2]


def fetch(
    server: Listening, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes, http.client.HTTPResponse]:
    """GET path: the status, the body, and the response (for its headers)."""
    host, port = server.address
    conn = http.client.HTTPConnection(host, port, timeout=WAIT)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response
    finally:
        conn.close()


def raw(server: Listening, request: bytes) -> bytes:
    """Send request as it is, then read the whole answer (the server closes after it)."""
    with socket.create_connection(server.address, timeout=WAIT) as sock:
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

    def __init__(self, server: Listening) -> None:
        host, port = server.address
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
                data = json.loads(line[len("data: ") :])
            elif line == "" and data is not None:
                return data

    def close(self) -> None:
        self.conn.close()


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need_chromium() -> None:
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


class Hammer:
    """GETs a page over and over on a thread while the test swaps the site under it:
    `with Hammer(server, path) as h: ...`, then `h.check("The word is ")`."""

    def __init__(self, server: Listening, path: str) -> None:
        self.server, self.path = server, path
        self.seen: list[tuple[int, bytes]] = []
        self.failures: list[str] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            try:
                self.seen.append(get(self.server, self.path))
            except Exception as exc:  # an incomplete read, a reset: all failures here
                self.failures.append(repr(exc))

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join(WAIT)

    def check(self, marker: bytes) -> set[bytes]:
        """Every answer a whole page (status 200, ending in </html>, the marker once);
        returns the words that followed the marker, to see that the requests spanned swaps."""
        assert not self.failures, self.failures[:3]
        assert len(self.seen) > 5
        words = set()
        for status, body in self.seen:
            assert status == 200, body[:200]
            assert body.rstrip().endswith(b"</html>"), body[-200:]
            assert body.count(marker) == 1
            words.add(body.split(marker)[1].split(b".")[0])
        return words
