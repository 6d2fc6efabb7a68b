"""Browser tests: a site built from tests/fixtures/browser, served on 127.0.0.1, driven
by Playwright in Debian's Chromium (headless, WebGPU through SwiftShader)."""

from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from support import CHROMIUM, FIXTURES, ROOT
from support import CHROMIUM_ARGS as ARGS

FIXTURES = FIXTURES / "browser"
LOAD_TIMEOUT = 90_000  # ms: Pyodide's first load on a busy 2-core machine


class Quiet(SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".mjs": "text/javascript",
    }

    def log_message(self, *args) -> None:
        pass


def serve(directory: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def build_fixture_site(tmp: Path, fixtures: Path = FIXTURES, **config) -> Path:
    from builder.build import build
    from builder.config import Config

    essays = tmp / "essays"
    shutil.copytree(fixtures, essays)
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        result = build(Config(source=Path("essays"), output=Path("site"), use_cache=False, **config))
    finally:
        os.chdir(cwd)
    assert not result.failures, result.failures
    return tmp / "site"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium when run as root")
    if not (ROOT / "node_modules" / "pyodide" / "pyodide.mjs").exists():
        pytest.skip("node_modules/pyodide is missing: run `make install` (npm ci)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """(folder, url) of the fixture site, built once per session."""
    folder = build_fixture_site(tmp_path_factory.mktemp("browser-site"))
    server, url = serve(folder)
    yield folder, url
    server.shutdown()


@pytest.fixture(scope="session")
def isolated_site(site):
    """(folder, url) of the same site served by the dev server's HTTP layer
    (builder/serve/livereload.py), whose COOP and COEP headers make pages cross-origin isolated."""
    from builder.serve.livereload import LiveReloadServer

    live = LiveReloadServer(site[0], "127.0.0.1", 0)
    live.reloaded([])
    live.start()
    yield site[0], live.url
    live.shutdown()


def open_essay(context, url: str):
    """A page opened, with its editors loaded (they load on the first pointer on a cell)."""
    page = context.new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(url)
    page.wait_for_function("window.essayPage && window.essayPage.cells.length > 0")
    page.locator("[data-cell='0']").hover()
    page.locator("[data-cell='0'] .cm-content").wait_for()
    return page


@pytest.fixture
def context(browser):
    context = browser.new_context()
    context.set_default_timeout(LOAD_TIMEOUT)
    yield context
    context.close()


@pytest.fixture
def page(context, site):
    """The fixture essay, opened, its editors loaded; every request it makes is recorded in
    page.requests and every uncaught error in page.errors."""
    return open_essay(context, site[1] + "01-page.html")
