"""The page runtime in headless Chromium: bytes before the first interaction (a chart page
and a plain one), time from the first Run click to the first output (cold), a re-run of a
small cell, how long Stop takes to end `while True` (interrupted where the page is
cross-origin isolated, as under `essays serve`; the worker restarted where it is not), and
the longest main-thread task while a 5 s cell runs in the worker.

Run: python benchmarks/bench_page.py  (or `make bench`)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser"), str(ROOT / "tests")]

from conftest import ARGS, CHROMIUM, build_fixture_site, serve

DONE = "(i) => /^(done|failed)/.test(document.querySelector(`[data-cell='${i}'] .cell-state`).textContent)"


def transferred(page, url: str, scroll: bool = False) -> int:
    """Bytes of every response the page loads before anyone touches it; with `scroll`, after
    a reader scrolls to the end (every chart drawn), still without touching a cell."""
    sizes = []

    def seen(response) -> None:  # a def: Playwright cannot wrap a builtin such as list.append
        sizes.append(response)

    page.on("response", seen)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if scroll:
        page.mouse.move(0, 0)  # off the cells: a pointer over one would load the editor
        height = page.evaluate("document.body.scrollHeight")
        for y in range(0, height, 600):  # a reader scrolling through, a screen at a time
            page.evaluate(f"window.scrollTo(0, {y})")
            page.wait_for_timeout(30)
        page.wait_for_function(
            "[...document.querySelectorAll('[data-figure]')].every(f => f.classList.contains('js-plotly-plot'))",
            timeout=60_000,
        )
        page.wait_for_load_state("networkidle")
    return sum(len(r.body()) for r in sizes if r.ok)


STOP = """(i) => new Promise((resolve) => {
    const s = document.querySelector(`[data-cell='${i}'] .cell-state`);
    const t0 = performance.now();
    const seen = () => /^stopped/.test(s.textContent) && resolve(performance.now() - t0);
    new MutationObserver(seen).observe(s, {childList: true, characterData: true, subtree: true});
    document.querySelector(`[data-cell='${i}'] button[aria-label=Stop]`).click();
})"""

LONGEST_TASK = """(i) => new Promise((resolve) => {
    let longest = 0;
    const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) longest = Math.max(longest, entry.duration);
    });
    observer.observe({type: "longtask"});
    const s = document.querySelector(`[data-cell='${i}'] .cell-state`);
    new MutationObserver(() => {
        if (/^(done|failed)/.test(s.textContent)) { observer.disconnect(); resolve(longest); }
    }).observe(s, {childList: true, characterData: true, subtree: true});
    document.querySelector(`[data-cell='${i}'] button[aria-label=Run]`).click();
})"""


def open_ready(browser, url: str):
    """A fresh context's page with Python loaded (the first run done)."""
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_function("window.essayPage && essayPage.cells.length")
    page.locator("[data-cell='0']").get_by_role("button", name="Run").click()
    page.wait_for_function(DONE, arg=0, timeout=120_000)
    return ctx, page


def stop_latency(browser, url: str, runs: int) -> list[float]:
    """Seconds from a click on Stop to the cell saying it stopped, for `while True: pass`."""
    ctx, page = open_ready(browser, url)
    times = []
    for _ in range(runs):
        page.evaluate("essayPage.cells[0].editor.set('while True:\\n    pass')")
        page.locator("[data-cell='0']").get_by_role("button", name="Run").click()
        page.wait_for_function("/running/.test(document.querySelector(\"[data-cell='0'] .cell-state\").textContent)")
        page.wait_for_timeout(300)
        times.append(page.evaluate(STOP, 0) / 1000)
        page.wait_for_function("essayPage.cells[0].runButton.disabled === false")
    ctx.close()
    return times


def longest_task(browser, url: str, seconds: float = 5) -> float:
    """The longest main-thread task (ms) while a cell computes for `seconds` in the worker."""
    ctx, page = open_ready(browser, url)
    code = f"import time\\n_t = time.time()\\nwhile time.time() - _t < {seconds}:\\n    pass"
    page.evaluate(f"essayPage.cells[0].editor.set('{code}')")
    longest = page.evaluate(LONGEST_TASK, 0)
    ctx.close()
    return longest


