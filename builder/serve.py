"""`essays serve`: build, serve the site, watch the sources, rebuild, reload open pages.

The server never shows a half-built page: a build writes a new folder and swaps it in
under `swap_lock`, and the handler opens files under the same lock. Each finished build
bumps an epoch; pages hold an EventSource on /_dev/events and reload when the epoch moves,
or show an overlay naming the problem when the build failed (the last good page stays).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import ipaddress
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from .build import build
from .config import Config
from .worker import kill_all

if TYPE_CHECKING:
    from .progress import Reporter

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
DEBOUNCE = 0.05  # seconds of quiet after the last change before a rebuild starts
KEEPALIVE = 15.0  # seconds between comments on an idle event stream
IDLE_TIMEOUT = 30.0  # seconds a connection may wait for a request (or a blocked write) before
# it is closed; the event stream reads nothing and writes every KEEPALIVE s, well within it
STOP_GRACE = 15.0  # seconds stop() waits for an interrupted build to wind down
LINGER = 2.0  # seconds an error response waits for the client to stop sending; see _drain
LINGER_BYTES = 64 << 20  # and the most it reads meanwhile
BACKLOG = 128  # connections the kernel queues before the server accepts them; a page and its
# files, or many open tabs reloading at once, come as a burst (at 5 a burst of 50 waited seconds)
IGNORED_SUFFIXES = ("~", ".swp", ".swx", ".tmp", ".pyc")


class BuildCancelled(Exception):
    """The server began to stop while a build ran: its site must not be swapped in."""


class _SwapGate:
    """The swap lock as a build sees it. A build still running when stop() begins had its
    cells killed, so its pages would show that; refusing the swap keeps the last good site."""

    def __init__(self, server: "DevServer") -> None:
        self.server = server

    def __enter__(self) -> "_SwapGate":
        self.server.swap_lock.acquire()
        if self.server.stopping:
            self.server.swap_lock.release()
            raise BuildCancelled("the server is stopping")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.swap_lock.release()


class DevServer:
    """The dev server's state: the site, the build epoch, and the threads around them."""

    def __init__(self, config: Config, host: str = "127.0.0.1", port: int = 8000,
                 reporter: "Reporter | None" = None, watch: list[Path] | None = None) -> None:
        """`watch`: the folders whose changes rebuild; by default the essays, and the
        templates, static files, runtime and shaders that every page is made from."""
        self.config = config
        self.reporter = reporter
        self._watch_list = watch
        self.debounce = DEBOUNCE
        self.swap_lock = threading.Lock()
        self.state = threading.Condition()
        self.epoch = 0  # finished builds; pages reload when it moves
        # which server process: after a restart the epoch counts from 1 again, and a page
        # left open across it (its EventSource reconnects) must still reload
        self.instance = f"{os.getpid():x}-{time.time_ns():x}"
        self.errors: list[str] = []
        self.stopping = False
        self.building = False
        self._last_change = 0.0
        self._dirty = False
        self._serving = False
        self._stopped = False
        host = host.removeprefix("[").removesuffix("]")  # [::1], as in a URL, is ::1
        self.httpd = (_Server6 if ":" in host else _Server)((host, port), Handler)
        self.httpd.dev = self  # type: ignore[attr-defined]
        self._builder: threading.Thread | None = None
        self._http: threading.Thread | None = None
        self._observer = None
        self._watched_abs: list[Path] = []
        self._etags: dict[str, tuple[int, int, str]] = {}  # path -> (mtime_ns, size, etag)
        self._etags_lock = threading.Lock()
        # where builds write: events there are the build's own, never a reason to rebuild
        self._own = [config.output.resolve(), config.cache_root.resolve()]

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host_port(host, port)}/"

    @property
    def loopback(self) -> bool:
        """Only this machine can connect (the address bound, not the name asked for)."""
        return is_loopback(self.httpd.server_address[0])

    # -- building ------------------------------------------------------------------------

    def rebuild(self) -> None:
        started = time.monotonic()
        try:
            result = build(self.config, swap_lock=_SwapGate(self), reporter=self.reporter)
            # the overlay names essays that could not be read (their last good page stays);
            # a failing cell shows on its page, so the terminal alone lists those too
            errors = [str(e.error) for e in result.essays if e.error is not None]
            problems = result.failures
        except BuildCancelled:
            return
        except Exception as exc:  # a template error: keep serving the last good site
            errors = problems = [f"the build failed: {type(exc).__name__}: {exc}"]
        with self.state:
            if self.stopping:
                return
            self.epoch += 1
            self.errors = errors
            self.state.notify_all()
        if not self.config.quiet:
            status = f"{len(problems)} problem{'' if len(problems) == 1 else 's'}" if problems else "ok"
            print(f"rebuilt in {time.monotonic() - started:.2f} s: {status}", flush=True)
            for line in problems:
                print(f"  {line}", file=sys.stderr, flush=True)

    def changed(self, path: str) -> None:
        """A watched file changed: schedule a rebuild once the burst of saves is over."""
        if self._ignored(Path(path)):
            return
        with self.state:
            self._last_change = time.monotonic()
            self._dirty = True
            self.state.notify_all()

    def _ignored(self, path: Path) -> bool:
        """Editor droppings, caches, hidden folders and the build's own output."""
        if path.name.endswith(IGNORED_SUFFIXES):
            return True
        path = Path(os.path.abspath(path))
        for own in self._own:
            if path == own or own in path.parents:
                return True
        rel = next((path.relative_to(w) for w in self._watched_abs if w == path or w in path.parents), Path(path.name))
        return any(part.startswith(".") or part == "__pycache__" for part in rel.parts)

    def _build_loop(self) -> None:
        while True:
            with self.state:
                while not self._dirty and not self.stopping:
                    self.state.wait()
                # debounce: wait until self.debounce seconds passed with no new change
                while not self.stopping and (quiet := time.monotonic() - self._last_change) < self.debounce:
                    self.state.wait(self.debounce - quiet)
                if self.stopping:
                    return
                self._dirty = False
                self.building = True
            try:
                self.rebuild()
            finally:
                with self.state:
                    self.building = False
                    self.state.notify_all()

    def etag(self, path: Path) -> str:
        """An entity tag from the file's content. Every build copies the static files anew
        (new mtimes), so Last-Modified alone would make a reloaded page download and
        compile plotly.js and the editor again each time; equal content gets a 304."""
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

    def idle(self) -> bool:
        """No build running and none pending (for tests and benchmarks)."""
        with self.state:
            return not self.building and not self._dirty

    # -- watching ------------------------------------------------------------------------

    def watched(self) -> list[Path]:
        folders = self._watch_list
        if folders is None:
            folders = [self.config.source, PACKAGE / "templates", PACKAGE / "static", ROOT / "runtime", ROOT / "shaders"]
        return [p for p in folders if p.is_dir()]

    def _watch(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        server = self

        class OnChange(FileSystemEventHandler):
            def on_any_event(self, event) -> None:  # noqa: ANN001 - watchdog's event type
                if event.event_type in ("opened", "closed_no_write"):
                    return
                for path in (event.src_path, getattr(event, "dest_path", "")):
                    if path:  # a rename counts for both names: saving by rename, or moving out
                        server.changed(str(path))

        self._watched_abs = [p.resolve() for p in self.watched()]
        observer = Observer()
        for path in self._watched_abs:
            observer.schedule(OnChange(), str(path), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    # -- lifetime ------------------------------------------------------------------------

    def start(self) -> None:
        """Watch, build, then serve; returns once the first build is done. The build runs on
        the build thread, never here, so Ctrl+C in the caller's thread is never stuck
        behind a long cell: stop() kills the workers and the build thread winds down."""
        self._watch()
        with self.state:
            self._dirty = True
        self._builder = threading.Thread(target=self._build_loop, name="essays-build", daemon=True)
        self._builder.start()
        with self.state:
            while self.epoch == 0 and not self.stopping:
                self.state.wait(1.0)  # a timeout keeps the wait open to signals
        if self.stopping:
            return
        self._http = threading.Thread(target=self.httpd.serve_forever, name="essays-http", daemon=True)
        self._http.start()
        self._serving = True

    def stop(self) -> None:
        with self.state:
            if self._stopped:
                return
            self._stopped = self.stopping = True
            self.state.notify_all()
        if self._observer is not None:
            self._observer.stop()
        # A build in progress ends now, not when its cells do. After a worker dies the
        # execute step starts a fresh one to recover the essay's state, so keep ending
        # them until the build thread has finished.
        deadline = time.monotonic() + STOP_GRACE
        while self._builder is not None and self._builder.is_alive() and time.monotonic() < deadline:
            kill_all()
            self._builder.join(0.01)
        if self._serving:
            self.httpd.shutdown()  # waits for serve_forever; it would wait forever had it not run
        self.httpd.server_close()
        for thread in (self._http, self._observer):
            if thread is not None:
                thread.join(timeout=5)
        kill_all()


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


def network_warning(url: str) -> str:
    return (f"essays: warning: {url} is reachable by others on the network; this is a development "
            "preview server, not for production")


class _Server(ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True


class _Server6(_Server):
    """An IPv6 address. `::` (every address) takes IPv4 clients too where the system allows,
    as 0.0.0.0 would: some systems make an IPv6 socket IPv6-only unless told otherwise."""

    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        with contextlib.suppress(ValueError):  # not an address: bind() will say why
            if ipaddress.ip_address(self.server_address[0].split("%", 1)[0]).is_unspecified:
                with contextlib.suppress(AttributeError, OSError):  # no dual stack: IPv6 only
                    self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class Handler(SimpleHTTPRequestHandler):
    """Static files from the current site, plus the live-reload endpoints."""

    timeout = IDLE_TIMEOUT  # set on each connection's socket (tests patch it smaller)
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm", ".mjs": "text/javascript"}

    @property
    def dev(self) -> DevServer:
        return self.server.dev  # type: ignore[attr-defined]

    def __init__(self, *args, **kwargs) -> None:
        # the directory is looked up per request: the site folder is swapped by rebuilds
        kwargs["directory"] = str(args[2].dev.config.output)
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_dev/events":
            return self._events()
        if path == "/_dev/reload.js":
            return self._send(HTTPStatus.OK, "text/javascript", (PACKAGE / "static" / "dev-reload.js").read_bytes())
        return super().do_GET()

    def translate_path(self, path: str) -> str:
        """The base class drops '..' segments after percent-decoding; check once more that
        the result (symlinks followed) is inside the site, so no spelling of a path can leave it.
        A path no file can have (a name too long, a symlink loop) is one outside the site."""
        root = Path(self.directory).resolve()
        outside = str(root / "__outside_the_site__")
        try:
            translated = Path(super().translate_path(path)).resolve()
        except (OSError, ValueError, RuntimeError):  # RuntimeError: a symlink loop
            return outside
        if translated != root and root not in translated.parents:
            return outside
        return str(translated)

    def send_head(self):  # noqa: ANN201 - returns a file object or None, as the base does
        target = self.path.split("?", 1)[0].split("#", 1)[0]  # as the base's translate_path
        if "\0" in urllib.parse.unquote(target, errors="surrogatepass"):
            # no file name holds a NUL: a malformed request, not a missing file
            self.send_error(HTTPStatus.BAD_REQUEST, "NUL in the path")
            return None
        with self.dev.swap_lock:  # never open a file from a site half swapped
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
                etag = self.dev.etag(Path(path))
                wanted = self.headers.get("If-None-Match", "")
                if etag in (t.strip().removeprefix("W/") for t in wanted.split(",")):
                    self.send_response(HTTPStatus.NOT_MODIFIED)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return None
                # no-cache: the browser asks each time, and a 304 keeps its compiled copy
                self._extra_headers = [("ETag", etag), ("Cache-Control", "no-cache")]
            return super().send_head()

    def list_directory(self, path: str) -> None:  # noqa: ARG002 - the base class's signature
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
        for name, value in getattr(self, "_extra_headers", ()):
            self.send_header(name, value)
        self._extra_headers = []
        super().end_headers()

    def _html(self, path: Path):  # noqa: ANN202
        """An HTML page with the live-reload script added, at the epoch it was served."""
        text = path.read_text(encoding="utf-8")
        tag = f'<script src="/_dev/reload.js" data-epoch="{self.dev.epoch}" data-server="{self.dev.instance}"></script>'
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
        self.wfile.write(body)

    def _events(self) -> None:
        """Server-Sent Events: the build state now, then on every change. The connection's
        timeout never cuts a stream that is read: it reads nothing more from the client, and
        a write blocks only when the client stops reading (then the stream is dropped)."""
        dev = self.dev
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen = -1
        try:
            while True:
                with dev.state:
                    if dev.epoch == seen and not dev.stopping:
                        dev.state.wait(KEEPALIVE)
                    if dev.stopping:
                        return
                    epoch, errors = dev.epoch, list(dev.errors)
                if epoch != seen:
                    seen = epoch
                    data = json.dumps({"epoch": epoch, "errors": errors, "server": dev.instance})
                    self.wfile.write(f"event: build\ndata: {data}\n\n".encode())
                else:
                    self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
        except OSError:  # the page went away, or stopped reading (a write timed out)
            return


def serve(config: Config, host: str = "127.0.0.1", port: int = 8000, reporter: "Reporter | None" = None) -> int:
    try:
        server = DevServer(config, host, port, reporter)
    except OSError as exc:
        print(f"essays: cannot listen on {host_port(host, port)}: {exc.strerror or exc}", file=sys.stderr)
        return 1

    def on_term(signum, frame) -> None:  # noqa: ANN001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    # Ctrl+C stops the server even when it was started with SIGINT ignored, as a shell
    # starts a background job (`essays serve &`); Python then installs no handler of its own
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.start()
        print(f"serving {config.output} on {server.url} (Ctrl+C to stop)", flush=True)
        if not server.loopback:
            print(network_warning(server.url), file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
    finally:
        # a second Ctrl+C must not cut the clean-up short and leave workers behind
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        server.stop()
    return 0
