"""`essays build --verify`: does the site the cache helped build show what a clean build
would?

After the build's own run, every essay runs again from scratch (no cache), and each cell's
published outputs (its Output records, which the page renders and nothing else) are compared
between the two runs. A difference means the cache served a value a clean build would not
publish; the clean run is the truth, so its results are the ones the site shows (see
`adopt_clean`). Cells that differ between two clean builds by design (they time themselves,
or draw unseeded random numbers) opt out with `data-verify="skip"`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from builder.paths import shown
from builder.records import EssayBuild
from runtime.display import Output

from .entries import Cache

NOTHING = "(no output)"  # what a side shows when its outputs ended before the other's


@dataclass
class Difference:
    """A cell whose cached outputs are not what a clean build publishes."""

    source: Path
    line: int
    index: int  # 0-based, as Cell.index
    cached: str  # the first line that differs, as the cached run published it
    clean: str  # ...and as the clean run did

    def __str__(self) -> str:
        return f"{shown(self.source)}:{self.line}: cell {self.index + 1}: output differs from a clean build"

    def lines(self) -> list[str]:
        """The header and a unified-diff-style pair: `-` the cache's line, `+` the clean one."""
        return [str(self), f"  -{self.cached}", f"  +{self.clean}"]

    def to_dict(self) -> dict[str, object]:
        return {
            "source": shown(self.source),
            "line": self.line,
            "cell": self.index + 1,
            "cached": self.cached,
            "clean": self.clean,
        }


@dataclass
class Verification:
    compared: int = 0  # cells compared
    skipped: int = 0  # cells left out by data-verify="skip"
    differences: list[Difference] = field(default_factory=list)
    # whose results the site shows: the clean run's replace those of every essay that differed
    published: Literal["cached", "clean"] = "cached"

    @property
    def ok(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        skipped = f" ({self.skipped} skipped by data-verify)" if self.skipped else ""
        if self.ok:
            return f"verified {self.compared} cells against a clean build: all match{skipped}"
        return (
            f"{len(self.differences)} of {self.compared} cells differ from a clean build{skipped}; "
            "the site shows the clean build's outputs"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "compared": self.compared,
            "skipped": self.skipped,
            "published": self.published,
            "differences": [d.to_dict() for d in self.differences],
        }


def output_lines(outputs: list[Output]) -> list[str]:
    """The records as lines to show a difference in: `kind label: text`, then the rest of
    the text, then any figure, markup or media type (every field a page renders)."""
    lines: list[str] = []
    for o in outputs:
        first, *rest = o.text.split("\n")
        lines.append(f"{o.kind} {o.label}: {first}" if o.label else f"{o.kind}: {first}")
        lines.extend(rest)
        if o.figure is not None:
            lines.append(f"figure: {json.dumps(o.figure, sort_keys=True)}")
        if o.html is not None:
            lines.extend(f"html: {line}" for line in o.html.split("\n"))
        if o.mime is not None:
            lines.append(f"mime: {o.mime}")
    return lines


def first_difference(cached: list[Output], clean: list[Output]) -> tuple[str, str] | None:
    """The first line where two cells' outputs part, (cached, clean); None when equal."""
    if [o.to_dict() for o in cached] == [o.to_dict() for o in clean]:
        return None
    old, new = output_lines(cached), output_lines(clean)
    for a, b in zip(old, new, strict=False):
        if a != b:
            return a, b
    if len(old) != len(new):
        return (old[len(new)] if len(old) > len(new) else NOTHING), (new[len(old)] if len(new) > len(old) else NOTHING)
    return "(a field no line shows)", "(a field no line shows)"  # unreachable while output_lines shows every field


def compare(cached: list[EssayBuild], clean: list[EssayBuild]) -> Verification:
    """Compare each cell's outputs between two runs of the same parsed essays."""
    verification = Verification()
    for mine, theirs in zip(cached, clean, strict=True):
        if mine.essay is None:
            continue
        for cell, a, b in zip(mine.essay.cells, mine.results, theirs.results, strict=True):
            if cell.verify_skip:
                verification.skipped += 1
                continue
            verification.compared += 1
            if (pair := first_difference(a.outputs, b.outputs)) is not None:
                verification.differences.append(Difference(mine.source, cell.line, cell.index, *pair))
    return verification


def adopt_clean(
    cached: list[EssayBuild], clean: list[EssayBuild], verification: Verification, cache: Cache | None
) -> None:
    """The clean run is the truth: every essay with a difference takes its results whole
    (a page never mixes the two runs), and its cache entries are dropped, snapshots with
    them, so the next build runs it from the top instead of serving the stale state again."""
    differed = {d.source for d in verification.differences}
    for mine, theirs in zip(cached, clean, strict=True):
        if mine.source not in differed or mine.essay is None:
            continue
        mine.results, mine.seconds = theirs.results, theirs.seconds
        if cache is not None:
            cache.forget([cache.key(k) for k in mine.keys])
    if differed:
        verification.published = "clean"
