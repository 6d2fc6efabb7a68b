"""Differential test: a build that resumes from the cache publishes, byte for byte, what a
clean build (`use_cache=False`) of the same files publishes.

For each corpus (a folder of essays): build once with a cache (cold), make one edit, build
again incrementally, then build the same edited files clean, and compare every cell's
published output HTML (for a readable message), then every file of the two sites. The clean
build is made of the edited files, not taken from the original's: an edit that moves lines
changes tracebacks and warnings, which name lines.

Edits: none (the cold build, and a warm one served whole from the cache); a `# edit`
comment line added at the top of a cell (the first, middle and last of each essay; every
other cell of the state corpora too, in the slow tier); six lines of prose added above an essay's first cell; an essay
copied to another file name; an exported cell changed, which an essay imports only
through a helper module; a file created outside the essays folder that a failed cell read.
Cells marked data-verify="skip" (timings) are left out, as `essays build --verify` does.

Size: 10 corpora, 12 essays, 37 cells, 79 cases (a cold and a warm build of each corpus,
and 59 edits), each case one incremental and one clean build; the cold and warm cases share
one clean build of the unedited files, made with the corpus's cold build. The default tier
(`make check`) has every kind of edit on the corpora made for this test, the state corpora
and no-assets: 34 cases. The slow tier adds the other fixtures' corpora (golden, browser),
whose outputs test_golden checks in the default tier, and a comment in each of the state
corpora's 6 other cells. tests/fixtures/differential/ holds the state corpora: state/ (random and numpy
generators, numpy print options, warnings filters, decimal context, sys.path), errors/
(data-expect-error tracebacks, a function defined early raising later, state a failing cell
leaves behind, a file outside the essays folder), exports/ (a helper module beside the
essays importing an exported module, and a data-verify="skip" cell). The standalone
fixtures: each of tests/fixtures/golden/, no-assets/, and browser/'s 01-page and
04-packages. Slow tier (ESSAYS_DIFF_FULL=1, about 4 min here): the repository's essays/
(4 essays, 74 cells), cold, and after a comment in every essay's last cell.

Every case failed before issue 15's fixes in at least one of these ways: interpreter state
(random generators, numpy print options, ...) missing from snapshots; failed cells cached;
tracebacks with stale line numbers or file names; stale imports of exported modules through
helper modules.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import FIXTURES, ROOT

from builder.build import build
from builder.cache.entries import Cache
from builder.cache.keys import content_keys
from builder.config import Config
from builder.pipeline.parse import parse_essay
from builder.records import CellResult
from builder.state import STATE
from runtime.display import Output

# a cell's section in a page, from its index to the end of its outputs (templates/cell.html)
CELL_HTML = re.compile(
    r'<section class="cell[^"]*" id="[^"]*" data-cell="(\d+)".*?<div class="cell-output"[^>]*>(.*?)</div>\n</section>',
    re.S,
)
PROSE = ["", "Six lines of prose, added above a cell.", "", "They move every line below", "this point.", ""]


@dataclass(frozen=True)
class Edit:
    """One change to a corpus between the cold build and the incremental one."""

    kind: str  # "cold", "warm", "comment", "prose", "copy", "change", "create"
    essay: str = ""  # the file edited (or created), relative to the corpus
    cell: int = 0  # the cell it concerns, 0-based
    old: str = ""  # "change": replace this text of the file...
    new: str = ""  # ...with this; "create": the new file's text

    @property
    def id(self) -> str:
        where = f"-{Path(self.essay).name}" if self.essay else ""
        return f"{self.kind}{where}" + (f"-cell{self.cell + 1}" if self.kind in ("comment", "prose") else "")

    def apply(self, folder: Path) -> None:
        path = folder / self.essay
        if self.kind == "comment":
            cell = parse_essay(path).cells[self.cell]
            lines = path.read_text(encoding="utf-8").split("\n")
            first = lines[cell.line - 1]
            lines.insert(cell.line - 1, first[: len(first) - len(first.lstrip())] + "# edit")
            path.write_text("\n".join(lines), encoding="utf-8")
        elif self.kind == "prose":
            cell = parse_essay(path).cells[self.cell]
            lines = path.read_text(encoding="utf-8").split("\n")
            lines[cell.tag_line - 1 : cell.tag_line - 1] = PROSE
            path.write_text("\n".join(lines), encoding="utf-8")
        elif self.kind == "copy":
            shutil.copyfile(path, path.with_name(f"{path.stem}-copy.md"))
        elif self.kind == "change":
            text = path.read_text(encoding="utf-8")
            assert self.old in text, f"{self.essay} no longer holds {self.old!r}"
            path.write_text(text.replace(self.old, self.new), encoding="utf-8")
        elif self.kind == "create":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.new, encoding="utf-8")


@dataclass(frozen=True)
class Corpus:
    """A folder of essays to build, or some of its essays alone (the golden fixtures sit
    beside their expected pages, which must not become assets)."""

    name: str
    folder: Path
    only: tuple[str, ...] = ()  # these essays and nothing else of the folder; () the whole folder
    every_cell: bool = False  # a comment in every cell (the slow tier), not only the first, middle and last
    extra: tuple[Edit, ...] = ()
    slow: bool = False  # every case in the slow tier: a fixture made for another test, for breadth

    def copy_to(self, essays: Path) -> None:
        if not self.only:
            shutil.copytree(self.folder, essays)
            return
        essays.mkdir(parents=True)
        for name in self.only:
            shutil.copyfile(self.folder / name, essays / name)

    def cell_counts(self) -> dict[str, int]:
        paths = [self.folder / n for n in self.only] if self.only else sorted(self.folder.glob("*.md"))
        return {p.name: len(parse_essay(p).cells) for p in paths}

    def edits(self) -> list[Edit]:
        """The cold and warm builds; a comment in the first, middle and last cell of each
        essay; prose above each essay's first cell; each essay copied, but one that exports
        (its copy would export the same module twice); then the extras."""
        edits = [Edit("cold"), Edit("warm")]
        for name, n in self.cell_counts().items():
            edits += [Edit("comment", name, k) for k in sorted({0, n // 2, n - 1}) if n]
            edits += [Edit("prose", name, 0)] if n else []
            if "data-export" not in (self.folder / name).read_text(encoding="utf-8"):
                edits.append(Edit("copy", name))
        return [*edits, *self.extra]

    def other_cells(self) -> list[Edit]:
        """For a corpus of every_cell: a comment in each cell that edits() leaves out."""
        if not self.every_cell:
            return []
        return [
            Edit("comment", name, k)
            for name, n in self.cell_counts().items()
            for k in range(n)
            if k not in {0, n // 2, n - 1}
        ]


DIFFERENTIAL = FIXTURES / "differential"
GOLDEN = FIXTURES / "golden"
NO_ASSETS = Corpus("no-assets", FIXTURES / "no-assets")
CORPORA = [
    Corpus("state", DIFFERENTIAL / "state", every_cell=True),
    # 02-outside.md's first cell fails to read a file outside the essays folder, outside every key
    Corpus(
        "errors", DIFFERENTIAL / "errors", every_cell=True, extra=(Edit("create", "../outside/late.txt", new="late"),)
    ),
    # 02-helper.md imports diff_tools only through helper_shapes.py
    Corpus(
        "exports",
        DIFFERENTIAL / "exports",
        every_cell=True,
        extra=(Edit("change", "01-exports.md", old="return 3 * x", new="return 5 * x"),),
    ),
    *(Corpus(f"golden-{p.stem}", GOLDEN, only=(p.name,), slow=True) for p in sorted(GOLDEN.glob("*.md"))),
    NO_ASSETS,
    # the page fixtures that stand alone: no assets, no other essay's module, no GPU
    *(
        Corpus(f"browser-{n[3:-3]}", FIXTURES / "browser", only=(n,), slow=True)
        for n in ("01-page.md", "04-packages.md")
    ),
]


def cases(corpora: list[Corpus]) -> list[pytest.ParameterSet]:
    """Each corpus's edits. A slow corpus's, and the comments in every other cell, are
    marked slow: they repeat kinds of edit the default tier has, on more essays and cells,
    and `make check` must stay quick."""
    found = []
    for corpus in corpora:
        marks = [pytest.mark.slow] if corpus.slow else []
        found += [pytest.param(corpus, edit, id=f"{corpus.name}:{edit.id}", marks=marks) for edit in corpus.edits()]
        found += [
            pytest.param(corpus, edit, id=f"{corpus.name}:{edit.id}", marks=pytest.mark.slow)
            for edit in corpus.other_cells()
        ]
    return found


# ----- building and comparing --------------------------------------------------------------


class Workspace:
    """One corpus, built cold once, with the cache and clean; each case starts again from
    those builds, at the same paths (a snapshot may hold a path, and a path is not what these
    cases change)."""

    def __init__(self, root: Path, corpus: Corpus) -> None:
        self.root = root
        self.essays, self.cache = root / "work" / "essays", root / "work" / "cache"
        self.saved = root / "saved"
        corpus.copy_to(self.essays)
        self.build("site", use_cache=True)  # the cold build every case resumes from
        # the unedited files built clean: what the cold and the warm build must both publish
        self.build("clean-site", use_cache=False)
        shutil.copytree(root / "work", self.saved)

    def reset(self) -> None:
        shutil.rmtree(self.root / "work")
        shutil.copytree(self.saved, self.root / "work")

    def build(self, site: str, use_cache: bool) -> Path:
        output = self.root / "work" / site
        # Pyodide from elsewhere: its 13 MB are the same in every site, and copying them is
        # most of what a build of these small essays writes
        config = Config(
            source=self.essays,
            output=output,
            cache_dir=self.cache,
            use_cache=use_cache,
            jobs=2,
            pyodide_url="/pyodide/",
        )
        build(config)
        return output


def skipped_cells(essays: Path) -> set[str]:
    """`page#cell N` of every cell marked data-verify="skip": it differs between any two
    builds (a timing), so it is left out here as `--verify` leaves it out."""
    return {
        f"{path.stem}.html#cell {cell.index + 1}"
        for path in sorted(essays.glob("*.md"))
        for cell in parse_essay(path).cells
        if cell.verify_skip
    }


def page_cells(site: Path, skipped: set[str]) -> dict[str, str]:
    """Every cell's published output HTML, by `page#cell N`, but the skipped cells'."""
    found = {}
    for page in sorted(site.glob("*.html")):
        for index, html in CELL_HTML.findall(page.read_text(encoding="utf-8")):
            if (where := f"{page.name}#cell {int(index) + 1}") not in skipped:
                found[where] = html
    return found


def site_files(site: Path, skipped: set[str]) -> dict[str, bytes]:
    """Every file of the site, pages with the skipped cells' outputs blanked (a figure such a
    cell drew would still count: none does)."""

    def blank(page: str, match: re.Match[str]) -> str:
        if f"{page}#cell {int(match.group(1)) + 1}" not in skipped:
            return match.group(0)
        start, end = match.span(2)
        return match.string[match.start() : start] + "(skipped)" + match.string[end : match.end()]

    files = state_files(site, skipped)
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        if path.is_relative_to(site / STATE):
            continue  # compared by state_files
        data = path.read_bytes()
        if path.suffix == ".html" and skipped:
            data = CELL_HTML.sub(lambda m, page=path.name: blank(page, m), data.decode("utf-8")).encode("utf-8")
        files[path.relative_to(site).as_posix()] = data
    return files


# A value's choice between shipping and recomputing in the page weighs its size against the
# build's measured time for the cells that made it (builder/state.py, worth_shipping). Near the
# line, two clean builds choose differently, as a cell that times itself prints differently
# (chapter 8's 14.8 MB model did, in a run of this tier). Such a value is compared by its
# content's name, which its manifest entry carries either way, and by its bytes wherever both
# builds ship it: a value one ships and the other finds cheaper to recompute is no difference.
RECOMPUTE = "cheaper to recompute"


def _timed_choice(entry: dict) -> bool:
    return bool(entry.get("shipped")) or str(entry.get("why", "")).startswith(RECOMPUTE)


def state_manifests(site: Path, skipped: set[str]) -> dict[str, dict]:
    """Each essay's resume-from-the-build manifest (builder/state.py), with the boundaries
    from its first skipped cell on left out (their values differ between any two builds, by
    design), only the entries the rest refer to, and the timed choice (above) made neutral."""
    manifests = {}
    for path in sorted((site / STATE).glob("*.json")):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if "boundaries" not in manifest:
            continue  # a value (runtime/state_json.py), compared below when a manifest ships it
        page = f"{path.stem}.html#cell "
        cut = min((int(s[len(page) :]) for s in skipped if s.startswith(page)), default=None)
        boundaries = manifest["boundaries"]
        if cut is not None:
            boundaries = [b if i + 1 < cut else None for i, b in enumerate(boundaries)]
        used = {i for b in boundaries if b for i in b.values()}
        entries = [
            None
            if i not in used
            else {k: v for k, v in e.items() if k not in ("shipped", "why")} | {"shipped": "as timed"}
            if _timed_choice(e)
            else e
            for i, e in enumerate(manifest["entries"])
        ]
        while entries and entries[-1] is None:
            entries.pop()  # the values only later boundaries held: their number is the later cells'
        shipped = [e["file"] for i, e in enumerate(manifest["entries"]) if i in used and e.get("shipped")]
        manifests[path.name] = {**manifest, "boundaries": boundaries, "entries": entries, "shipped": shipped}
    return manifests


def state_files(site: Path, skipped: set[str]) -> dict[str, bytes]:
    """The resume-from-the-build state: each essay's manifest (state_manifests) and the
    values it ships."""
    files: dict[str, bytes] = {}
    for name, manifest in state_manifests(site, skipped).items():
        shipped = set(manifest.pop("shipped"))
        files[f"{STATE}/{name}"] = json.dumps(manifest).encode()
        for entry in manifest["entries"]:
            for part in [entry["file"], *entry["parts"]] if entry and entry.get("file") in shipped else []:
                files[f"{STATE}/{part}"] = (site / STATE / part).read_bytes()
    return files


def timed_files(site: Path, skipped: set[str]) -> set[str]:
    """The site paths of the values whose shipping is a timed choice (above)."""
    return {
        f"{STATE}/{part}"
        for manifest in state_manifests(site, skipped).values()
        for entry in manifest["entries"]
        if entry and entry.get("shipped") == "as timed"
        for part in [entry["file"], *entry["parts"]]
    }


def differences(incremental: Path, clean: Path, skipped: set[str]) -> list[str]:
    """What the incremental site publishes that the clean one does not: each cell's output
    first, with a short diff, then any other file that differs."""
    lines = []
    mine, theirs = page_cells(incremental, skipped), page_cells(clean, skipped)
    for where in sorted(mine.keys() | theirs.keys()):
        a, b = mine.get(where, "(missing)"), theirs.get(where, "(missing)")
        if a != b:
            diff = difflib.unified_diff(a.split("\n"), b.split("\n"), "incremental", "clean", n=0, lineterm="")
            lines += [f"{where}: output differs from a clean build", *list(diff)[2:8]]
    files, clean_files = site_files(incremental, skipped), site_files(clean, skipped)
    # shipped by one build only, and a timed choice in both: the same content by its name
    either = timed_files(incremental, skipped) & timed_files(clean, skipped)
    lines += [
        f"{f}: differs from a clean build"
        for f in sorted(files.keys() | clean_files.keys())
        if files.get(f) != clean_files.get(f) and not (f in either and (f in files) != (f in clean_files))
    ]
    return lines


@pytest.fixture(scope="module")
def workspaces() -> dict[str, Workspace]:
    """Each corpus's cold build, made once for all its cases."""
    return {}