def main(runs: int = 3) -> None:
    from playwright.sync_api import sync_playwright

    from builder.build import build
    from builder.config import Config
    from builder.serve.livereload import LiveReloadServer

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_fixture_site(Path(tmp))
        server, url = serve(folder)
        # the bigram essay: the real chart page (its charts far below the fold)
        essays_site = Path(tmp) / "essays-site"
        build(Config(source=ROOT / "essays", output=essays_site, use_cache=False))
        essays_server, essays_url = serve(essays_site)
        live = LiveReloadServer(folder, "127.0.0.1", 0)  # the dev server: COOP and COEP
        live.reloaded([])
        live.start()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            ctx = browser.new_context()
            plain = transferred(ctx.new_page(), url + "02-data.html")
            chart = transferred(ctx.new_page(), url + "01-page.html")
            ctx.close()
            ctx = browser.new_context()
            bigram = transferred(ctx.new_page(), essays_url + "01-bigram.html")
            ctx.close()
            ctx = browser.new_context()
            bigram_charts = transferred(ctx.new_page(), essays_url + "01-bigram.html", scroll=True)
            ctx.close()
            first, rerun, inside = [], [], []
            for _ in range(runs):
                ctx = browser.new_context()  # a cold cache: a first-time reader
                page = ctx.new_page()
                page.goto(url + "02-data.html")
                page.wait_for_function("window.essayPage && essayPage.cells.length")
                start = time.perf_counter()
                page.locator("[data-cell='0']").get_by_role("button", name="Run").click()
                page.wait_for_function(DONE, arg=0, timeout=120_000)
                first.append(time.perf_counter() - start)
                for _ in range(10):
                    page.evaluate("document.querySelector(\"[data-cell='0'] .cell-state\").textContent = ''")
                    start = time.perf_counter()
                    page.locator("[data-cell='0']").get_by_role("button", name="Run").click()
                    page.wait_for_function(DONE, arg=0)
                    rerun.append(time.perf_counter() - start)
                    state = page.locator("[data-cell='0'] .cell-state").inner_text()
                    inside.append(float(state.split(" in ")[1].split()[0]) / 1000)
                ctx.close()
            isolated_stop = stop_latency(browser, live.url + "02-data.html", runs)
            restart_stop = stop_latency(browser, url + "02-data.html", runs)
            longest = longest_task(browser, live.url + "02-data.html")
            browser.close()
        live.shutdown()
        server.shutdown()
        essays_server.shutdown()
    rows = [
        ("bytes before first interaction, no chart", f"{plain:,}", ""),
        ("bytes before first interaction, chart in view", f"{chart:,}", "<= 1,600,000"),
        ("bytes before first interaction, bigram essay", f"{bigram:,}", "<= 1,600,000"),
        ("bigram essay scrolled to the end, charts drawn", f"{bigram_charts:,}", ""),
        ("first Run click -> first output, cold (median)", f"{statistics.median(first):.2f} s", "< 5 s"),
        ("re-run of a small cell, click to output", f"{statistics.median(rerun) * 1000:.0f} ms", "< 100 ms"),
        ("re-run of a small cell, as the page times it", f"{statistics.median(inside) * 1000:.0f} ms", "< 100 ms"),
        ("Stop on while True, isolated (interrupt, worst)", f"{max(isolated_stop) * 1000:.0f} ms", "< 1000 ms"),
        ("Stop on while True, not isolated (restart, worst)", f"{max(restart_stop) * 1000:.0f} ms", "< 1000 ms"),
        ("longest main-thread task while a 5 s cell runs", f"{longest:.0f} ms", "< 200 ms"),
    ]
    print("Page runtime, headless Chromium on this machine")
    print(f"{'measure':<52}{'value':>14}{'target':>16}")
    for name, value, target in rows:
        print(f"{name:<52}{value:>14}{target:>16}")


if __name__ == "__main__":
    main()
