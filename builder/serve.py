"""`essays serve`: build, then serve the site on 127.0.0.1."""

from __future__ import annotations

import functools
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from .build import build
from .config import Config


class QuietHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm", ".mjs": "text/javascript"}

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


def serve(config: Config, host: str = "127.0.0.1", port: int = 8000) -> int:
    result = build(config)
    for line in result.failures:
        print(f"  {line}", file=sys.stderr)
    handler = functools.partial(QuietHandler, directory=str(config.output))
    with ThreadingHTTPServer((host, port), handler) as server:
        print(f"serving {config.output} on http://{host}:{port}/ (Ctrl+C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0
