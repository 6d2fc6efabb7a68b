"""`essays build --verify`: a build that resumes from the cache, checked against a clean one."""

import json
import re
from pathlib import Path

import pytest
import support

from builder.cache.entries import Cache
from builder.cache.keys import content_keys
from builder.cache.verify import NOTHING, compare, first_difference
from builder.pipeline.parse import EssayError, parse_text
from builder.records import CellResult, EssayBuild
from runtime.display import Output

# A cell that reads the environment through a child process, which neither the cache key
# nor the builder's record of what cells read (builder/cache/depends.py) can see: change the
# variable between two builds and the cache serves the first build's value, which a clean
# build would not.
OUTSIDE = """\
# Outside the key

<script>
base = 40
</script>

<script>
import subprocess
word = subprocess.run(["sh", "-c", "echo $ESSAYS_TEST_WORD"], capture_output=True, text=True).stdout.strip()
</script>

<script>
total = base + 2
</script>
"""


def build_cli(project, word: str, *args: str):
    return support.essays("build", *args, cwd=project.root, env=support.child_env(ESSAYS_TEST_WORD=word))


# ----- the comparison ----------------------------------------------------------------------


def test_first_difference_is_the_first_line_that_parts():
    cached = [Output("stream", text="same\nold tail"), Output("value", "1", label="x")]
    clean = [Output("stream", text="same\nnew tail"), Output("value", "1", label="x")]
    assert first_difference(cached, clean) == ("old tail", "new tail")
    assert first_difference(cached, list(cached)) is None


def test_first_difference_when_one_side_has_more_outputs():
    shorter = [Output("value", "1", label="x")]
    longer = [*shorter, Output("note", text="extra")]
    assert first_difference(shorter, longer) == (NOTHING, "note: extra")


def test_first_difference_sees_a_figure_no_text_shows():
    a = [Output("figure", figure={"data": [{"y": [1]}]})]
    b = [Output("figure", figure={"data": [{"y": [2]}]})]
    old, new = first_difference(a, b)
    assert '"y": [1]' in old and '"y": [2]' in new


def essay_build(text: str, outputs: list[list[Output]]) -> EssayBuild:
    path = Path("01-x.md")
    essay = parse_text(text, path)
    return EssayBuild(path, essay=essay, results=[CellResult("ok", o) for o in outputs])


TWO_CELLS = (
    '# X\n\n<script>\na = 1\n</script>\n\n<script data-verify="skip">\nimport time\nt = time.time()\n</script>\n'
)


def test_compare_names_file_line_and_cell_and_leaves_out_skipped_cells():
    cached = essay_build(TWO_CELLS, [[Output("value", "1", label="a")], [Output("value", "5.0", label="t")]])
    clean = essay_build(TWO_CELLS, [[Output("value", "2", label="a")], [Output("value", "6.0", label="t")]])
    verification = compare([cached], [clean])
    assert (verification.compared, verification.skipped) == (1, 1)
    [difference] = verification.differences
    assert str(difference) == "01-x.md:4: cell 1: output differs from a clean build"
    assert difference.lines()[1:] == ["  -value a: 1", "  +value a: 2"]


def test_data_verify_takes_only_skip():
    with pytest.raises(EssayError, match=re.escape('01-x.md:3: data-verify takes one value, "skip", not "yes"')):
        parse_text('# X\n\n<script data-verify="yes">\na = 1\n</script>\n', Path("01-x.md"))


# ----- whole builds ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_stale_cache_fails_verify_naming_the_cell_and_the_site_shows_the_clean_output(project):
    project.write("01-outside.md", OUTSIDE)
    assert build_cli(project, "first").returncode == 0
    out = build_cli(project, "second", "--verify", "--report", "report.json")
    assert out.returncode == 1, out.stderr
    assert "01-outside.md:8: cell 2: output differs from a clean build" in out.stderr
    assert "  -value word: 'first'\n  +value word: 'second'" in out.stderr
    assert "1 of 3 cells differ from a clean build; the site shows the clean build's outputs" in out.stderr
    assert "word:</span><pre>&#x27;second&#x27;</pre>" in project.page("01-outside.html")
    verify = json.loads((project.root / "report.json").read_text())["verify"]
    assert verify["published"] == "clean" and verify["compared"] == 3
    assert verify["differences"] == [
        {
            "source": "essays/01-outside.md",
            "line": 8,
            "cell": 2,
            "cached": "value word: 'first'",
            "clean": "value word: 'second'",
        }
    ]
    # the stale entries were dropped: the next build runs the essay and agrees with a clean one
    again = build_cli(project, "second", "--verify")
    assert again.returncode == 0, again.stderr
    assert "verified 3 cells against a clean build: all match" in again.stdout


@pytest.mark.slow
def test_an_honest_cache_verifies_clean(project):
    project.write("01-outside.md", OUTSIDE)
    assert build_cli(project, "same").returncode == 0
    out = build_cli(project, "same", "--verify", "--report", "report.json")
    assert out.returncode == 0, out.stderr
    assert "verified 3 cells against a clean build: all match" in out.stdout
    assert "differs" not in out.stderr
    report = json.loads((project.root / "report.json").read_text())
    assert all(c["cached"] for c in report["essays"][0]["cells"])  # the cached run's results were kept
    assert report["verify"] == {"compared": 3, "skipped": 0, "published": "cached", "differences": []}


@pytest.mark.slow
def test_a_skipped_cell_is_not_reported_but_counted(project):
    project.write(
        "01-outside.md",
        OUTSIDE.replace("<script>\nimport subprocess", '<script data-verify="skip">\nimport subprocess'),
    )
    assert build_cli(project, "first").returncode == 0
    out = build_cli(project, "second", "--verify")
    assert out.returncode == 0, out.stderr
    assert "differs" not in out.stderr
    assert "verified 2 cells against a clean build: all match (1 skipped by data-verify)" in out.stdout


def test_a_tampered_cache_entry_is_caught_and_replaced(project):
    """Through the Python API: an entry rewritten with another output, as a cache that
    missed some state would serve it."""
    project.write("01-outside.md", OUTSIDE)
    project.build()
    cache = Cache(project.root / ".essays-cache", project.essays)
    last = content_keys(parse_text(OUTSIDE, project.essays / "01-outside.md").cells)[2]  # no module imports
    cache.store(cache.key(last), CellResult("ok", [Output("value", "41", label="total")]))
    project.build()
    assert "total:</span><pre>41</pre>" in project.page("01-outside.html")  # the cache serves it

    result = project.build(verify=True)
    assert result.verification is not None
    assert [str(d) for d in result.verification.differences] == [
        "essays/01-outside.md:13: cell 3: output differs from a clean build"
    ]
    assert (result.verification.differences[0].cached, result.verification.differences[0].clean) == (
        "value total: 41",
        "value total: 42",
    )
    assert "total:</span><pre>42</pre>" in project.page("01-outside.html")
    assert cache.load(cache.key(last)) is None  # dropped, not served again
