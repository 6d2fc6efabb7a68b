"""Rebuild speed (issue 5): a cold build of all essays against a warm rebuild with nothing
changed, and against a rebuild after an edit of the last cell of the bigram essay; and the
time from saving a prose edit to the reloaded page, with the dev server and headless
Chromium. All in one process, on a copy of essays/ (the repository's cache and site are
never touched).

Run: python benchmarks/bench_rebuild.py  (or `make bench`)
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.build import build
from builder.config import Config
from builder.records import BuildResult

BIGRAM = "01-bigram.md"
CHROMIUM = "/usr/bin/chromium"
RELOADS = 20
WARM_RUNS = 3
EDIT_RUNS = 3


def copy_essays(dest: Path) -> Path:
    essays = dest / "essays"
    shutil.copytree(ROOT / "essays", essays, ignore=shutil.ignore_patterns(".*", "__pycache__"))
    return essays


def timed(config: Config) -> tuple[float, BuildResult]:
    start = time.perf_counter()
    result = build(config)
    return time.perf_counter() - start, result


def cells_run(result: BuildResult) -> tuple[int, int]:
    results = [r for e in result.essays for r in e.results]
    return sum(1 for r in results if not r.cached), len(results)


def edit_last_cell(path: Path, n: int) -> None:
    """Change the source of the essay's last cell (a new line before its </script>)."""
    text = path.read_text(encoding="utf-8")
    end = text.rindex("</script>")
    body = text[:end].rsplit("\n_bench_edit = ", 1)[0].rstrip("\n")
    path.write_text(f"{body}\n_bench_edit = {n}\n{text[end:]}", encoding="utf-8")


PAGE_TIMES = """() => {
    const origin = performance.timeOrigin;
    const nav = performance.getEntriesByType("navigation")[0];
    const paint = performance.getEntriesByType("paint").find((e) => e.name === "first-contentful-paint");
    return {paint: origin + (paint ? paint.startTime : nav.domInteractive), ready: origin + nav.domContentLoadedEventEnd};
}"""


def reload_times(config: Config, page_name: str, essay: Path) -> dict[str, list[float]] | str:
    """Milliseconds from saving a prose edit to the reloaded page, RELOADS times: to its
    first paint (what the author sees), to DOMContentLoaded (its deferred scripts, plotly.js
    among them, have run), and to Playwright seeing the new text (it polls between those
    scripts' work)."""
    if not Path(CHROMIUM).exists():
        return f"skipped: {CHROMIUM} is missing"
    from playwright.sync_api import sync_playwright

    from builder.serve.watch import DevServer

    original = essay.read_text(encoding="utf-8")
    # only the copy of the essays: an edit of the repository's runtime/ meanwhile (it is
    # shared) would rerun every cell and time that instead
    dev = DevServer(config, "127.0.0.1", 0, watch=[config.source])
    times: dict[str, list[float]] = {"paint": [], "ready": [], "seen": []}
    try:
        dev.start()
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
            )
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(dev.url + page_name)
            for i in range(RELOADS):
                marker = f"Benchmark prose edit number {i}."
                saved = time.time() * 1000  # wall clock: the page's timeOrigin is one too
                started = time.perf_counter()
                essay.write_text(f"{original.rstrip()}\n\n{marker}\n", encoding="utf-8")
                page.wait_for_function("(m) => document.body.textContent.includes(m)", arg=marker)
                times["seen"].append((time.perf_counter() - started) * 1000)
                page.wait_for_load_state("load")
                marks = page.evaluate(PAGE_TIMES)
                times["paint"].append(marks["paint"] - saved)
                times["ready"].append(marks["ready"] - saved)
                deadline = time.monotonic() + 30
                while not dev.idle() and time.monotonic() < deadline:  # let the build settle
                    time.sleep(0.01)
            browser.close()
    finally:
        dev.stop()
        essay.write_text(original, encoding="utf-8")
    return times


def main() -> None:
    bigram = ROOT / "essays" / BIGRAM
    rows: list[tuple[str, float, str, str, str]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
        work = Path(tmp)
        essays = copy_essays(work)
        cwd = os.getcwd()
        os.chdir(work)  # cells name their files relative to here, as in a real build
        try:
            config = Config(source=essays, output=work / "site", cache_dir=work / "cache", quiet=True)
            cold, result = timed(config)
            ran, total = cells_run(result)
            rows.append(("cold build, fresh cache", cold, "100%", "", f"{ran}/{total}"))

            warm_runs = [timed(config) for _ in range(WARM_RUNS)]
            warm = statistics.median(t for t, _ in warm_runs)
            ran, total = cells_run(warm_runs[-1][1])
            rows.append(
                (
                    f"warm rebuild, no change (median of {WARM_RUNS})",
                    warm,
                    f"{warm / cold:.1%}",
                    "< 5%",
                    f"{ran}/{total}",
                )
            )

            if (essays / BIGRAM).is_file():
                edits = []
                for n in range(EDIT_RUNS):
                    edit_last_cell(essays / BIGRAM, n)
                    edits.append(timed(config))
                edit = statistics.median(t for t, _ in edits)
                ran, total = cells_run(edits[-1][1])
                rows.append(
                    (
                        f"edit of {BIGRAM}'s last cell (median of {EDIT_RUNS})",
                        edit,
                        f"{edit / cold:.1%}",
                        "< 10%",
                        f"{ran}/{total}",
                    )
                )
                eb = next(e for e in edits[-1][1].essays if e.source.name == BIGRAM)
                why = next((r.note for r in eb.results if r.note), None)
                if why:
                    notes.append(f"{BIGRAM}: {why}")
                shutil.copyfile(bigram, essays / BIGRAM)
            else:
                notes.append(f"{bigram} is missing: no edit row")

            page_essay = essays / BIGRAM if (essays / BIGRAM).is_file() else sorted(essays.glob("*.md"))[0]
            reloads = reload_times(config, f"{page_essay.stem}.html", page_essay)
        finally:
            os.chdir(cwd)

    print(f"Rebuilds of essays/ ({len(result.essays)} essays; in-process builds, one process)")
    print(f"{'build':<46}{'seconds':>9}{'vs cold':>9}{'target':>8}{'cells run':>11}")
    for name, seconds, ratio, target, ran in rows:
        print(f"{name:<46}{seconds:>9.3f}{ratio:>9}{target:>8}{ran:>11}")
    print()
    if isinstance(reloads, str):
        print(f"save -> reloaded page: {reloads}")
    else:
        print(
            f"save -> reloaded page, prose edit of {page_essay.name} "
            f"(dev server, headless Chromium, {RELOADS} saves; ms)"
        )
        print(f"{'until':<40}{'median':>8}{'min':>7}{'p90':>7}{'max':>7}{'target':>10}")
        labels = {
            "paint": "first paint of the reloaded page",
            "ready": "DOMContentLoaded (deferred scripts run)",
            "seen": "Playwright sees the new text",
        }
        for key, label in labels.items():
            ms = sorted(reloads[key])
            p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
            target = "< 500" if key == "paint" else ""
            print(f"{label:<40}{statistics.median(ms):>8.0f}{ms[0]:>7.0f}{p90:>7.0f}{ms[-1]:>7.0f}{target:>10}")
    for note in notes:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
