"""Golden fixtures: tests/fixtures/golden/NAME.md built, its <article> compared with
NAME.html. A mismatch writes NAME-changed.html beside it for review; a missing expectation
is written here and fails in CI (CI=true), where nothing should be missing."""

import os
import re
import shutil
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.md"))


def article(page: str) -> str:
    match = re.search(r"<article.*?</article>", page, re.S)
    assert match, "no <article> in the page"
    return match.group(0) + "\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    (root / "essays").mkdir()
    for name in CASES:
        shutil.copy(GOLDEN / f"{name}.md", root / "essays" / f"{name}.md")
    from builder.build import build
    from builder.config import Config

    cwd = os.getcwd()
    os.chdir(root)  # tracebacks name essays/NAME.md, relative to where the build runs
    try:
        build(Config(source=Path("essays"), output=Path("site")))
    finally:
        os.chdir(cwd)
    return root / "site"


@pytest.mark.parametrize("name", CASES)
def test_golden(built, name):
    actual = article((built / f"{name}.html").read_text(encoding="utf-8"))
    expected_path = GOLDEN / f"{name}.html"
    changed = GOLDEN / f"{name}-changed.html"
    if not expected_path.exists():
        expected_path.write_text(actual, encoding="utf-8")
        if os.environ.get("CI"):
            pytest.fail(f"{expected_path.name} was missing; it has been written, review and commit it")
        return
    if actual != expected_path.read_text(encoding="utf-8"):
        changed.write_text(actual, encoding="utf-8")
        pytest.fail(f"{name}: output differs from {expected_path.name}; see {changed.name} (diff them)")
    changed.unlink(missing_ok=True)
