"""Files every site gets besides its pages: styles, scripts, plotly.js, Pyodide, the
runtime's Python for the page, and the essays' own asset folders."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources, util
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from builder.config import Config
from builder.diagnostics import Diagnostics
from builder.paths import asset_files
from runtime.gpu_backend import shader_folder

from .writer import SiteWriter

# Our own files are package data, read through importlib.resources: they are found the same
# way in a checkout, an editable install and a wheel.
BUILDER = resources.files("builder")
RUNTIME = resources.files("runtime")
STATIC = "_static"
# The Pyodide files a browser fetches come from the npm package `pyodide` (pinned in
# package.json), which only a checkout with `npm ci` has; without it, pages say so.
PYODIDE_FILES = ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"]
PYODIDE_DIR = Path(__file__).resolve().parents[2] / "node_modules" / "pyodide"
BUNDLES = RUNTIME / "js" / "dist"  # built by esbuild at install time (runtime/js/build.mjs)
EDITOR_BUNDLE = BUNDLES / "editor.js"
# pure-Python packages the page's kernel uses that Pyodide does not distribute: LaTeX to
# MathML, so a `_repr_latex_` output is typeset in the page as at build time
PAGE_PACKAGES = ("latex2mathml",)
VIZ_BUNDLE = PYODIDE_DIR.parent / "@viz-js" / "viz" / "dist" / "viz.js"  # Graphviz for the page
# An OpenType math font (npm `@fontsource/noto-sans-math`: a MATH table, so sums, fractions
# and limits are set at their proper sizes, and sans like the prose): few systems have one.
# style.css names it first for <math>; a browser fetches it only for a page that has math.
MATH_FONT = PYODIDE_DIR.parent / "@fontsource" / "noto-sans-math" / "files" / "noto-sans-math-latin-400-normal.woff"
MATH_FONT_FILE = "fonts/noto-sans-math.woff2"
# The whole font is 255 KB, which would take a text page with one formula past its 300 KB. With
# fontTools (a dependency, with brotli for WOFF2) the site gets the characters formulas use:
# ASCII, Greek, operators, arrows, the italic and bold math letters MathML sets single
# letters in (italic h is U+210E, outside that block); the subsetter keeps the MATH table and
# the stretched variants it names. The script, fraktur and double-struck alphabets no essay
# uses cost 14 KB, enough to take chapter 2 past its 300 KB, so a formula that uses them
# draws those letters from the reader's other fonts.
MATH_CHARACTERS = [
    *range(0x20, 0x7F), 0xB1, 0xAC, 0xD7, 0xF7, *range(0x391, 0x3CA), *range(0x3D0, 0x3F6),
    *range(0x2016, 0x2034), 0x2061, 0x2062, 0x2063, 0x210E, *range(0x2190, 0x2300),
    *range(0x2308, 0x230C), 0x27E8, 0x27E9,
    *range(0x1D400, 0x1D468),  # bold and italic Latin
    *range(0x1D6A8, 0x1D71C),  # bold and italic Greek
]  # fmt: skip


# Subsetting takes about 0.6 s, on every build: the result is kept in the build's cache
# folder under a key of everything it follows from (the font's bytes, the characters, the
# options below and fontTools' version), so a rebuild reads the same bytes back.
MATH_FONT_CACHE = "fonts"


@lru_cache(maxsize=4)
def math_font(cache_folder: Path | None = None) -> bytes:
    """The math font for the site: its subset where fontTools can make one, else all of it.
    `cache_folder`: where subsets are kept between builds (None: made every time)."""
    try:
        import fontTools
    except ImportError:
        return MATH_FONT.read_bytes()
    # WOFF2 (brotli) is a quarter smaller than WOFF (zlib): 44 KB against 58 KB, which every
    # page with math fetches before its first formula is set. Without brotli (fonttools[woff]
    # brings it) the subset is WOFF, under the same file name: a browser reads a font by its
    # signature, and the format() in style.css is only a hint.
    flavor = "woff2" if util.find_spec("brotli") is not None else "woff"
    font_bytes = MATH_FONT.read_bytes()
    key = hashlib.sha256(
        b"\0".join(
            [
                font_bytes,
                repr(sorted(MATH_CHARACTERS)).encode(),
                repr(SUBSET_OPTIONS).encode(),
                flavor.encode(),
                fontTools.version.encode(),
            ]
        )
    ).hexdigest()
    cached = cache_folder / MATH_FONT_CACHE / f"noto-sans-math-{key[:32]}.{flavor}" if cache_folder else None
    if cached is not None and cached.is_file():
        return cached.read_bytes()
    subset = _subset_font(font_bytes, flavor)
    if cached is not None:
        try:
            _write_atomic(cached, subset)
        except OSError:
            pass  # a cache that cannot be written costs the next build 0.6 s, nothing else
    return subset


def font_cache(config: Config) -> Path | None:
    """The build's cache folder, where there is one (the build opened it): made subsets are kept there."""
    folder = config.cache_root
    return folder if config.use_cache and folder.is_dir() else None


