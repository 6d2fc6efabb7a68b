"""`essays serve`, in two layers as in MkDocs: `livereload` serves a folder over HTTP (files,
ETags, path and Host checks, Server-Sent Events, the reload script) and knows nothing of
essays; `watch` wires a watchdog watcher, a debounce and `build()` to it, swapping each new
site in under the server's lock and telling open pages to reload.
"""
