"""Cache keys, computed once from their inputs (builder/cache/keys.py): the same inputs give
the same key in any order of calls, and a change to any input changes it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from builder.cache import keys
from builder.cache.entries import Cache
from builder.pipeline.parse import parse_text
from builder.records import CellResult

P = Path("01-x.md")
TWO = "# X\n\n<script>\nx = 1\n</script>\n\nProse.\n\n<script>\ny = x + 1\n</script>\n"


def cells(text: str = TWO):
    return parse_text(text, P).cells


def test_same_inputs_same_keys():
    assert keys.content_keys(cells()) == keys.content_keys(cells())
    assert keys.cache_key("s", "k") == keys.cache_key("s", "k")
    assert len(set(keys.content_keys(cells()))) == 2


def test_keys_do_not_depend_on_the_order_they_are_asked_in():
    a, b = cells(TWO), cells(TWO.replace("x = 1", "x = 2"))
    first = (keys.content_keys(a), keys.content_keys(b))
    second = (keys.content_keys(b), keys.content_keys(a))
    assert first == second[::-1]
    # and asking for one essay's keys leaves its cells as they were: nothing is stored on them
    before = [dataclasses.asdict(c) for c in a]
    keys.content_keys(a, [{"m": "1"}, {}])
    assert [dataclasses.asdict(c) for c in a] == before
    assert keys.content_keys(a) == first[0]


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace("y = x + 1", "y = x + 2"),  # the cell's source
        lambda t: t.replace("<script>\ny", '<script data-iterations="2">\ny'),  # its attributes
        lambda t: t.replace("x = 1", "x = 3"),  # the cell before it
    ],
    ids=["source", "attributes", "previous cell"],
)
def test_any_change_of_a_cell_or_those_above_changes_its_key(edit):
    assert keys.content_keys(cells(edit(TWO)))[1] != keys.content_keys(cells())[1]


def test_prose_changes_no_key():
    assert keys.content_keys(cells(TWO.replace("Prose.", "Other prose."))) == keys.content_keys(cells())


def test_the_modules_a_cell_imports_are_part_of_its_key_and_the_later_ones():
    plain = keys.content_keys(cells())
    assert keys.content_keys(cells(), [{}, {}]) == plain  # importing nothing: keys as without modules
    first = keys.content_keys(cells(), [{"bigram": "aaa"}, {}])
    assert first[0] != plain[0] and first[1] != plain[1]  # chained: the next cell's key moves too
    assert keys.content_keys(cells(), [{"bigram": "bbb"}, {}]) != first  # the module's digest
    assert keys.content_keys(cells(), [{"other": "aaa"}, {}]) != first  # which module
    assert keys.content_keys(cells(), [{}, {"bigram": "aaa"}])[0] == plain[0]  # not the cells above


def test_the_salt_covers_format_runtime_and_assets(monkeypatch):
    base = keys.salt("3.12-r", "a")
    assert keys.cache_key(base, "k") != keys.cache_key(keys.salt("3.12-r", "b"), "k")
    assert keys.cache_key(base, "k") != keys.cache_key(keys.salt("3.13-r", "a"), "k")
    assert keys.cache_key(base, "k") != keys.cache_key(base, "k2")
    monkeypatch.setattr(keys, "FORMAT", keys.FORMAT + 1)
    assert keys.salt("3.12-r", "a") != base


def test_an_asset_is_part_of_every_cache_key(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "names.txt").write_text("ada\n")
    before = Cache(tmp_path / ".cache", tmp_path).key("k")
    (tmp_path / "data" / "names.txt").write_text("grace\n")
    assert Cache(tmp_path / ".cache", tmp_path).key("k") != before


def test_a_cache_keeps_its_salt_while_the_build_writes(tmp_path):
    """Files a build's cells write are left out of the next build's key; a cache opened
    for this build must not change its keys when that list is written midway."""
    (tmp_path / "figure.svg").write_text("<svg/>")
    cache = Cache(tmp_path / ".cache", tmp_path)
    key = cache.key("k")
    cache.record_generated({"figure.svg"})
    assert cache.key("k") == key
    assert json.loads((tmp_path / ".cache" / "generated.json").read_text()) == ["figure.svg"]
    assert Cache(tmp_path / ".cache", tmp_path).key("k") != key  # the next build's leaves it out


def test_a_cell_result_is_frozen():
    result = CellResult("ok")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.note = "later"  # type: ignore[misc]
    assert dataclasses.replace(result, note="later").note == "later" and result.note is None


EXPORTER = '<script data-export>\ndef area(r):\n    """The area."""\n    return 3 * r * r\n</script>\n\n<script>\nlater = 1\n</script>\n'
IMPORTER = (
    "# B\n\n<script>\nbefore = 1\n</script>\n\n<script>\nfrom first import area\n</script>\n\n"
    "<script>\nslow_and_unrelated = 2\n</script>\n"
)


def test_a_docstring_edit_of_an_exported_cell_moves_the_keys_the_readme_says():
    """README: the exporting essay from the edited cell on; in an importing essay, the first
    importing cell and every cell after it (keys chain), not the cells above it; an essay
    that does not import the module, nothing."""
    from builder.build import link_essays
    from builder.diagnostics import Diagnostics
    from builder.records import EssayBuild

    def keys_of(exporter: str) -> list[tuple[str, ...]]:
        builds = [
            EssayBuild(Path(name), essay=parse_text(text, Path(name)))
            for name, text in (("01-first.md", exporter), ("02-b.md", IMPORTER), ("03-c.md", TWO))
        ]
        link_essays(builds, Diagnostics())
        return [b.keys for b in builds]

    before = keys_of(EXPORTER)
    after = keys_of(EXPORTER.replace("The area.", "The area of a square."))
    changed = [[a != b for a, b in zip(x, y, strict=True)] for x, y in zip(before, after, strict=True)]
    assert changed == [[True, True], [False, True, True], [False, False]]