SUBSET_OPTIONS = {
    "layout_features": ["*"],
    "name_IDs": ["*"],  # the licence and the names stay with the font
}


def _subset_font(font_bytes: bytes, flavor: str) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    # the font's own timestamp, not the time of the build: the same subset, byte for byte
    font = TTFont(io.BytesIO(font_bytes), recalcTimestamp=False)
    options = subset.Options()
    for name, value in SUBSET_OPTIONS.items():
        setattr(options, name, value)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=MATH_CHARACTERS)
    subsetter.subset(font)
    font.flavor = flavor
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    """Whole or not at all: two builds sharing the folder never read half a font."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# The page's scripts. page.js (the main thread: editors, buttons, outputs) and kernel-worker.js
# (Python, in a Web Worker of its own) are bundles of runtime/js/'s modules; figures.js
# (charts) and diagrams.js (Graphviz diagrams a reader's edit made) import nothing: their
# minified copies when built, else as written, so a site built without npm still draws the
# build's charts.
PAGE_BUNDLES = ("page.js", "kernel-worker.js")
PAGE_SCRIPTS = ("figures.js", "diagrams.js")
# plotly.js comes in official partial bundles of the same version. The cartesian one (npm
# `plotly.js-cartesian-dist-min`, pinned in package.json to the version the Python plotly
# package ships) is a third of the full bundle's size and draws these trace types; a page whose
# figures use only these loads it, any other loads the full bundle. Both are in every site: a
# reader's edit may make a chart the small bundle cannot draw, and figures.js then loads the full one.
PLOTLY_FULL = "plotly.min.js"
PLOTLY_CARTESIAN = "plotly-cartesian.min.js"
CARTESIAN_TRACES = frozenset(
    (
        "bar",
        "box",
        "contour",
        "heatmap",
        "histogram",
        "histogram2d",
        "histogram2dcontour",
        "image",
        "pie",
        "scatter",
        "scatterternary",
        "violin",
    )
)
CARTESIAN_FILE = PYODIDE_DIR.parent / "plotly.js-cartesian-dist-min" / PLOTLY_CARTESIAN


def _copy(writer: SiteWriter, source: Traversable, rel: str) -> None:
    writer.write_bytes(rel, source.read_bytes())


def copy_assets(
    writer: SiteWriter, source: Path, diagnostics: Diagnostics, imported: set[str] | None = None
) -> list[str]:
    """Assets go into the site at the same relative place, so `open("data/x.txt")` works in
    the page as it does at build time; `imported`: the modules the cells import (their
    helper modules beside the essays are published). Returns their site paths; what is left
    out goes to `diagnostics`."""
    written = []
    files = asset_files(source, imported, diagnostics)
    for path in files:
        rel = path.relative_to(source).as_posix()
        writer.copy_file(path, rel)
        written.append(rel)
    return written


def plotly_js() -> Path:
    """plotly.js as shipped inside the installed plotly package: offline, no CDN."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def write_static(
    writer: SiteWriter,
    config: Config,
    assets: list[str],
    modules: dict[str, str],
    diagnostics: Diagnostics,
    wheels: list[dict[str, Any]] | None = None,
) -> None:
    """Write _static/; what could not be included is a warning in `diagnostics`. `wheels`:
    the packages the site ships for the page (page_packages.py), for the manifest."""
    from .highlight import stylesheet

    # GitHub Pages runs Jekyll unless told not to, and Jekyll drops folders starting with "_"
    writer.write_text(".nojekyll", "")
    css = (BUILDER / "static" / "style.css").read_text(encoding="utf-8")
    search = (BUILDER / "static" / "search.css").read_text(encoding="utf-8")  # the header's search box
    # the comments are for whoever edits the stylesheet here; every page would fetch them
    # (3 KB), so the site's copy goes without (the stylesheets hold no string with "/*")
    site_css = re.sub(r"/\*.*?\*/\n?", "", css + "\n" + search, flags=re.S)
    writer.write_text(f"{STATIC}/style.css", site_css + "\n" + stylesheet())
    for name in PAGE_SCRIPTS:
        minified = BUNDLES / name
        _copy(writer, minified if minified.is_file() else RUNTIME / "js" / name, f"{STATIC}/{name}")
    if all((BUNDLES / name).is_file() for name in PAGE_BUNDLES):
        for name in PAGE_BUNDLES:
            _copy(writer, BUNDLES / name, f"{STATIC}/{name}")
    else:
        diagnostics.warn(
            "the page's scripts are not built (run `make install`): pages read whole, but readers cannot edit or run cells"
        )
    writer.copy_file(plotly_js(), f"{STATIC}/{PLOTLY_FULL}")
    if CARTESIAN_FILE.is_file():
        writer.copy_file(CARTESIAN_FILE, f"{STATIC}/{PLOTLY_CARTESIAN}")
    if EDITOR_BUNDLE.is_file():
        _copy(writer, EDITOR_BUNDLE, f"{STATIC}/editor.js")
    else:
        diagnostics.warn("the CodeMirror bundle is missing (run `make install`): pages edit cells in a plain text box")
    if MATH_FONT.is_file():  # without it, math falls back to the system's fonts (style.css)
        writer.write_bytes(f"{STATIC}/{MATH_FONT_FILE}", math_font(font_cache(config)))
    if VIZ_BUNDLE.is_file():
        writer.copy_file(VIZ_BUNDLE, f"{STATIC}/viz.js")
    else:
        diagnostics.warn(
            "@viz-js/viz is not installed (run `make install`): diagrams edited in the page cannot be drawn"
        )
    if config.pyodide_url is None:
        if all((PYODIDE_DIR / name).is_file() for name in PYODIDE_FILES):
            for name in PYODIDE_FILES:
                writer.copy_file(PYODIDE_DIR / name, f"{STATIC}/pyodide/{name}")
        else:
            diagnostics.warn("Pyodide is not installed (run `make install`): readers cannot run cells in the page")
    write_runtime(writer, assets, modules, wheels)


