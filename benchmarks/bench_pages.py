"""Every page of a built site as readers get it, in headless Chromium: the bytes it transfers
before anyone touches it (against the targets: a page with a chart <= 1.6 MB, a text page
<= 300 KB, and no Pyodide), and axe-core's violations by impact, in the light and the dark
theme, at 1280 px and on a 390 px phone, before the editor loads and with a cell's editor
open.

Run: python benchmarks/bench_pages.py [SITE]   (a built site's folder; without one, the
repository's essays are built into a temporary folder, from .essays-cache where it holds
them). --json FILE writes every violation's rule and first nodes as well.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser"), str(ROOT / "tests")]

from conftest import ARGS, CHROMIUM, serve

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
IMPACTS = ("critical", "serious", "moderate", "minor")
CHART_PAGE_BYTES = 1_600_000
TEXT_PAGE_BYTES = 300_000
WIDTHS = {1280: {"width": 1280, "height": 900}, 390: {"width": 390, "height": 844}}

VIOLATIONS = """() => axe.run(document, {resultTypes: ["violations"]}).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, nodes: v.nodes.length,
    targets: v.nodes.slice(0, 4).map((n) => n.target.join(" ")),
})))"""


@dataclass
class Page:
    name: str
    bytes: int = 0
    charts: int = 0
    pyodide_before_interaction: bool = False
    # "light 1280 before" -> violations (rule id, impact, node count, first targets)
    axe: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def target(self) -> int:
        return CHART_PAGE_BYTES if self.charts else TEXT_PAGE_BYTES

    def counts(self, key: str) -> str:
        """critical/serious/moderate/minor: how many rules each impact broke."""
        found = self.axe.get(key)
        if found is None:
            return "-"
        return "/".join(str(sum(v["impact"] == impact for v in found)) for impact in IMPACTS)


def pages_of(site: Path) -> list[str]:
    """The index first, then every page at the site's top level, in name order."""
    names = sorted(p.name for p in site.glob("*.html") if p.name != "index.html")
    return ["index.html", *names] if (site / "index.html").exists() else names


def transferred(browser, url: str) -> tuple[int, bool]:
    """Bytes of every response until the page is loaded and the network idle, in a fresh
    context (a first visit) with nothing touched; and whether any of it was Pyodide."""
    context = browser.new_context(viewport=WIDTHS[1280])
    page = context.new_page()
    responses = []

    def seen(response) -> None:  # a def: Playwright cannot wrap a builtin such as list.append
        responses.append(response)

    page.on("response", seen)
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_load_state("networkidle", timeout=90_000)
    total = sum(len(r.body()) for r in responses if r.ok and r.request.method == "GET")
    pyodide = any("pyodide" in r.url for r in responses)
    context.close()
    return total, pyodide


def violations(page) -> list[dict]:
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(VIOLATIONS)


def audit(browser, url: str, scheme: str, width: int) -> tuple[list[dict], list[dict] | None]:
    """axe-core's violations before the editor loads, and with the first cell's editor open
    (None on a page without cells)."""
    phone = width < 600
    context = browser.new_context(color_scheme=scheme, viewport=WIDTHS[width], is_mobile=phone, has_touch=phone)
    context.set_default_timeout(90_000)
    page = context.new_page()
    page.goto(url)
    page.wait_for_load_state("networkidle", timeout=90_000)
    page.evaluate("document.fonts.ready")
    before = violations(page)
    after = None
    if page.evaluate("!!(window.essayPage && essayPage.cells.length)"):
        # as a keyboard reader opens one: the cell's stop focused, then Enter
        page.evaluate("essayPage.loadEditor()")
        page.locator(".cm-content").first.wait_for()
        page.locator("[data-cell='0'] .cell-editor").focus()
        page.keyboard.press("Enter")
        page.wait_for_function("!!document.activeElement.closest('.cm-content')")
        after = violations(page)
    context.close()
    return before, after


def measure(site: Path) -> list[Page]:
    from playwright.sync_api import sync_playwright

    server, url = serve(site)
    results = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            for name in pages_of(site):
                page = Page(name, charts=(site / name).read_text().count("data-figure"))
                page.bytes, page.pyodide_before_interaction = transferred(browser, url + name)
                for scheme in ("light", "dark"):
                    for width in WIDTHS:
                        before, after = audit(browser, url + name, scheme, width)
                        page.axe[f"{scheme} {width} before"] = before
                        if after is not None:
                            page.axe[f"{scheme} {width} editor"] = after
                results.append(page)
                print(f"  measured {name}", file=sys.stderr, flush=True)
            browser.close()
    finally:
        server.shutdown()
    return results


def table(pages: list[Page]) -> str:
    keys = [f"{s} {w} {when}" for s in ("light", "dark") for w in WIDTHS for when in ("before", "editor")]
    head = f"{'page':<26}{'KB':>7}{'target':>8}" + "".join(f"{k:>20}" for k in keys)
    lines = [
        "axe-core rules broken, critical/serious/moderate/minor; '-': the page has no cells",
        head,
    ]
    for page in pages:
        flag = "" if page.bytes <= page.target and not page.pyodide_before_interaction else " !"
        lines.append(
            f"{page.name:<26}{page.bytes / 1000:>7.0f}{page.target / 1000:>7.0f}{flag:<1}"
            + "".join(f"{page.counts(k):>20}" for k in keys)
        )
    serious = sorted(
        {
            f"{v['id']} ({v['impact']}): {page.name}, {key}"
            for page in pages
            for key, found in page.axe.items()
            for v in found
            if v["impact"] in ("critical", "serious")
        }
    )
    lines += ["", "serious or critical:" if serious else "no serious or critical violation", *serious]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", type=Path, help="a built site's folder")
    parser.add_argument("--json", type=Path, help="write every violation found here")
    args = parser.parse_args()
    if not AXE.exists():
        sys.exit("node_modules/axe-core is missing: run `npm ci`")
    if args.site is not None and not (args.site / "index.html").exists():
        sys.exit(f"{args.site}: no index.html there; give a built site's folder")
    with tempfile.TemporaryDirectory() as tmp:
        site = args.site
        if site is None:
            from builder.build import build
            from builder.config import Config

            site = Path(tmp) / "site"
            build(Config(source=ROOT / "essays", output=site, cache_dir=ROOT / ".essays-cache"))
        pages = measure(site.resolve())
    print(table(pages))
    if args.json:
        args.json.write_text(json.dumps([asdict(p) for p in pages], indent=1))


if __name__ == "__main__":
    main()