def workspace_for(workspaces: dict[str, Workspace], corpus: Corpus, factory: pytest.TempPathFactory) -> Workspace:
    if corpus.name not in workspaces:
        workspaces[corpus.name] = Workspace(factory.mktemp(corpus.name), corpus)
    workspace = workspaces[corpus.name]
    workspace.reset()
    return workspace


def check(workspace: Workspace, *edits: Edit) -> None:
    """Make the edits, build incrementally, build the same files clean, compare the sites.
    The files of the cold and warm cases are the corpus's own, already built clean."""
    kinds = [e.kind for e in edits]
    if kinds == ["cold"]:
        incremental = workspace.root / "work" / "site"  # the saved cold build's site
    else:
        for edit in edits:
            edit.apply(workspace.essays)  # "warm" changes nothing: every cell from the cache
        incremental = workspace.build("site", use_cache=True)
    if kinds in (["cold"], ["warm"]):
        clean = workspace.root / "work" / "clean-site"  # the saved clean build's site
    else:
        clean = workspace.build("clean-site", use_cache=False)
    found = differences(incremental, clean, skipped_cells(workspace.essays))
    assert not found, "\n".join(found)


@pytest.mark.parametrize(("corpus", "edit"), cases(CORPORA))
def test_incremental_build_publishes_what_a_clean_build_does(corpus, edit, workspaces, tmp_path_factory):
    check(workspace_for(workspaces, corpus, tmp_path_factory), edit)


