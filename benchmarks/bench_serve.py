"""Dev server under a burst of clients: CLIENTS threads at once, each making REQUESTS
requests in turn for a page and a static file (http.client; the server answers HTTP/1.0, so
every request is a new connection). With the old listen backlog of 5, a burst like this
waited 1-15 s on SYN retries. A small site built in a temporary folder; the server and the
clients share one process (and its GIL), so the figures are a floor, not a ceiling.

Run: python benchmarks/bench_serve.py  (or `make bench`)
"""

from __future__ import annotations

import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.config import Config
from builder.serve.watch import DevServer

CLIENTS = 50
REQUESTS = 40  # per client, page and static file in turn
DEADLINE = 25.0  # seconds: clients stop early past this, so the run stays bounded
TIMEOUT = 20.0  # seconds one request may take before it counts as an error
PAGE = "/01-bench.html"
STATIC = "/_static/style.css"

ESSAY = """# Bench

A small page for the dev server benchmark.

<script>
squares = [i * i for i in range(10)]
print(sum(squares))
</script>
"""


def client(
    host: str,
    port: int,
    start: threading.Barrier,
    stop_at: float,
    times: dict[str, list[float]],
    errors: dict[str, list[str]],
    lock: threading.Lock,
) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    mine: dict[str, list[float]] = {PAGE: [], STATIC: []}
    failed: dict[str, list[str]] = {PAGE: [], STATIC: []}
    start.wait()
    try:
        for i in range(REQUESTS):
            if time.monotonic() > stop_at:
                break
            path = PAGE if i % 2 == 0 else STATIC
            began = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failed[path].append(f"{path}: {response.status}")
                    continue
            except (OSError, http.client.HTTPException) as exc:
                failed[path].append(f"{path}: {type(exc).__name__}: {exc}")
                conn.close()
                continue
            mine[path].append(time.perf_counter() - began)
    finally:
        conn.close()
        with lock:
            for path in (PAGE, STATIC):
                times[path].extend(mine[path])
                errors[path].extend(failed[path])


def run(dev: DevServer) -> tuple[dict[str, list[float]], dict[str, list[str]], float]:
    """Seconds of each request that succeeded, and why the others failed, by path."""
    host, port = dev.address
    times: dict[str, list[float]] = {PAGE: [], STATIC: []}
    errors: dict[str, list[str]] = {PAGE: [], STATIC: []}
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS + 1)
    stop_at = time.monotonic() + DEADLINE
    threads = [
        threading.Thread(target=client, args=(host, port, start, stop_at, times, errors, lock), daemon=True)
        for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(max(0.0, stop_at - time.monotonic()) + TIMEOUT)
    return times, errors, time.perf_counter() - began


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(tmp)
        (work / "essays").mkdir()
        (work / "essays" / "01-bench.md").write_text(ESSAY, encoding="utf-8")
        cwd = os.getcwd()
        os.chdir(work)  # cells name their files relative to here, as in a real build
        try:
            config = Config(source=work / "essays", output=work / "site", cache_dir=work / "cache", quiet=True)
            dev = DevServer(config, "127.0.0.1", 0, watch=[config.source])
            try:
                dev.start()
                times, errors, seconds = run(dev)
            finally:
                dev.stop()
        finally:
            os.chdir(cwd)

    print(
        f"Dev server, {CLIENTS} clients at once, up to {REQUESTS} requests each "
        f"(a page and {STATIC} in turn, a new connection each), {seconds:.1f} s in all"
    )
    print(f"{'requests for':<18}{'done':>7}{'errors':>8}{'per s':>8}{'median ms':>11}{'p99 ms':>8}{'worst ms':>10}")
    rows = [
        ("the page", times[PAGE], errors[PAGE]),
        ("the static file", times[STATIC], errors[STATIC]),
        ("all", times[PAGE] + times[STATIC], errors[PAGE] + errors[STATIC]),
    ]
    for name, done, failed in rows:
        ms = sorted(t * 1000 for t in done)
        if not ms:
            print(f"{name:<18}{0:>7}{len(failed):>8}")
            continue
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        print(
            f"{name:<18}{len(ms):>7}{len(failed):>8}{len(ms) / seconds:>8.0f}"
            f"{statistics.median(ms):>11.1f}{p99:>8.1f}{ms[-1]:>10.1f}"
        )
    for line in sorted(set(errors[PAGE] + errors[STATIC]))[:5]:
        print(f"error: {line}")


if __name__ == "__main__":
    main()
