"""The page starts from the build's state (issue 18): a fixture essay whose two first cells
do at least 20 s of pure-Python work at build time; with Pyodide already loaded, a reader
edits the last cell and presses Run. Time from the click to the cell's output, resumed
(the page fetches the one value the cell reads) against not resumed (the state's files
blocked, as offline: the cells above run in Pyodide first), and the bytes shipped.

Run: python benchmarks/bench_resume.py [SECONDS]  (or `make bench`; SECONDS of work at
build time, 20 by default)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser"), str(ROOT / "tests")]

from conftest import ARGS, CHROMIUM, build_fixture_site, serve

DONE = "(i) => /^(done|failed)/.test(document.querySelector(`[data-cell='${i}'] .cell-state`).textContent)"
STATUS = "document.querySelector('.kernel-status')?.textContent || ''"


def collatz_steps(n: int) -> int:
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def numbers_for(seconds: float) -> int:
    """How many numbers' Collatz steps take `seconds` here, by a short calibration."""
    sample = 20_000
    started = time.perf_counter()
    for n in range(1, sample):
        collatz_steps(n)
    per_number = (time.perf_counter() - started) / sample
    return max(sample, int(seconds / per_number))


ESSAY = """\
# Resume benchmark

<script>
def collatz_steps(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


first = max(range(1, {half}), key=collatz_steps)
</script>

<script>
second = max(range({half}, {total}), key=collatz_steps)
</script>

<script>
print(first, second)
</script>
"""


def run_last(browser, url: str, offline: bool) -> tuple[float, str, str]:
    """(seconds from Run to the last cell's output, its output, the status line)."""
    context = browser.new_context()
    context.set_default_timeout(900_000)
    page = context.new_page()
    if offline:
        page.route("**/_static/state/**", lambda route: route.abort())
    page.goto(url)
    page.wait_for_function("window.essayPage && essayPage.cells.length")
    last = page.locator("[data-cell='2']")
    last.hover()
    editor = last.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    editor.fill("print('longest:', first, second)")  # the edit loads Pyodide
    page.wait_for_function("document.querySelector('.kernel-status')?.dataset.state === 'ready'")
    started = time.perf_counter()
    last.get_by_role("button", name="Run").click()
    page.wait_for_function(DONE, arg=2)
    seconds = time.perf_counter() - started
    page.wait_for_function(f"({STATUS}) && !({STATUS}).startsWith('Running')")
    result = (seconds, last.locator("[data-output]").inner_text(), page.evaluate(STATUS))
    context.close()
    return result


def main() -> None:
    from playwright.sync_api import sync_playwright

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    total = numbers_for(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        essays = Path(tmp) / "fixture"
        essays.mkdir()
        (essays / "01-resume.md").write_text(ESSAY.format(half=total // 2, total=total), encoding="utf-8")
        started = time.perf_counter()
        folder = build_fixture_site(Path(tmp), fixtures=essays, report=Path(tmp) / "report.json")
        built = time.perf_counter() - started
        report = json.loads((Path(tmp) / "report.json").read_text(encoding="utf-8"))
        cells = [c["seconds"] for c in report["essays"][0]["cells"]]
        state = report["essays"][0].get("state", {})
        server, url = serve(folder)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                rows = [("resumed", *run_last(browser, url + "01-resume.html", offline=False))]
                rows.append(("not resumed (state blocked)", *run_last(browser, url + "01-resume.html", offline=True)))
                browser.close()
        finally:
            server.shutdown()
    print(f"build: {built:.1f} s; the cells above the last took {cells[0] + cells[1]:.1f} s at build time")
    print(f"state shipped: {state.get('values', 0)} values, {state.get('bytes', 0)} bytes")
    print(f"{'edit the last cell, Run':<30} {'to output':>10}  status")
    for name, took, output, status in rows:
        print(f"{name:<30} {took:>8.1f} s  {status}")
        assert output.startswith("longest:"), output


if __name__ == "__main__":
    main()
