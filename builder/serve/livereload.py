"""A live-reload HTTP server for a folder that something else rebuilds; it knows nothing of
essays or builds.

Whoever rebuilds the folder swaps the new one in while holding `lock`, and this server
opens every file under the same lock, so it never serves a half-swapped folder. After
each rebuild the rebuilder calls `reloaded(errors)`, which moves the build epoch. Pages
get a script that holds an EventSource on /_dev/events: they reload when the epoch (or the
server instance) moves, and show an overlay listing the errors while there are some (the
last good page stays).

The HTTP details are deliberate: content ETags (a rebuild copies files anew, equal content
still answers 304), paths checked so none leaves the folder, no folder listings, 400 for a
NUL, error responses that linger so a client still sending reads them, an idle timeout,
a deep listen backlog, IPv6 (with `::` taking IPv4 clients too), and the headers that make
a page cross-origin isolated (COOP and COEP, on every response).

A server bound to one address answers only requests that name it (the Host header): a web
page on attacker.example whose DNS name is switched to 127.0.0.1 (DNS rebinding) is then
refused, where it could otherwise read every draft this server shows. A path that is not
UTF-8 after percent-decoding is a 400, and a client that disconnects mid-answer is nothing
to report.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import ipaddress
import json
import math
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

RELOAD_SCRIPT = Path(__file__).resolve().parents[1] / "static" / "dev-reload.js"
KEEPALIVE = 15.0  # seconds between comments on an idle event stream
IDLE_TIMEOUT = 30.0  # seconds a connection may wait for a request (or a blocked write) before
# it is closed; the event stream reads nothing and writes every KEEPALIVE s, well within it
LINGER = 2.0  # seconds an error response waits for the client to stop sending; see _drain
LINGER_BYTES = 64 << 20  # and the most it reads meanwhile
BACKLOG = 128  # connections the kernel queues before the server accepts them; a page and its
# files, or many open tabs reloading at once, come as a burst (at 5 a burst of 50 waited seconds)
# Every response says the page is cross-origin isolated: then the page has SharedArrayBuffer,
# and a page's Stop can interrupt running code in a worker instead of ending the worker. A
# resource from another origin must then allow it (CORS, or Cross-Origin-Resource-Policy).
ISOLATION_HEADERS = (
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Embedder-Policy", "require-corp"),
)
# Names that reach this machine only, whatever a DNS server says: a rebinding page cannot own them
LOCAL_NAMES = frozenset(("localhost", "127.0.0.1", "::1"))
# A client gone mid-answer (a closed tab, a cancelled download, a stalled reader timed out):
# expected, and each printed a 30-line traceback
DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)
POLL = 0.05  # seconds between the serving loop's checks for shutdown(), which waits for one
# (the default 0.5 s made every stop, and each of the many servers the tests start, that slower)


class LiveReloadServer:
    """Serves `root` on host:port with live reload. Binds at once (an OSError says why it
    cannot); start() serves on a thread of its own; shutdown() ends it, and every event stream.

    `root`: the folder, or a callable giving it; either is looked up anew for every request,
    because a rebuild replaces the folder. `lock`: held while a file is opened, and by the
    rebuilder while it swaps the folder. Lock order, for a caller that holds a lock of its
    own around reloaded(): that lock first, then `state`; this class takes none after it.
    """

    def __init__(
        self,
        root: Path | str | Callable[[], Path | str],
        host: str = "127.0.0.1",
        port: int = 8000,
        lock: AbstractContextManager[object] | None = None,
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        """`allowed_hosts`: more names than the local ones and the address bound to answer
        requests for (`.example.org`: that name and its subdomains)."""
        self._root = root
        self.lock = lock if lock is not None else threading.Lock()
        self.state = threading.Condition()  # guards epoch, errors and closing; notified on change
        self.epoch = 0  # reloaded() calls so far; pages reload when it moves
        # which server: a restarted one counts epochs from 1 again, and a page left open
        # across the restart (its EventSource reconnects) must still reload
        self.instance = f"{os.getpid():x}-{time.time_ns():x}"
        self.errors: list[str] = []
        self.closing = False
        self._etags: dict[str, tuple[int, int, str]] = {}  # path -> (mtime_ns, size, etag)
        self._etags_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        host = host.removeprefix("[").removesuffix("]")  # [::1], as in a URL, is ::1
        self.httpd = (_Server6 if ":" in host else _Server)((host, port), Handler)
        self.httpd.live = self
        self.hosts = HostCheck(self.address[0], allowed_hosts)

    @property
    def root(self) -> Path:
        """The folder served now."""
        return Path(self._root() if callable(self._root) else self._root)

    @property
    def address(self) -> tuple[str, int]:
        """The address and port bound (port 0 asked for is a real port here)."""
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        return f"http://{host_port(*self.address)}/"

    @property
    def loopback(self) -> bool:
        """Only this machine can connect (the address bound, not the name asked for)."""
        return is_loopback(self.address[0])

    def reloaded(self, errors: Sequence[str] = ()) -> int:
        """A rebuild finished: move the epoch so open pages reload, and show `errors` over
        them (none: the overlay goes). Returns the new epoch; after shutdown() nothing moves."""
        with self.state:
            if not self.closing:
                self.epoch += 1
                self.errors = list(errors)
                self.state.notify_all()
            return self.epoch

    def start(self) -> None:
        """Accept connections, on a thread of its own."""
        if self._thread is None and not self.closing:
            self._thread = threading.Thread(
                target=self.httpd.serve_forever, args=(POLL,), name="essays-http", daemon=True
            )
            self._thread.start()

    def shutdown(self) -> None:
        """End the event streams, stop accepting and close the socket. Safe to call twice,
        or on a server never started."""
        with self.state:
            if self.closing:
                return
            self.closing = True
            self.state.notify_all()
        if self._thread is not None:
            self.httpd.shutdown()  # waits for serve_forever; it would wait forever had it not run
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def etag(self, path: Path) -> str:
        """An entity tag from the file's content. A rebuild copies the static files anew
        (new mtimes), so Last-Modified alone would make a reloaded page download and
        compile large scripts (plotly.js, the editor) again each time; equal content gets a 304."""
        st = path.stat()
        with self._etags_lock:
            known = self._etags.get(str(path))
            if known and known[:2] == (st.st_mtime_ns, st.st_size):
                return known[2]
        digest = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
        tag = f'"{digest}"'
        with self._etags_lock:
            self._etags[str(path)] = (st.st_mtime_ns, st.st_size, tag)
        return tag


# ----- addresses ---------------------------------------------------------------------------


def host_port(host: str, port: int) -> str:
    """host:port as a URL writes it: an IPv6 address in brackets ([::1]:8000)."""
    if ":" in host:
        host = host.removeprefix("[").removesuffix("]")
        return f"[{host.replace('%', '%25')}]:{port}"  # a zone (fe80::1%eth0) escaped
    return f"{host}:{port}"


def is_loopback(address: str) -> bool:
    """A numeric address only this machine can reach: 127.0.0.0/8, ::1, ::ffff:127.x.y.z."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def host_name(header: str) -> str | None:
    """The name a Host header gives, lowercased, without its port or a final dot:
    "[::1]:8000" is "::1". None when it is not a host[:port] at all."""
    header = header.strip().lower()
    if header.startswith("["):  # an IPv6 literal
        name, close, port = header[1:].partition("]")
        if not close:
            return None
    else:
        name, colon, digits = header.partition(":")
        port = colon + digits
    if not name or (port and not re.fullmatch(r":[0-9]{0,5}", port)):
        return None
    return name.removesuffix(".")


