"""The page runtime in headless Chromium: bytes before the first interaction, time from
the first Run click to the first output, and a re-run of a small cell.

Run: python benchmarks/bench_page.py  (or `make bench`)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser")]

from conftest import ARGS, CHROMIUM, build_fixture_site, serve

DONE = "(i) => /^(done|failed)/.test(document.querySelector(`[data-cell='${i}'] .cell-state`).textContent)"


def transferred(page, url: str) -> int:
    """Bytes of every response the page loads before anyone touches it."""
    sizes = []
    page.on("response", sizes.append)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return sum(len(r.body()) for r in sizes if r.ok)


def main(runs: int = 3) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_fixture_site(Path(tmp))
        server, url = serve(folder)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            ctx = browser.new_context()
            plain = transferred(ctx.new_page(), url + "02-data.html")
            chart = transferred(ctx.new_page(), url + "01-page.html")
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
            browser.close()
        server.shutdown()
    print("Page runtime, headless Chromium on this machine")
    print(f"{'measure':<46}{'value':>14}{'target':>12}")
    print(f"{'bytes before first interaction, no chart':<46}{plain:>14,}{'':>12}")
    print(f"{'bytes before first interaction, with plotly.js':<46}{chart:>14,}{'':>12}")
    print(f"{'first Run click -> first output (median)':<46}{statistics.median(first):>13.2f}s{'< 5 s':>12}")
    print(f"{'re-run of a small cell, click to output':<46}{statistics.median(rerun) * 1000:>12.0f}ms{'< 100 ms':>12}")
    print(
        f"{'re-run of a small cell, as the page times it':<46}{statistics.median(inside) * 1000:>12.0f}ms{'< 100 ms':>12}"
    )


if __name__ == "__main__":
    main()
