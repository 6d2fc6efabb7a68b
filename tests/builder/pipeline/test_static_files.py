"""The page's scripts in _static/: the esbuild bundles when they are built, and what a site
gets without them (builder/pipeline/static_files.py); the Makefile rebuilds the bundles
from every source."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from support import ROOT

from builder.config import Config
from builder.diagnostics import Diagnostics
from builder.pipeline import static_files
from builder.pipeline.writer import SiteWriter

SOURCES = ROOT / "runtime" / "js"


def write(tmp_path: Path, bundles: Path) -> tuple[Path, list[str]]:
    """_static/ as write_static makes it with `bundles` as the built folder; the site's
    temporary folder and the warnings."""
    writer = SiteWriter(tmp_path / "site")
    config = Config(pyodide_url="https://pyodide.example/")  # no copy of Pyodide: faster
    original = static_files.BUNDLES
    static_files.BUNDLES = bundles
    try:
        diagnostics = Diagnostics()
        static_files.write_static(writer, config, [], {}, diagnostics)
        warnings = [d.message for d in diagnostics]
    finally:
        static_files.BUNDLES = original
    return writer.root / static_files.STATIC, warnings


def test_built_bundles_are_what_the_site_gets(tmp_path):
    bundles = tmp_path / "dist"
    bundles.mkdir()
    for name in (*static_files.PAGE_BUNDLES, *static_files.PAGE_SCRIPTS):
        (bundles / name).write_text(f"/* bundled {name} */", encoding="utf-8")
    static, warnings = write(tmp_path, bundles)
    for name in (*static_files.PAGE_BUNDLES, *static_files.PAGE_SCRIPTS):
        assert (static / name).read_text(encoding="utf-8") == f"/* bundled {name} */"
    assert not any("scripts are not built" in w for w in warnings)


def test_without_a_build_the_site_warns_and_still_draws_charts(tmp_path):
    static, warnings = write(tmp_path, tmp_path / "nowhere")
    assert any("the page's scripts are not built" in w for w in warnings)
    for name in static_files.PAGE_BUNDLES:
        assert not (static / name).exists()  # module sources would not run as they are
    for name in static_files.PAGE_SCRIPTS:  # self-contained: copied as written
        assert (static / name).read_bytes() == (SOURCES / name).read_bytes()


def test_half_a_build_ships_no_bundle(tmp_path):
    bundles = tmp_path / "dist"
    bundles.mkdir()
    (bundles / "page.js").write_text("/* a page without its worker */", encoding="utf-8")
    static, warnings = write(tmp_path, bundles)
    assert not (static / "page.js").exists()
    assert any("the page's scripts are not built" in w for w in warnings)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_makefile_rebuilds_the_bundles_from_every_source():
    database = subprocess.run(
        ["make", "-pnq", "-f", "Makefile", ".DEFAULT"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    line = next(line for line in database.splitlines() if line.startswith("PAGE_JS :="))
    listed = set(line.split(":=", 1)[1].split())
    sources = {
        path.relative_to(ROOT).as_posix()
        for path in SOURCES.rglob("*.js")
        if "dist" not in path.relative_to(SOURCES).parts
    }
    assert sources <= listed, sources - listed
    assert "runtime/js/build.mjs" in listed
    assert not any(name.startswith("runtime/js/dist/") for name in listed)


def test_the_math_font_subset_is_kept_on_disk_and_read_back_unchanged(tmp_path, monkeypatch):
    pytest.importorskip("fontTools", reason="the subset needs fontTools")
    if not static_files.MATH_FONT.is_file():
        pytest.skip("@fontsource/noto-sans-math is missing: run `make install` (npm ci)")
    made = static_files.math_font.__wrapped__(None)  # no folder: subset every time
    first = static_files.math_font.__wrapped__(tmp_path)
    kept = list((tmp_path / static_files.MATH_FONT_CACHE).iterdir())
    assert first == made and len(kept) == 1 and kept[0].read_bytes() == made

    def refuse(font_bytes: bytes, flavor: str) -> bytes:
        raise AssertionError("subset again although the cache has it")

    monkeypatch.setattr(static_files, "_subset_font", refuse)
    assert static_files.math_font.__wrapped__(tmp_path) == made
    # another glyph set is another key: it is made, not read from the first one's file
    monkeypatch.setattr(static_files, "MATH_CHARACTERS", [*static_files.MATH_CHARACTERS, 0x2200])
    with pytest.raises(AssertionError, match="subset again"):
        static_files.math_font.__wrapped__(tmp_path)