def test_the_comparison_catches_a_stale_cell(workspaces, tmp_path_factory):
    """The harness can fail: a cache entry rewritten with
    another output, as a cache missing some state would serve it, is named."""
    workspace = workspace_for(workspaces, NO_ASSETS, tmp_path_factory)
    cache = Cache(workspace.cache, workspace.essays)
    [key] = content_keys(parse_essay(workspace.essays / "01-plain.md").cells)  # it imports no module
    cache.store(cache.key(key), CellResult("ok", [Output("value", "'elsewhere'", label="where")]))
    found = differences(workspace.build("site", True), workspace.build("clean-site", False), set())
    assert found[0] == "01-plain.html#cell 1: output differs from a clean build"
    assert found[2].startswith("-") and "<pre>&#x27;elsewhere&#x27;</pre>" in found[2]  # the incremental side
    assert "01-plain.html: differs from a clean build" in found


def _state_site(root: Path, entry: dict, value: bytes | None) -> Path:
    """A site holding only one essay's manifest, one value and, where given, its file."""
    folder = root / STATE
    folder.mkdir(parents=True)
    manifest = {
        "version": 1,
        "entries": [{"kind": "json", "file": "v.json", "parts": [], **entry}],
        "boundaries": [{"w": 0}],
    }
    (folder / "01-a.json").write_text(json.dumps(manifest), encoding="utf-8")
    if value is not None:
        (folder / "v.json").write_bytes(value)
    return root


