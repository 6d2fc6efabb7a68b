"""The state the page resumes from (builder/state.py): the cost model, the budget, and
what a build writes under _static/state/."""

import json

import pytest

from builder.records import CellResult
from builder.state import (
    DOWNLOAD_BYTES_PER_SECOND,
    PAGE_SLOWDOWN,
    SMALL_BYTES,
    parse_budget,
    plan_state,
    worth_shipping,
)


def value(digest: str, size: int) -> dict:
    return {"kind": "json", "digest": digest, "size": size}


def test_the_cost_model_weighs_download_against_three_times_the_build():
    big = 23_000_000  # the bigram's one-hot matrix: 11.5 s to download at 2 MB/s
    assert not worth_shipping(big, 0.4)  # made in 0.4 s at build time: 1.2 s in the page
    assert worth_shipping(big, big / DOWNLOAD_BYTES_PER_SECOND / PAGE_SLOWDOWN + 0.1)  # trained for long
    assert worth_shipping(SMALL_BYTES, 0.0)  # one small request beats running any cell


def test_each_value_is_listed_once_however_many_boundaries_hold_it():
    results = [
        CellResult("ok", seconds=1.0, state={"a": value("d1", 10)}),
        CellResult("ok", seconds=1.0, state={"a": value("d1", 10), "b": value("d2", 20)}),
        CellResult("timeout"),
    ]
    plan = plan_state(results, 1_000)
    assert plan is not None
    manifest = plan.manifest
    assert manifest["boundaries"][0]["a"] == manifest["boundaries"][1]["a"]
    assert manifest["boundaries"][2] is None  # no state after a cell that timed out
    assert plan.files == [("d1", "json"), ("d2", "json")]
    assert (plan.cost.values, plan.cost.bytes) == (2, 30)


def test_a_value_cheaper_to_recompute_is_not_shipped_and_says_why():
    results = [CellResult("ok", seconds=0.1, state={"onehot": value("big", 5_000_000)})]
    plan = plan_state(results, 100_000_000)
    assert plan is not None and plan.files == []
    [entry] = plan.manifest["entries"]
    assert entry["shipped"] is False
    assert entry["why"] == "cheaper to recompute than to download (5.0 MB)"


def test_the_budget_keeps_the_dearest_to_recompute_per_byte():
    results = [
        CellResult("ok", seconds=100.0, state={"trained": value("t", 3_000_000)}),
        CellResult("ok", seconds=10.0, state={"trained": value("t", 3_000_000), "cheap": value("c", 3_000_000)}),
    ]
    plan = plan_state(results, 4_000_000)
    assert plan is not None
    assert plan.files == [("t", "json")]
    assert plan.cost.over_budget == 1
    cheap = plan.manifest["entries"][plan.manifest["boundaries"][1]["cheap"]]
    assert cheap["why"] == "over the essay's state budget"


@pytest.mark.parametrize(
    ("text", "size"), [("20 MB", 20_000_000), ("500kb", 500_000), ("0", 0), ("1.5 GB", 1_500_000_000)]
)
def test_budgets_read_as_sizes(text, size):
    assert parse_budget(text) == size


def test_a_budget_that_is_no_size_is_none():
    assert parse_budget("lots") is None


ESSAY = """\
    ---
    title: State
    {front}
    ---

    <script>
    import math
    xs = [i * i for i in range(100)]
    gen = (x for x in xs)
    </script>

    <script>
    def total(values):
        return math.fsum(values)
    </script>

    <script>
    total(xs)
    </script>
    """


@pytest.mark.slow
@pytest.mark.parametrize("use_cache", [True, False])
def test_a_build_writes_each_essays_manifest_and_the_values_it_ships(project, use_cache):
    project.write("01-state.md", ESSAY.format(front=""))
    result = project.build(use_cache=use_cache)
    state = project.site / "_static" / "state"
    manifest = json.loads((state / "01-state.json").read_text(encoding="utf-8"))
    after_two = manifest["boundaries"][1]
    entries = manifest["entries"]
    assert entries[after_two["math"]] == {"kind": "module", "module": "math"}
    assert entries[after_two["gen"]] == {"kind": "lost", "reason": "a generator"}
    assert entries[after_two["total"]]["source"] == "def total(values):\n    return math.fsum(values)"
    xs = entries[after_two["xs"]]
    assert xs["shipped"] and (state / xs["file"]).is_file()
    assert manifest["boundaries"][0]["xs"] == after_two["xs"]  # one entry, one file
    [essay] = result.essays
    assert essay.state_cost is not None and essay.state_cost.values == 1
    assert essay.state_cost.bytes == xs["size"] == (state / xs["file"]).stat().st_size


