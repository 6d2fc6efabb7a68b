"""What keeps a text page within its 300 KB before interaction (issue 17): highlighted code
without a <span> per bracket, a stylesheet without its comments, a math font of the letters
formulas use (benchmarks/bench_pages.py measures the pages themselves)."""

from __future__ import annotations

import io
import re

import pytest
from support import ROOT
from test_static_files import write

from builder.pipeline import static_files
from builder.pipeline.highlight import highlight, stylesheet

CODE = 'def f(x, y):\n    return {"a": x[1]}, (y)  # done\n'


def test_punctuation_and_whitespace_are_plain_text_and_the_rest_keeps_its_class():
    html = highlight(CODE)
    assert '<span class="p">' not in html and '<span class="w">' not in html
    assert 'f</span>(<span class="n">x</span>, <span class="n">y</span>):' in html
    assert '<span class="k">def</span> <span class="nf">f</span>' in html
    assert re.sub(r"<[^>]+>", "", html).replace("&quot;", '"') == CODE  # nothing lost


def test_the_code_stylesheet_names_no_class_the_code_no_longer_carries():
    css = stylesheet()
    assert not re.search(r"\.highlight \.(p|pm|w) \{", css)
    assert ".highlight .k {" in css  # keywords still coloured, in both themes
    assert ':root[data-theme="dark"] .highlight .k {' in css


def test_the_site_stylesheet_has_no_comments_and_every_rule_of_the_source(tmp_path):
    static, _ = write(tmp_path, tmp_path / "no-bundles")
    site = (static / "style.css").read_text(encoding="utf-8")
    assert "/*" not in site and "*/" not in site
    source = (ROOT / "builder" / "static" / "style.css").read_text(encoding="utf-8")
    for selector in (".skip-link:focus", ".math-display math", "@media print", ".build-problem-severity"):
        assert selector in source and selector in site


def test_the_math_font_has_the_letters_formulas_are_set_in_and_stays_small():
    pytest.importorskip("fontTools", reason="the subset needs fontTools")
    if not static_files.MATH_FONT.is_file():
        pytest.skip("@fontsource/noto-sans-math is missing: run `make install` (npm ci)")
    from fontTools.ttLib import TTFont

    font_bytes = static_files.math_font.__wrapped__(None)
    cmap = TTFont(io.BytesIO(font_bytes)).getBestCmap()
    # an italic x, an italic h (U+210E, outside the math block), a bold W, an italic sigma,
    # a sum and a partial derivative
    for char in (0x1D465, 0x210E, 0x1D416, 0x1D70E, 0x2211, 0x2202):
        assert char in cmap, hex(char)
    assert font_bytes[:4] == b"wOF2"  # WOFF2: a quarter smaller than WOFF
    assert len(font_bytes) < 48_000


def test_without_brotli_the_math_font_is_a_woff_subset_not_the_whole_font(monkeypatch):
    pytest.importorskip("fontTools", reason="the subset needs fontTools")
    if not static_files.MATH_FONT.is_file():
        pytest.skip("@fontsource/noto-sans-math is missing: run `make install` (npm ci)")
    real = static_files.util.find_spec
    monkeypatch.setattr(static_files.util, "find_spec", lambda name: None if name == "brotli" else real(name))
    font_bytes = static_files.math_font.__wrapped__(None)
    assert font_bytes[:4] == b"wOFF"  # the browser reads the signature; the name's format() is a hint
    assert len(font_bytes) < 62_000
