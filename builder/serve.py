"""`essays serve`: build, serve the site, watch the sources, rebuild, reload open pages.

The server never shows a half-built page: a build writes a new folder and swaps it in
under `swap_lock`, and the handler opens files under the same lock. Each finished build
bumps an epoch; pages hold an EventSource on /_dev/events and reload when the epoch moves,
or show an overlay naming the problem when the build failed (the last good page stays).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .build import build
from .config import Config
from .worker import kill_all

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
DEBOUNCE = 0.15  # seconds of quiet after the last change before a rebuild starts
KEEPALIVE = 15.0  # seconds between comments on an idle event stream
IGNORED_SUFFIXES = ("~", ".swp", ".swx", ".tmp", ".pyc")


class DevServer:
    """The dev server's state: the site, the build epoch, and the threads around them."""

    def __init__(self, config: Config, host: str = "127.0.0.1", port: int = 8000) -> None:
        self.config = config
        self.swap_lock = threading.Lock()
        self.state = threading.Condition()
        self.epoch = 0
        self.errors: list[str] = []
        self.stopping = False
        self._last_change = 0.0
        self._dirty = False
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.dev = self  # type: ignore[attr-defined]
        self._threads: list[threading.Thread] = []
        self._observer = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    # -- building ------------------------------------------------------------------------

    def rebuild(self) -> None:
        started = time.monotonic()
        try:
            result = build(self.config, swap_lock=self.swap_lock)
            errors = [str(e.error) for e in result.essays if e.error is not None]
        except Exception as exc:  # a template error: keep serving the last good site
            errors = [f"the build failed: {type(exc).__name__}: {exc}"]
        with self.state:
            self.epoch += 1
            self.errors = errors
            self.state.notify_all()
        if not self.config.quiet:
            status = f"{len(errors)} problem(s)" if errors else "ok"
            print(f"rebuilt in {time.monotonic() - started:.2f} s: {status}", flush=True)
            for line in errors:
                print(f"  {line}", file=sys.stderr, flush=True)

    def changed(self, path: str) -> None:
        """A watched file changed: schedule a rebuild once the burst of saves is over."""
        name = Path(path).name
        if name.startswith(".") or name.endswith(IGNORED_SUFFIXES) or "__pycache__" in path:
            return
        with self.state:
            self._last_change = time.monotonic()
            self._dirty = True
            self.state.notify_all()

    def _build_loop(self) -> None:
        while True:
            with self.state:
                while not self._dirty and not self.stopping:
                    self.state.wait()
                if self.stopping:
                    return
                # debounce: wait until DEBOUNCE seconds passed with no new change
                while not self.stopping and time.monotonic() - self._last_change < DEBOUNCE:
                    self.state.wait(DEBOUNCE - (time.monotonic() - self._last_change))
                if self.stopping:
                    return
                self._dirty = False
            self.rebuild()

    # -- watching ------------------------------------------------------------------------

    def watched(self) -> list[Path]:
        return [p for p in (self.config.source, PACKAGE / "templates", PACKAGE / "static", ROOT / "runtime", ROOT / "shaders") if p.is_dir()]

    def _watch(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        server = self

        class OnChange(FileSystemEventHandler):
            def on_any_event(self, event) -> None:  # noqa: ANN001 - watchdog's event type
                if event.event_type in ("opened", "closed_no_write"):
                    return
                server.changed(str(getattr(event, "dest_path", "") or event.src_path))

        observer = Observer()
        for path in self.watched():
            observer.schedule(OnChange(), str(path), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    # -- lifetime ------------------------------------------------------------------------

    def start(self) -> None:
        """First build, then watch, rebuild and serve, each on a thread of its own."""
        self.rebuild()
        self._watch()
        for target in (self._build_loop, self.httpd.serve_forever):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        with self.state:
            self.stopping = True
            self.state.notify_all()
        if self._observer is not None:
            self._observer.stop()
        kill_all()  # a build in progress ends now, not when its cells do
        self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        kill_all()


class Handler(SimpleHTTPRequestHandler):
    """Static files from the current site, plus the live-reload endpoints."""

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
        the result is inside the site, so no spelling of a path can leave it."""
        translated = Path(super().translate_path(path)).resolve()
        root = Path(self.directory).resolve()
        if translated != root and root not in translated.parents:
            return str(root / "__outside_the_site__")
        return str(translated)

    def send_head(self):  # noqa: ANN201 - returns a file object or None, as the base does
        with self.dev.swap_lock:  # never open a file from a site half swapped
            path = self.translate_path(self.path)
            if Path(path).is_dir() and self.path.split("?")[0].endswith("/"):
                path = str(Path(path) / "index.html")
            if path.endswith(".html") and Path(path).is_file():
                return self._html(Path(path))
            return super().send_head()

    def _html(self, path: Path):  # noqa: ANN202
        """An HTML page with the live-reload script added, at the epoch it was served."""
        import io

        text = path.read_text(encoding="utf-8")
        tag = f'<script src="/_dev/reload.js" data-epoch="{self.dev.epoch}"></script>'
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
        """Server-Sent Events: the build state now, then on every change."""
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
                    data = json.dumps({"epoch": epoch, "errors": errors})
                    self.wfile.write(f"event: build\ndata: {data}\n\n".encode())
                else:
                    self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


def serve(config: Config, host: str = "127.0.0.1", port: int = 8000) -> int:
    server = DevServer(config, host, port)

    def on_term(signum, frame) -> None:  # noqa: ANN001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        server.start()
        print(f"serving {config.output} on {server.url} (Ctrl+C to stop)", flush=True)
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