class HostCheck:
    """Which Host headers a server answers. Bound to every address (0.0.0.0, ::): any, as
    Jupyter and Vite do, since the author chose to be reached by any name. Otherwise the
    local names, the address bound, loopback literals (a literal cannot be rebound) and the
    names allowed. A request without a Host header is answered: every browser sends one."""

    def __init__(self, bound: str, allowed: Sequence[str] = ()) -> None:
        self.public = _unspecified(bound)
        self.bound = _ip(bound)
        self.names = set(LOCAL_NAMES)
        self.names |= {n for a in allowed if (n := host_name(a)) and not n.startswith(".")}
        self.suffixes = tuple(n for a in allowed if (n := host_name(a)) and n.startswith("."))

    def allows(self, headers: Sequence[str]) -> bool:
        if self.public or not headers:
            return True
        if len(headers) > 1:  # which one would a proxy or a browser have meant?
            return False
        name = host_name(headers[0])
        if name is None:
            return False
        if name in self.names or name.endswith(self.suffixes) or f".{name}" in self.suffixes:
            return True
        ip = _ip(name)  # a literal, however written ([0::1]), is the address itself: nothing to rebind
        return ip is not None and (ip == self.bound or is_loopback(str(ip)))

    @staticmethod
    def refusal(header: str) -> bytes:
        name = host_name(header) or header.strip()
        return (
            f'403 Forbidden: this development server answers for localhost and its own address, not for "{name[:200]}".\n'
            "A web page could read your drafts through such a name (DNS rebinding). If it is yours, start the\n"
            f"server with --allow-host {name[:200]} (or bind 0.0.0.0 to answer every name on the network).\n"
        ).encode("utf-8", "replace")


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a literal names, without an IPv6 zone (fe80::1%eth0, %25 in a URL); None
    for a name."""
    try:
        return ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None


def _unspecified(address: str) -> bool:
    ip = _ip(address)
    return ip is not None and ip.is_unspecified


def network_warning(url: str) -> str:
    return (
        f"essays: warning: {url} is reachable by others on the network; this is a development "
        "preview server, not for production"
    )


def _path_max(folder: Path) -> float:
    """The longest path, in bytes, the system opens under `folder` (4096 on Linux); infinity
    where it does not say (os.pathconf is POSIX's)."""
    try:
        return os.pathconf(folder, "PC_PATH_MAX")
    except (AttributeError, OSError, ValueError):
        return math.inf


class _Server(ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True
    live: LiveReloadServer  # set once made: the handlers reach the folder and epoch through it

    def handle_error(self, request: object, client_address: object) -> None:
        """A traceback for a fault of ours; a client that went away is not one."""
        if isinstance(sys.exc_info()[1], DISCONNECTS):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Server6(_Server):
    """An IPv6 address. `::` (every address) takes IPv4 clients too where the system allows,
    as 0.0.0.0 would: some systems make an IPv6 socket IPv6-only unless told otherwise."""

    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        if _unspecified(str(self.server_address[0])):  # not an address at all: bind() will say why
            with contextlib.suppress(AttributeError, OSError):  # no dual stack: IPv6 only
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


# ----- requests ----------------------------------------------------------------------------


class Handler(SimpleHTTPRequestHandler):
    """Files from the current folder, plus the live-reload endpoints."""

    timeout = IDLE_TIMEOUT  # set on each connection's socket (tests patch it smaller)
    extensions_map = {  # noqa: RUF012 - the base class declares it an instance attribute; we extend its map
        **SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".mjs": "text/javascript",
    }

    def __init__(self, request: socket.socket, client_address: tuple[str | int, ...], server: _Server) -> None:
        # before the base's __init__, which handles the whole request
        self.live = server.live
        # the directory is looked up per request: the folder is swapped by rebuilds
        super().__init__(request, client_address, server, directory=str(server.live.root))

    def log_message(self, format: str, *args: object) -> None:
        pass

    def parse_request(self) -> bool:
        """The request line and headers, then the Host check: every path, /_dev/events too."""
        if not super().parse_request():
            return False
        hosts = self.headers.get_all("Host") or []
        if self.live.hosts.allows(hosts):
            return True
        self.close_connection = True
        self._linger = True  # read what the client still sends, so it gets the answer
        self._send(HTTPStatus.FORBIDDEN, "text/plain; charset=utf-8", HostCheck.refusal(hosts[0]))
        return False

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_dev/events":
            return self._events()
        if path == "/_dev/reload.js":
            return self._send(HTTPStatus.OK, "text/javascript", RELOAD_SCRIPT.read_bytes())
        return super().do_GET()

    def translate_path(self, path: str) -> str:
        """The base class drops '..' segments after percent-decoding; check once more that
        the result (symlinks followed) is inside the folder, so no spelling of a path can leave
        it. A path no file can have (a name too long, a symlink loop) is one outside it."""
        root = Path(self.directory).resolve()
        outside = str(root / "__outside_the_site__")
        try:
            candidate = super().translate_path(path)
            if len(os.fsencode(candidate)) >= _path_max(root):
                # the system refuses such a path whole; resolving it would walk each of its
                # parts (a 60 KB request line of "a/a/...": seconds of CPU per request)
                return outside
            translated = Path(candidate).resolve()
        except (OSError, ValueError, RuntimeError):  # RuntimeError: a symlink loop
            return outside
        # is_relative_to compares parts once, where `root in translated.parents` built a path
        # for every parent: quadratic in the depth
        if not translated.is_relative_to(root):
            return outside
        return str(translated)

    def send_head(self) -> io.BytesIO | BinaryIO | None:
        target = self.path.split("?", 1)[0].split("#", 1)[0]  # as the base's translate_path
        try:
            decoded = urllib.parse.unquote_to_bytes(target).decode("utf-8")
        except UnicodeDecodeError:  # /%ff, an overlong /%c0%ae: no file of the site has such a name
            self.send_error(HTTPStatus.BAD_REQUEST, "the path is not UTF-8")
            return None
        if "\0" in decoded:
            # no file name holds a NUL: a malformed request, not a missing file
            self.send_error(HTTPStatus.BAD_REQUEST, "NUL in the path")
            return None
        with self.live.lock:  # never open a file from a folder half swapped
            # os.path's isdir and isfile say False, where Path's raise, for a path the
            # system refuses (too long a name)
            path = self.translate_path(self.path)
            if os.path.isdir(path):
                if not os.path.isfile(os.path.join(path, "index.html")):
                    # no listing of a folder's files: a folder is a page only by its index
                    self.send_error(HTTPStatus.NOT_FOUND, "File not found")
                    return None
                if target.endswith("/"):
                    path = os.path.join(path, "index.html")
                # else the base class redirects to the folder's address with a slash
            if path.endswith(".html") and os.path.isfile(path):
                return self._html(Path(path))
            if os.path.isfile(path):
                etag = self.live.etag(Path(path))
                wanted = self.headers.get("If-None-Match", "")
                if etag in (t.strip().removeprefix("W/") for t in wanted.split(",")):
                    self.send_response(HTTPStatus.NOT_MODIFIED)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return None
                # no-cache: the browser asks each time, and a 304 keeps its compiled copy
                self._extra_headers = [("ETag", etag), ("Cache-Control", "no-cache")]
            return super().send_head()

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        """Never a listing (send_head answers a folder without index.html before this)."""
        self.send_error(HTTPStatus.NOT_FOUND, "File not found")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        super().send_error(code, message, explain)
        self._linger = True

    def finish(self) -> None:
        super().finish()
        if getattr(self, "_linger", False):
            self._drain()

    def _drain(self) -> None:
        """After an error response, read and drop what the client still sends (the rest of a
        request line over the base class's 64 KiB, a body) until it closes, for at most
        LINGER seconds and LINGER_BYTES. Closing with unread data resets the connection, and
        a client still sending then gets the reset instead of the response."""
        sock = self.connection
        try:
            sock.shutdown(socket.SHUT_WR)  # the response is whole: the client sees its end
            deadline = time.monotonic() + LINGER
            drained = 0
            while drained < LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                chunk = sock.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:  # a timeout, a reset: the connection ends either way
            pass

    def end_headers(self) -> None:
        for name, value in (*getattr(self, "_extra_headers", ()), *ISOLATION_HEADERS):
            self.send_header(name, value)
        self._extra_headers = []
        super().end_headers()

    def _html(self, path: Path) -> io.BytesIO:
        """An HTML page with the live-reload script added, at the epoch it was served."""
        text = path.read_text(encoding="utf-8")
        tag = (
            f'<script src="/_dev/reload.js" data-epoch="{self.live.epoch}" data-server="{self.live.instance}"></script>'
        )
        text = text.replace("</body>", tag + "\n</body>", 1) if "</body>" in text else text + tag
        body = text.encode("utf-8")
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        return io.BytesIO(body)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _events(self) -> None:
        """Server-Sent Events: the build state now, then on every change. The connection's
        timeout never cuts a stream that is read: it reads nothing more from the client, and
        a write blocks only when the client stops reading (then the stream is dropped)."""
        live = self.live
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen = -1
        try:
            while True:
                with live.state:
                    if live.epoch == seen and not live.closing:
                        live.state.wait(KEEPALIVE)
                    if live.closing:
                        return
                    epoch, errors = live.epoch, list(live.errors)
                if epoch != seen:
                    seen = epoch
                    data = json.dumps({"epoch": epoch, "errors": errors, "server": live.instance})
                    self.wfile.write(f"event: build\ndata: {data}\n\n".encode())
                else:
                    self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
        except OSError:  # the page went away, or stopped reading (a write timed out)
            return