def write_runtime(
    writer: SiteWriter, assets: list[str], modules: dict[str, str], wheels: list[dict[str, Any]] | None = None
) -> None:
    """The runtime's Python, the shaders and the essays' modules (name -> source), for the
    page to write into Pyodide's file system, and a manifest saying what to fetch; `wheels`
    are installed only when a cell imports them."""
    runtime = sorted(p.name for p in RUNTIME.iterdir() if p.name.endswith(".py"))
    folder = shader_folder()
    shaders = sorted(p.name for p in folder.iterdir() if p.name.endswith(".wgsl"))
    for name in runtime:
        _copy(writer, RUNTIME / name, f"{STATIC}/runtime/{name}")
    for name in shaders:
        _copy(writer, folder / name, f"{STATIC}/shaders/{name}")
    for name, text in sorted(modules.items()):
        writer.write_text(f"{STATIC}/modules/{name}.py", text)
    manifest = {
        "runtime": runtime,
        "shaders": shaders,
        "assets": assets,
        "modules": [f"{n}.py" for n in sorted(modules)] + ship_packages(writer, PAGE_PACKAGES),
        "wheels": wheels or [],
    }
    writer.write_text(f"{STATIC}/runtime/manifest.json", json.dumps(manifest, indent=1) + "\n")


def ship_packages(writer: SiteWriter, names: tuple[str, ...]) -> list[str]:
    """Copy pure-Python packages the page needs and Pyodide does not distribute into the
    site's modules folder; returns their files, relative to it."""
    import importlib.util

    files = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue  # not installed here: the page does without it
        folder = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                rel = f"{name}/{path.relative_to(folder).as_posix()}"
                writer.copy_file(path, f"{STATIC}/modules/{rel}")
                files.append(rel)
    return files


def trace_types(figures: Iterable[object]) -> set[str]:
    """The trace types a page's figures draw (plotly's default type is scatter)."""
    types = set()
    for figure in figures:
        data = figure.get("data") if isinstance(figure, dict) else None
        for trace in data if isinstance(data, list) else ():
            kind = trace.get("type") if isinstance(trace, dict) else None
            types.add(kind if isinstance(kind, str) and kind else "scatter")
    return types


def plotly_bundle(traces: set[str]) -> str:
    """The plotly.js file a page with figures of these trace types loads, in _static/."""
    if CARTESIAN_FILE.is_file() and traces <= CARTESIAN_TRACES:
        return PLOTLY_CARTESIAN
    return PLOTLY_FULL


def page_config(config: Config, slug: str, figures: Iterable[object] = ()) -> dict[str, Any]:
    """What page.js and figures.js need to know, embedded as JSON in each essay page.
    `plotly` names the bundle the page loads for its own figures (null: it has none), the
    small one and the trace types it covers, and the full one."""
    url = config.pyodide_url
    if url and not url.endswith("/"):
        url += "/"
    figures = list(figures)
    cartesian = CARTESIAN_FILE.is_file()
    plotly = {
        "page": plotly_bundle(trace_types(figures)) if figures else None,
        "small": PLOTLY_CARTESIAN if cartesian else None,
        "covers": sorted(CARTESIAN_TRACES) if cartesian else [],
        "full": PLOTLY_FULL,
    }
    return {
        "essay": slug,
        "static": f"{STATIC}/",
        "pyodideUrl": url,
        "packageBaseUrl": config.package_base_url,
        "plotly": plotly,
    }
