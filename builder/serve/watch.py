"""`essays serve`: build, serve the site, watch the sources, rebuild, reload open pages.

Two layers, as in MkDocs. `livereload.LiveReloadServer` serves a folder over HTTP and
reloads open pages; it knows nothing of essays. This module wires the essays to it: a
watchdog observer reports changes, a debounce waits for the burst of saves to end, and a
build thread runs `build()` and then tells the server `reloaded(errors)`.

The server never shows a half-built page: a build writes a new folder and swaps it in
under `swap_lock`, and the server opens files under the same lock. A failed build leaves
the last good site and puts its errors in an overlay over the open pages.

Slow cells (builder/live.py): a save starts a build at once, even while an earlier one
waits for a slow cell; the new build runs the saved essay first, shares the earlier build's
run of any essay whose cells did not change, and publishes each essay's page as soon as it
is done, one file renamed into place under the same lock. Only the newest build publishes
or swaps. A cell that timed out is not run again while it is unchanged
(execution/timeouts.py), and the terminal names a cell that runs for a while.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from builder.build import build
from builder.config import Config
from builder.errors import EssaysError, Interrupted
from builder.execution.cancel import CancelToken
from builder.execution.timeouts import Timeouts
from builder.live import LiveBuild, SharedRuns, Superseded
from builder.paths import SITE_MARKER
from builder.progress import Reporter, ServeReporter
from builder.settings import settings_path

from .livereload import LiveReloadServer, host_port, network_warning

PACKAGE = Path(__file__).resolve().parents[1]  # builder/
ROOT = PACKAGE.parent
DEBOUNCE = 0.05  # seconds of quiet after the last change before a rebuild starts
STOP_GRACE = 15.0  # seconds stop() waits for an interrupted build to wind down
IGNORED_SUFFIXES = ("~", ".swp", ".swx", ".tmp", ".pyc")


class BuildCancelled(Interrupted):
    """The server began to stop while a build ran: its site must not be swapped in."""


class _SwapGate:
    """The swap lock as a build sees it. A build still running when stop() begins had its
    cells killed, so its pages would show that; refusing the swap keeps the last good site.
    A build that a newer one superseded is refused too: its pages are older."""

    def __init__(self, server: DevServer, generation: int) -> None:
        self.server = server
        self.generation = generation

    def __enter__(self) -> _SwapGate:
        self.server.swap_lock.acquire()
        if self.server.stopping:
            self.server.swap_lock.release()
            raise BuildCancelled("the server is stopping")
        if self.generation < self.server.latest:
            self.server.swap_lock.release()
            raise Superseded("a newer build is running")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.swap_lock.release()


class DevServer:
    """The watcher, the debounce and the build thread, around a LiveReloadServer (`server`)
    that serves what the builds write. Binds at once: an OSError says why it cannot."""

    def __init__(
        self,
        config: Config,
        host: str = "127.0.0.1",
        port: int = 8000,
        reporter: Reporter | None = None,
        watch: list[Path] | None = None,
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        """`watch`: the folders whose changes rebuild; by default the essays, and the
        templates, static files, runtime and shaders that every page is made from.
        `allowed_hosts`: host names to answer besides the local ones (LiveReloadServer)."""
        self.config = config
        # where the lines on slow cells, timeouts and early pages go (tests collect them)
        self.say: Callable[[str], None] = self._print
        # the terminal names a cell that runs for a while (`progress_after` seconds)
        self.reporter = ServeReporter(reporter, say=self._said)
        self._watch_list = watch
        self.debounce = DEBOUNCE
        # a plain Lock, not the server's default: _SwapGate acquires and releases it by hand
        self.swap_lock = threading.Lock()
        # guards the build's own state below; notified when a change comes in, a build ends
        # or stop() begins. Held around server.reloaded() (then the server's lock: that order)
        self.state = threading.Condition()
        self.stopping = False
        self.building = 0  # builds running: a save starts one while another waits for a cell
        self.latest = 0  # the newest build's number: only it may publish or swap
        self._tokens: set[CancelToken] = set()  # the running builds'
        self._threads: set[threading.Thread] = set()
        self.runs = SharedRuns()  # essays running, shared between builds (builder/live.py)
        self.timeouts = Timeouts(said=self._said)  # cells that timed out, not run again unchanged
        self._last_change = 0.0
        self._dirty = False
        self._stopped = False
        # the site folder is swapped by each build: the server looks the path up per request
        self.server = LiveReloadServer(
            lambda: self.config.output, host, port, lock=self.swap_lock, allowed_hosts=allowed_hosts
        )
        self._builder: threading.Thread | None = None
        self._observer: Any = None  # watchdog's Observer, imported when watching starts
        self._watched_abs: list[Path] = []
        # where builds write: events there are the build's own, never a reason to rebuild
        self._own = [config.output.resolve(), config.cache_root.resolve()]
        # files the cells write into the essays folder (a saved figure): outputs, not edits
        self._generated: set[Path] = set()
        self._changes: set[Path] = set()  # what changed since the running build began

    # what the live-reload layer knows, as the server's own (tests, benchmarks, serve())

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def loopback(self) -> bool:
        return self.server.loopback

    @property
    def epoch(self) -> int:
        """Builds finished (swapped in or failed) since the server started."""
        return self.server.epoch

    @property
    def errors(self) -> list[str]:
        """What the overlay shows: essays the last build could not read, or why it failed."""
        return self.server.errors

    @property
    def instance(self) -> str:
        return self.server.instance

    # -- building ------------------------------------------------------------------------

    @property
    def progress_after(self) -> float:
        """Seconds a cell runs before the terminal names it."""
        return self.reporter.after

    @progress_after.setter
    def progress_after(self, seconds: float) -> None:
        self.reporter.after = seconds

    def _said(self, line: str) -> None:
        self.say(line)  # looked up at each line: `say` may be replaced after start

    def _print(self, line: str) -> None:
        if not self.config.quiet:
            print(line, flush=True)

    def rebuild(
        self, cancel: CancelToken | None = None, generation: int | None = None, first: frozenset[Path] = frozenset()
    ) -> None:
        """One build, swapped in and reloaded; `cancel`: its token (the build loop's, so
        that stop() can end it); `generation`: its number, from the build loop (None: the
        next); `first`: the essays just saved, which run first."""
        started = time.monotonic()
        if generation is None:
            with self.state:
                self.latest += 1
                generation = self.latest
        number = generation
        live = LiveBuild(
            publish=lambda pages: self.publish(number, pages),
            runs=self.runs,
            timeouts=self.timeouts,
            first=first,
            superseded=lambda: self.stopping or number < self.latest,
        )
        try:
            result = build(
                self.config, swap_lock=_SwapGate(self, generation), reporter=self.reporter, cancel=cancel, live=live
            )
            # the terminal lists what `essays build --strict` would refuse; the overlay names
            # the essays that could not be read (their last good page stays): a failing cell
            # shows on its own page
            diagnostics = result.diagnostics.for_strict()
            problems = [str(d) for d in diagnostics.errors()]
            warnings = [str(d) for d in diagnostics.warnings()]
            errors = [str(d) for d in diagnostics.of_kind("essay")]
            with self.state:
                self._generated = {Path(os.path.abspath(p)) for p in result.generated}
                if self._dirty and self._changes <= self._generated:
                    self._dirty = False  # the build's own writes, seen while it ran
        except (BuildCancelled, Superseded):
            return
        except Exception as exc:  # a template error: keep serving the last good site
            if live.superseded():  # a newer build has the say (a cancelled run, say)
                return
            errors = problems = [f"the build failed: {type(exc).__name__}: {exc}"]
            warnings = []
        with self.state:  # held: stop() must not begin between this check and the epoch's move
            if self.stopping or generation < self.latest:
                return
            self.server.reloaded(errors)
        if not self.config.quiet:
            print(f"rebuilt in {time.monotonic() - started:.2f} s: {build_status(problems, warnings)}", flush=True)
            for line in problems:
                print(f"  {line}", file=sys.stderr, flush=True)
            for line in warnings:
                print(f"  warning: {line}", file=sys.stderr, flush=True)

    def publish(self, generation: int, pages: dict[str, str]) -> bool:
        """Put pages of build `generation` into the served site before the build ends: each
        written beside its place and renamed over it, under the lock the server opens files
        under, so a request gets the old page or the new one. Refused for a build that a
        newer one superseded, while stopping, and before the first site is in place; pages
        that are already as given are left alone. Open pages reload when one changed."""
        written = []
        with self.swap_lock:
            site = self.config.output
            if self.stopping or generation < self.latest or not (site / SITE_MARKER).is_file():
                return False
            for name, text in pages.items():
                data = text.encode("utf-8")
                target = site / name
                try:
                    if target.read_bytes() == data:
                        continue
                except OSError:
                    pass
                temporary = site / f".{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
                temporary.write_bytes(data)
                os.replace(temporary, target)
                written.append(name)
        if not written:
            return False
        with self.state:
            if self.stopping:
                return False
            self.server.reloaded(self.server.errors)
        self.say(f"published {', '.join(written)} (other essays still running)")
        return True

    def changed(self, path: str) -> None:
        """A watched file changed: schedule a rebuild once the burst of saves is over."""
        if self._ignored(Path(path)):
            return
        with self.state:
            self._last_change = time.monotonic()
            self._dirty = True
            self._changes.add(Path(os.path.abspath(path)))
            self.state.notify_all()

    def _ignored(self, path: Path) -> bool:
        """Editor droppings, caches, hidden folders and the build's own output."""
        if path.name.endswith(IGNORED_SUFFIXES):
            return True
        path = Path(os.path.abspath(path))
        if path in self._generated:
            return True
        for own in self._own:
            if path == own or own in path.parents:
                return True
        rel = next((path.relative_to(w) for w in self._watched_abs if w == path or w in path.parents), Path(path.name))
        return any(part.startswith(".") or part == "__pycache__" for part in rel.parts)

    def _build_loop(self) -> None:
        """Start a build once the burst of saves is over; while a build runs too: a newer
        one supersedes it, sharing the runs it still waits for (builder/live.py)."""
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
                first = frozenset(p for p in self._changes if p.suffix == ".md")
                self._changes.clear()
                self.building += 1
                self.latest += 1
                # made under the lock that stop() takes to read them: a build that starts is
                # either seen by stop() or never starts
                cancel = CancelToken()
                self._tokens.add(cancel)
                thread = threading.Thread(
                    target=self._one_build, args=(cancel, self.latest, first), name=f"essays-build-{self.latest}"
                )
                thread.daemon = True
                self._threads.add(thread)
                thread.start()

    def _one_build(self, cancel: CancelToken, generation: int, first: frozenset[Path]) -> None:
        try:
            self.rebuild(cancel, generation, first)
        finally:
            with self.state:
                self.building -= 1
                self._tokens.discard(cancel)
                self._threads.discard(threading.current_thread())
                self.state.notify_all()

    def idle(self) -> bool:
        """No build running and none pending (for tests and benchmarks)."""
        with self.state:
            return not self.building and not self._dirty

    # -- watching ------------------------------------------------------------------------

    def watched(self) -> list[Path]:
        folders = self._watch_list
        if folders is None:
            folders = [
                self.config.source,
                PACKAGE / "templates",
                PACKAGE / "static",
                ROOT / "runtime",
                ROOT / "shaders",  # a checkout's WGSL (installed from a wheel, they are in runtime/)
            ]
        return [p for p in folders if p.is_dir()]

    def _watch(self) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        server = self

        class OnChange(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return
                if event.is_directory and event.event_type == "modified":
                    return  # a folder's time changes with what is made in it: that has its own event
                for path in (event.src_path, getattr(event, "dest_path", "")):
                    if path:  # a rename counts for both names: saving by rename, or moving out
                        server.changed(str(path))

        class OnSettings(OnChange):
            # essays.toml sits beside the essays, in a folder (often the repository) whose
            # other files are none of the site's business: that one file, and only it
            def on_any_event(self, event: FileSystemEvent) -> None:
                names = {os.path.abspath(p) for p in (event.src_path, getattr(event, "dest_path", "")) if p}
                if str(settings) in names:
                    super().on_any_event(event)

        self._watched_abs = [p.resolve() for p in self.watched()]
        observer = Observer()
        for path in self._watched_abs:
            observer.schedule(OnChange(), str(path), recursive=True)
        settings = Path(os.path.abspath(settings_path(self.config.source)))
        if settings.parent.is_dir() and not any(
            w == settings.parent or w in settings.parent.parents for w in self._watched_abs
        ):
            observer.schedule(OnSettings(), str(settings.parent), recursive=False)
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
        self.server.start()

    def stop(self) -> None:
        with self.state:
            if self._stopped:
                return
            self._stopped = self.stopping = True
            tokens = list(self._tokens)
            threads = list(self._threads)
            self.state.notify_all()
        if self._observer is not None:
            self._observer.stop()
        self.reporter.close()
        # The builds in progress end now, not when their cells do: the same stop as Ctrl+C
        # in `essays build` (no worker may start to recover an essay's state meanwhile).
        # Their essays run under tokens of their own (shared between builds): stopped first.
        self.runs.stop()
        done = lambda: not any(t.is_alive() for t in threads)  # noqa: E731
        for token in tokens:
            token.cancel(done, STOP_GRACE)
        self.server.shutdown()  # the event streams end; pages wait for a server to reconnect to
        if self._observer is not None:
            self._observer.join(timeout=5)
        self.runs.stop()  # a run that outlived the grace: what it still holds ends now
        for token in tokens:
            token.cancel()


def serve(
    config: Config,
    host: str = "127.0.0.1",
    port: int = 8000,
    reporter: Reporter | None = None,
    allowed_hosts: Sequence[str] = (),
) -> int:
    """Serve until Ctrl+C or SIGTERM; 0 then. EssaysError (exit 1) when it cannot listen."""
    try:
        server = DevServer(config, host, port, reporter, allowed_hosts=allowed_hosts)
    except OSError as exc:
        raise EssaysError(f"cannot listen on {host_port(host, port)}: {exc.strerror or exc}") from exc

    def on_term(signum: int, frame: object) -> None:
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


def build_status(problems: list[str], warnings: list[str]) -> str:
    """The dev server's word on a rebuild: "ok" only when there is nothing to say."""
    parts = [
        f"{len(items)} {word}{'' if len(items) == 1 else 's'}"
        for items, word in ((problems, "problem"), (warnings, "warning"))
        if items
    ]
    return ", ".join(parts) or "ok"