def test_the_comparison_lets_a_timed_choice_differ_and_nothing_else(tmp_path):
    shipped = _state_site(tmp_path / "a", {"shipped": True}, b"[1]")
    recomputed = _state_site(
        tmp_path / "b", {"shipped": False, "why": "cheaper to recompute than to download (9 B)"}, None
    )
    assert differences(shipped, recomputed, set()) == []  # the measured times chose, either way is right
    other = _state_site(tmp_path / "c", {"shipped": True}, b"[2]")
    assert differences(shipped, other, set()) == [f"{STATE}/v.json: differs from a clean build"]
    withheld = _state_site(tmp_path / "d", {"shipped": False, "why": "over the essay's state budget"}, None)
    assert differences(shipped, withheld, set()) == [
        f"{STATE}/01-a.json: differs from a clean build",
        f"{STATE}/v.json: differs from a clean build",
    ]


# ----- the repository's own essays: minutes of training, so opt-in ------------------------

FULL = os.environ.get("ESSAYS_DIFF_FULL") == "1"
ESSAYS = Corpus("essays", ROOT / "essays")
LAST_CELLS = [Edit("comment", name, n - 1) for name, n in ESSAYS.cell_counts().items() if n]


@pytest.mark.slow
@pytest.mark.skipif(
    not FULL,
    reason="the repository's eight chapters train models: three clean builds of them, about 25 minutes "
    "on two cores: run with ESSAYS_DIFF_FULL=1",
)
# the first case builds the chapters twice (with the cache and clean); the second, one clean
# build more and an incremental one that runs each chapter's last cell
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("edits", [[Edit("cold")], LAST_CELLS], ids=["cold", "comment-in-every-last-cell"])
def test_the_repository_essays_build_incrementally_as_clean(edits, workspaces, tmp_path_factory):
    """Restricted to two clean builds: the cold one, and one after a comment in every
    essay's last cell, all at once (each essay then resumes from its latest snapshot)."""
    check(workspace_for(workspaces, ESSAYS, tmp_path_factory), *edits)