@pytest.mark.slow
def test_a_warm_build_writes_the_state_a_cold_one_did(project):
    project.write("01-state.md", ESSAY.format(front=""))
    project.build()
    state = project.site / "_static" / "state"
    cold = {p.name: p.read_bytes() for p in state.iterdir()}
    result = project.build()
    assert all(r.cached for r in result.essays[0].results)
    assert {p.name: p.read_bytes() for p in state.iterdir()} == cold


@pytest.mark.slow
@pytest.mark.parametrize("where", ["front matter", "essays.toml"])
def test_a_budget_leaves_values_to_recompute_and_says_so(project, where):
    if where == "essays.toml":
        (project.root / "essays.toml").write_text('state_budget = "10 B"\n', encoding="utf-8")
    project.write("01-state.md", ESSAY.format(front="state-budget: 10 B" if where == "front matter" else ""))
    result = project.build()
    [essay] = result.essays
    assert essay.state_cost is not None and (essay.state_cost.values, essay.state_cost.over_budget) == (0, 1)
    assert "1 over the budget, recomputed in the page" in str(essay.state_cost)
    assert not any("budget" in w for w in result.warnings)  # not a fault: --strict passes


@pytest.mark.slow
def test_the_command_says_what_each_essays_state_weighs(project):
    from support import essays

    project.write("01-state.md", ESSAY.format(front=""))
    done = essays("build", "essays", "-o", "site", cwd=project.root)
    assert done.returncode == 0, done.stderr
    size = json.loads((project.site / "_static" / "state" / "01-state.json").read_text(encoding="utf-8"))
    shipped = [e["size"] for e in size["entries"] if e.get("shipped")]
    assert f"state shipped for the pages: 01-state 1 value, {shipped[0]} B" in done.stdout


def test_an_older_kind_in_a_cached_entry_is_never_published():
    """An entry recorded before the state was JSON says "pickle": its name is lost, no file."""
    results = [CellResult("ok", seconds=1.0, state={"a": value("old", 10) | {"kind": "pickle"}, "b": value("new", 5)})]
    plan = plan_state(results, 1_000)
    assert plan is not None and plan.files == [("new", "json")]
    entries = plan.manifest["entries"]
    old = entries[plan.manifest["boundaries"][0]["a"]]
    assert old == {"kind": "lost", "reason": "recorded in a form this build no longer ships (pickle)"}
    assert plan.manifest["version"] == 2


@pytest.mark.slow
def test_a_warm_cache_whose_entries_hold_pickles_publishes_none(project):
    """A cache written by a build from before (its entries' state of kind "pickle", their
    blobs pickles) must not put a pickle in the site when a later build reuses it."""
    import pickle

    from builder.cache.store import read_packed, write_packed

    project.write("01-state.md", ESSAY.format(front=""))
    project.build()
    entries = [p for p in project.root.rglob("cells/*/*.pickle") if ".essays-cache" in p.parts]
    assert entries
    for path in entries:  # what the older build wrote under the same keys
        data = pickle.loads(read_packed(path))
        for entry in (data.get("state") or {}).values():
            if entry["kind"] == "json":
                entry["kind"] = "pickle"
        write_packed(path, pickle.dumps(data))
    result = project.build()
    assert all(r.cached for r in result.essays[0].results)
    state = project.site / "_static" / "state"
    assert sorted({p.suffix for p in state.iterdir()}) == [".json"]
    manifest = json.loads((state / "01-state.json").read_text(encoding="utf-8"))
    xs = manifest["entries"][manifest["boundaries"][0]["xs"]]
    assert xs["kind"] == "lost" and "(pickle)" in xs["reason"]
    assert not any(p.suffix == ".pickle" for p in project.site.rglob("*"))


def test_the_budget_weighs_a_value_by_the_boundaries_it_serves():
    """A chapter's data, made in its first cell and held to its end, goes before a later
    cell's value that took longer to make but serves one boundary: leaving the data out
    would take every boundary away from the page."""
    data = value("data", 3_000_000)
    results = [CellResult("ok", seconds=2.0, state={"data": data})]
    results += [CellResult("ok", seconds=1.0, state={"data": data}) for _ in range(8)]
    results += [CellResult("ok", seconds=10.0, state={"data": data, "late": value("late", 3_000_000)})]
    plan = plan_state(results, 4_000_000)
    assert plan is not None and plan.files == [("data", "json")]
