"""The pipeline, top to bottom: discover -> parse -> execute -> render -> write."""

from __future__ import annotations

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager as ContextManager
from dataclasses import replace
from pathlib import Path

from runtime.analysis import imported_modules

from .cache.entries import Cache
from .cache.verify import Verification, adopt_clean, compare
from .config import Config
from .execution.cancel import CancelToken
from .execution.execute import execute_essay
from .leftovers import MODULES_PREFIX, scratch, sweep_scratch
from .paths import PathError, check_paths, clean_leftovers, restore_previous, shown
from .pipeline.links import resolve_links
from .pipeline.modules import Module, chain_with_modules, collect, write_modules
from .pipeline.parse import EssayError, parse_essay, title_from_name
from .pipeline.render import NavEntry, environment, figures, render_essay, render_failed, render_index
from .pipeline.static_files import copy_assets, page_config, write_static
from .pipeline.writer import SiteWriter
from .progress import Reporter
from .records import BuildResult, EssayBuild


def build(
    config: Config,
    swap_lock: ContextManager | None = None,
    reporter: Reporter | None = None,
    cancel: CancelToken | None = None,
) -> BuildResult:
    """Build the whole site. Raises only for problems with the build itself: PathError
    (before any cell runs) for a folder it must not use, OSError when the site cannot be
    written. Problems in essays are recorded in the result and never stop the others.
    A `progress.Reporter` shows progress in the terminal; without one the build is silent.
    `cancel`: this build's token, for whoever may stop it (Ctrl+C, the dev server); its
    `cancel()` ends this build's workers only."""
    cancel = cancel if cancel is not None else CancelToken()
    start = time.monotonic()
    config = config.resolved()
    check_paths(config)
    restored = restore_previous(config.output)  # before clean_leftovers: never delete the only copy
    clean_leftovers(config.output)
    sweep_scratch()
    builds = [parse_one(path) for path in discover(config.source)]
    modules, warnings, broken = link_essays(builds)
    # the site folder is made before any cell runs: an output that cannot be written is
    # said at once, not after minutes of cells
    writer = SiteWriter(config.output, swap_lock)
    verification = None
    try:
        with scratch(MODULES_PREFIX) as folder:
            write_modules(modules, folder)
            execute_all(builds, config, reporter, warnings, folder, cancel)
            if config.verify:
                verification = verify_clean(builds, config, reporter, warnings, folder, cancel)
        write_site(builds, config, writer, warnings, modules)
    except BaseException:
        writer.abort()
        raise
    if restored is not None:
        warnings.insert(0, f"the previous site was put back from {shown(restored)}, where a killed build had left it")
    result = BuildResult(builds, time.monotonic() - start, warnings, broken, verification)
    result.generated = sorted(config.source / path for b in builds for path in b.written())
    if config.report is not None:
        try:
            write_report(result, config.report)
        except OSError as exc:  # the site is already in place: the report's failure is only a warning
            result.warnings.append(f"the report could not be written to {shown(config.report)}: {exc.strerror or exc}")
    return result


# ----- steps -----------------------------------------------------------------------------


def discover(source: Path) -> list[Path]:
    if not source.is_dir():
        raise PathError(f"{shown(source)}: no such folder of essays")
    return sorted(p for p in source.glob("*.md") if p.is_file())


def parse_one(path: Path) -> EssayBuild:
    try:
        return EssayBuild(path, essay=parse_essay(path))
    except EssayError as exc:
        return EssayBuild(path, error=exc)


def link_essays(builds: list[EssayBuild]) -> tuple[dict[str, Module], list[str], list[str]]:
    """What ties the essays together: their modules (and cell keys that cover the modules
    each cell imports) and the links between them. Returns the modules, warnings, and the
    broken links."""
    essays = [b.essay for b in builds if b.essay is not None]
    modules, warnings = collect(essays)
    warnings[:0] = [w for essay in essays for w in essay.warnings]
    for essay in essays:
        chain_with_modules(essay, modules)
    return modules, warnings, resolve_links(essays)


def execute_all(
    builds: list[EssayBuild],
    config: Config,
    reporter: Reporter | None = None,
    warnings: list[str] | None = None,
    modules: Path | None = None,
    cancel: CancelToken | None = None,
) -> None:
    """Each essay in its own worker process; several at once, one per core. What went
    wrong with the cache (it costs speed, never outputs) is added to `warnings`."""
    reporter = reporter or Reporter(enabled=False)
    cancel = cancel if cancel is not None else CancelToken()
    runnable = [b for b in builds if b.essay is not None]
    jobs = config.jobs or min(len(runnable), os.cpu_count() or 1) or 1
    cache = Cache(config.cache_root, config.source) if config.use_cache else None

    def run(b: EssayBuild) -> None:
        started = time.monotonic()
        essay = b.essay
        assert essay is not None
        reporter.essay_started(essay)
        progress = lambda cell, i, n: reporter.cell_progress(essay, cell, i, n)  # noqa: E731
        b.results = execute_essay(
            essay, config.cell_timeout, progress=progress, cache=cache, modules=modules, cancel=cancel
        )
        b.seconds = time.monotonic() - started
        reporter.essay_done(essay, b.results, b.seconds)

    with reporter:
        pool = ThreadPoolExecutor(max_workers=jobs)
        futures = [pool.submit(run, b) for b in runnable]
        try:
            for future in futures:
                future.result()
        except BaseException:
            # Ctrl+C: the running cells end now, not when they finish
            pool.shutdown(wait=False, cancel_futures=True)
            cancel.cancel(lambda: all(f.done() for f in futures))
            raise
        pool.shutdown()
    if cache is not None:
        cache.prune({cache.key(c) for b in runnable if b.essay for c in b.essay.cells}, config.cache_limit)
        cache.record_generated({path for b in runnable for path in b.written()})
        if warnings is not None:
            warnings.extend(cache.warnings())


