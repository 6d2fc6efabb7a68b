"""A reader's slider move to an updated chart (issue 23): once Pyodide is ready, the time
from a key press on a slider to the end of Plotly's redraw of the chart in the cell that
reads it, both cheap cells; the median of 20 moves (the target: 200 ms or less). Timed in
the page itself (performance.now() at the keydown, and at Plotly's plotly_afterplot), so
Playwright's polling adds nothing. The page is served as a static host would, without
cross-origin isolation.

Run: python benchmarks/bench_controls.py  (or `make bench`)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser"), str(ROOT / "tests")]

from conftest import ARGS, CHROMIUM, build_fixture_site, serve

MOVES = 20
ESSAY = """---
title: A slider and a chart
---

# A slider and a chart

<script>
from runtime.ui import slider
n = slider("n", 0, 10, value=3, step=1, integer=True)
</script>

<script>
show({"data": [{"type": "bar", "x": ["n", "n squared"], "y": [n, n * n]}]}, "chart")
</script>
"""

# In the page: the time of each keydown on the slider, and of each redraw that follows one
LISTEN = """() => {
  const chart = document.querySelector("[data-cell='1'] .figure");
  const slider = document.querySelector("[data-cell='0'] input[type=range]");
  window.bench = { pressed: 0, drawn: [] };
  slider.addEventListener("keydown", () => { window.bench.pressed = performance.now(); });
  chart.on("plotly_afterplot", () => {
    if (window.bench.pressed) window.bench.drawn.push(performance.now() - window.bench.pressed);
    window.bench.pressed = 0;
  });
}"""
DONE = "(i) => /^done/.test(document.querySelector(`[data-cell='${i}'] .cell-state`).textContent)"


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        fixtures = Path(tmp) / "fixtures"
        fixtures.mkdir()
        (fixtures / "01-slider.md").write_text(ESSAY, encoding="utf-8")
        site = build_fixture_site(Path(tmp), fixtures)
        server, url = serve(site)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                page = browser.new_page()
                page.set_default_timeout(120_000)
                page.goto(url + "01-slider.html")
                slider = page.locator("[data-cell='0'] input[type=range]")
                # the first move loads Pyodide and runs both cells: not timed
                slider.press("ArrowRight")
                page.wait_for_function(DONE, arg=1)
                page.wait_for_function("document.querySelector(\"[data-cell='1'] .figure\").on !== undefined")
                page.evaluate(LISTEN)
                for i in range(MOVES):
                    page.evaluate("document.querySelector(\"[data-cell='1'] .cell-state\").textContent = ''")
                    slider.press("ArrowLeft" if i % 2 == 0 else "ArrowRight")
                    page.wait_for_function(DONE, arg=1)
                    page.wait_for_function(f"window.bench.drawn.length === {i + 1}")
                times = page.evaluate("window.bench.drawn")
                browser.close()
        finally:
            server.shutdown()
    print(f"slider move -> chart redrawn, {MOVES} moves after Pyodide was ready")
    print(f"  median {statistics.median(times):7.1f} ms   (target: 200 ms or less)")
    print(f"  min    {min(times):7.1f} ms")
    print(f"  max    {max(times):7.1f} ms")


if __name__ == "__main__":
    main()