def verify_clean(
    builds: list[EssayBuild],
    config: Config,
    reporter: Reporter | None,
    warnings: list[str],
    modules: Path,
    cancel: CancelToken | None = None,
) -> Verification:
    """`--verify`: run every essay again with no cache and compare each cell's outputs with
    this build's. Before the site is written, so it is written once: where the two differ,
    it shows the clean run's results, and the stale cache entries are dropped."""
    clean = [EssayBuild(b.source, essay=b.essay, error=b.error) for b in builds]
    execute_all(clean, replace(config, use_cache=False), reporter, modules=modules, cancel=cancel)
    verification = compare(builds, clean)
    cache = Cache(config.cache_root, config.source) if config.use_cache else None
    adopt_clean(builds, clean, verification, cache)
    if cache is not None:
        warnings.extend(cache.warnings())
    return verification


def write_site(
    builds: list[EssayBuild], config: Config, writer: SiteWriter, warnings: list[str], modules: dict[str, Module]
) -> None:
    """Render and write every page, then swap the site in; adds warnings about what the
    site lacks."""
    env = environment(config.templates)
    nav = [nav_entry(b) for b in builds]
    link_series(builds, nav, modules)
    warnings.extend(unpublished_outputs(builds))
    imported = {m for b in builds if b.essay for c in b.essay.cells for m in imported_modules(c.source)}
    assets = copy_assets(writer, config.source, warnings, imported)
    warnings.extend(write_static(writer, config, assets, {m.name: m.text for m in modules.values()}))
    writer.write_text("index.html", render_index(env, nav))
    for b, entry in zip(builds, nav, strict=True):
        if b.essay is not None:
            settings = page_config(config, b.essay.slug, figures(b.results))
            writer.write_text(b.page, render_essay(env, b.essay, b.results, nav, settings))
        elif (config.output / b.page).is_file():
            # keep the last good page of an essay that no longer parses
            writer.copy_file(config.output / b.page, b.page)
        else:
            writer.write_text(b.page, render_failed(env, entry, str(b.error), nav))
    writer.commit()


def unpublished_outputs(builds: list[EssayBuild]) -> list[str]:
    """Files the cells wrote at the top of the essays folder. Only folders are published
    (a top-level file may be a token a cell saved), so say why the site lacks a figure."""
    lines = []
    for b in builds:
        cells = b.essay.cells if b.essay else []
        for cell, result in zip(cells, b.results, strict=False):
            for name in sorted(result.depends.writes if result.depends else ()):
                if os.sep not in name and not name.startswith("."):
                    lines.append(
                        f"{shown(b.source)}:{cell.line}: cell {cell.index + 1} wrote {name} beside the essays, "
                        f"where nothing is published: write it into a folder (figures/{name}) to publish it"
                    )
    return lines


def nav_entry(b: EssayBuild) -> NavEntry:
    number = int(match.group(1)) if (match := re.match(r"(\d+)[-_]", b.source.name)) else None
    if b.essay is None:
        return NavEntry(b.page, title_from_name(b.source), status=b.status, number=number)
    description = str(b.essay.meta.get("description") or "")
    return NavEntry(b.page, b.essay.title, description, b.status, number)


def link_series(builds: list[EssayBuild], nav: list[NavEntry], modules: dict[str, Module]) -> None:
    """Each essay builds on the essays whose modules it imports."""
    by_path = {b.source: entry for b, entry in zip(builds, nav, strict=True)}
    for b, entry in zip(builds, nav, strict=True):
        if b.essay is None:
            continue
        used = {m for cell in b.essay.cells for m in imported_modules(cell.source)} - {b.essay.module}
        sources = sorted({modules[m].essay.path for m in used if m in modules})
        entry.builds_on = [by_path[s] for s in sources if s in by_path]


def write_report(result: BuildResult, path: Path) -> None:
    report = {
        "seconds": round(result.seconds, 4),
        "essays": [
            {
                "source": shown(b.source),
                "page": b.page,
                "title": b.essay.title if b.essay else None,
                "status": b.status,
                "error": str(b.error) if b.error else None,
                "cells": [
                    {
                        "index": cell.index,
                        "id": cell.dom_id,
                        "line": cell.line,
                        "status": r.status,
                        "seconds": round(r.seconds, 4),
                        "cached": r.cached,
                        **({"outside": r.depends.outside()} if r.depends and r.depends.outside() else {}),
                        **({"note": r.note} if r.note else {}),
                    }
                    for cell, r in zip(b.essay.cells if b.essay else [], b.results, strict=True)
                ],
            }
            for b in result.essays
        ],
        **({"verify": result.verification.to_dict()} if result.verification else {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
