"""The pipeline, top to bottom: discover -> parse -> execute -> render -> write."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path

from runtime.analysis import imported_modules

from .cache.entries import Cache
from .cache.keys import content_keys
from .cache.remote import Remote
from .cache.verify import Verification, adopt_clean, compare
from .config import Config
from .diagnostics import Diagnostics
from .execution.cancel import CancelToken
from .execution.execute import execute_essay
from .execution.worker import threads_per_worker
from .leftovers import MODULES_PREFIX, STATE_PREFIX, scratch, sweep_scratch
from .live import LiveBuild, Superseded
from .paths import PathError, asset_files, check_paths, clean_leftovers, missing_source, restore_previous, shown
from .pipeline.checks import check_essay
from .pipeline.citations import attach_bibliography
from .pipeline.links import resolve_links
from .pipeline.modules import Module, collect, imported_digests, write_modules
from .pipeline.page_packages import PagePackages, plan, write_wheels
from .pipeline.parse import EssayError, parse_essay, title_from_name
from .pipeline.problems import page_problems
from .pipeline.render import NavEntry, environment, figures, render_essay, render_failed, render_index
from .pipeline.search_index import search_built, write_search
from .pipeline.static_files import PAGE_PACKAGES, PYODIDE_DIR, copy_assets, page_config, write_static
from .pipeline.writer import SiteWriter
from .progress import Reporter
from .records import BuildResult, CellResult, EssayBuild, cell_problem
from .settings import Settings, load_settings


def build(
    config: Config,
    swap_lock: ContextManager[object] | None = None,
    reporter: Reporter | None = None,
    cancel: CancelToken | None = None,
    live: LiveBuild | None = None,
) -> BuildResult:
    """Build the whole site. Raises only for problems with the build itself: PathError
    (before any cell runs) for a folder it must not use, OSError when the site cannot be
    written. Problems in essays are recorded in the result and never stop the others.
    A `progress.Reporter` shows progress in the terminal; without one the build is silent.
    `cancel`: this build's token, for whoever may stop it (Ctrl+C, the dev server); its
    `cancel()` ends this build's workers only. `live`: what a dev server adds (live.py):
    pages published as their essays are done, the edited essays first, runs shared with
    its other builds."""
    cancel = cancel if cancel is not None else CancelToken()
    start = time.monotonic()
    config = config.resolved()
    check_paths(config)
    # everything the build has to say, in the order it is found: passed to every step
    diagnostics = Diagnostics()
    restored = restore_previous(config.output)  # before clean_leftovers: never delete the only copy
    if restored is not None:
        diagnostics.warn(f"the previous site was put back from {shown(restored)}, where a killed build had left it")
    clean_leftovers(config.output)
    sweep_scratch()
    settings = load_settings(config.source, diagnostics)
    builds = [parse_one(path, diagnostics, settings.cell_defaults()) for path in discover(config.source)]
    modules = link_essays(builds, diagnostics)
    # the site folder is made before any cell runs: an output that cannot be written is
    # said at once, not after minutes of cells
    writer = SiteWriter(config.output, swap_lock)
    verification = None
    try:
        # opened once: every key of this build has the same salt, whichever step asks
        cache = open_cache(config)
        early = early_pages(builds, config, modules, settings, live) if live is not None else None
        # the portable state's values where no writable cache keeps them (builder/state.py)
        with scratch(STATE_PREFIX) as state:
            with scratch(MODULES_PREFIX) as folder:
                write_modules(modules, folder)
                execute_all(builds, config, cache, reporter, folder, cancel, live=live, early=early, state=state)
                if config.verify:
                    verification = verify_clean(builds, config, cache, reporter, folder, cancel, state=state)
            if cache is not None:
                cache.report(diagnostics)
            for b in builds:  # after --verify, which may replace an essay's results
                diagnostics.extend(b.diagnostics())
            if live is not None and live.superseded():  # its pages would be older than the newer build's
                raise Superseded("a newer build is running")
            packages = write_site(builds, config, writer, diagnostics, modules, settings)
            write_essay_state(builds, config, writer, cache, state, settings=settings, diagnostics=diagnostics)
            writer.commit()
    except BaseException:
        writer.abort()
        raise
    result = BuildResult(builds, time.monotonic() - start, diagnostics, verification, packages=packages)
    result.generated = sorted(config.source / path for b in builds for path in b.written())
    if config.report is not None:
        try:
            write_report(result, config.report, config.strict)
        except OSError as exc:  # the site is already in place: the report's failure is only a warning
            diagnostics.warn(f"the report could not be written to {shown(config.report)}: {exc.strerror or exc}")
    return result


# ----- steps -----------------------------------------------------------------------------


def discover(source: Path) -> list[Path]:
    if not source.is_dir():
        raise PathError(missing_source(source))
    return sorted(p for p in source.glob("*.md") if p.is_file())


def parse_one(path: Path, diagnostics: Diagnostics, defaults: dict[str, str] | None = None) -> EssayBuild:
    """An essay that cannot be read is recorded as such (its error becomes a diagnostic once
    the build knows what every essay did: EssayBuild.diagnostics)."""
    try:
        essay = parse_essay(path, diagnostics, defaults)
    except EssayError as exc:
        return EssayBuild(path, error=exc)
    attach_bibliography(essay, diagnostics)  # the works it cites, from its .bib files
    check_essay(essay, diagnostics)  # what still renders but is wrong: ids, files, attributes
    return EssayBuild(path, essay=essay)


def open_cache(config: Config) -> Cache | None:
    """The build's cache: the local folder, read through from the shared store when
    `cache_url` names one. None with --no-cache."""
    if not config.use_cache:
        return None
    remote = Remote(config.cache_url) if config.cache_url else None
    return Cache(config.cache_root, config.source, remote)


def link_essays(builds: list[EssayBuild], diagnostics: Diagnostics) -> dict[str, Module]:
    """What ties the essays together: their modules, each cell's content key (which covers
    the modules it imports) and the links between them. Returns the modules."""
    essays = [b.essay for b in builds if b.essay is not None]
    modules = collect(essays, diagnostics)
    for b in builds:
        if b.essay is not None:
            b.keys = content_keys(b.essay.cells, imported_digests(b.essay, modules))
    resolve_links(essays, diagnostics)
    return modules


def execute_all(
    builds: list[EssayBuild],
    config: Config,
    cache: Cache | None = None,
    reporter: Reporter | None = None,
    modules: Path | None = None,
    cancel: CancelToken | None = None,
    *,
    live: LiveBuild | None = None,
    early: Callable[[EssayBuild], None] | None = None,
    state: Path | None = None,
) -> None:
    """Each essay in its own worker process; several at once, one per core. `cache`: None
    runs every cell. With `live` (a dev server's build), the essays just edited run first,
    runs are shared with the server's other builds, and `early(b)` publishes an essay's page
    when other essays are still running. `state`: where the portable state goes when the
    cache cannot keep it."""
    reporter = reporter or Reporter(enabled=False)
    cancel = cancel if cancel is not None else CancelToken()
    runnable = [b for b in builds if b.essay is not None]
    jobs = config.jobs or min(len(runnable), os.cpu_count() or 1) or 1
    identities: dict[Path, Hashable] = {}
    if live is not None and config.executor == "local":
        identities = {b.source: run_identity(b, config, cache, modules) for b in runnable}
        live.runs.retire(identities)
        # the edited essays first; one whose run is in flight for an earlier build last, as
        # waiting for it holds a thread that the essays behind it would wait for
        runnable.sort(key=lambda b: (b.source not in live.first, live.runs.in_flight(identities[b.source])))
    remaining = [len(runnable)]
    count = threading.Lock()

    def run(b: EssayBuild) -> None:
        if live is not None and live.superseded():
            return  # a newer build runs this essay (or waits for its run, if this one began it)
        started = time.monotonic()
        essay = b.essay
        assert essay is not None
        reporter.essay_started(essay)
        progress = lambda cell, i, n: reporter.cell_progress(essay, cell, i, n)  # noqa: E731

        def start(token: CancelToken) -> list[CellResult]:
            return execute_essay(
                essay,
                config.cell_timeout,
                progress=progress,
                cache=cache,
                modules=modules,
                keys=b.keys,
                cancel=token,
                timeouts=live.timeouts if live is not None else None,
                started=lambda cell: reporter.cell_started(essay, cell),
                state=state,
                threads=threads_per_worker(jobs),
            )

        if live is None or not identities:
            b.results = start(cancel)
        else:
            shared = live.runs.run(b.source, identities[b.source], start)
            if shared is None:  # its essay changed while it ran: a newer build runs it
                return
            b.results = shared
        b.seconds = time.monotonic() - started
        reporter.essay_done(essay, b.results, b.seconds)
        with count:
            remaining[0] -= 1
            others = remaining[0] > 0
        if early is not None and others:  # the last one's page comes with the whole site, now
            early(b)

    if config.executor != "local":
        from .execution.cluster import execute_on_cluster

        with reporter:
            execute_on_cluster(runnable, config, cache, reporter, modules, cancel)
        finish_cache(runnable, config, cache)
        return
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
    if live is not None and live.superseded():
        return  # its results are partial: the newest build prunes and records what cells wrote
    finish_cache(runnable, config, cache)


def run_identity(b: EssayBuild, config: Config, cache: Cache | None, modules: Path | None) -> Hashable:
    """What makes two builds' runs of an essay the same run: the essay, its cells' cache keys
    (their sources, the cells above, the modules they import, the files beside the essays,
    the runtime), the time limit, and the modules' text (a module may be imported at run
    time, beyond what keys see). Without a cache, no two runs are the same."""
    if cache is None:
        return (b.source, object())
    texts = tuple(sorted((p.name, p.read_bytes()) for p in modules.glob("*.py"))) if modules else ()
    return (b.source, tuple(cache.key(k) for k in b.keys), config.cell_timeout, hash(texts))


def early_pages(
    builds: list[EssayBuild], config: Config, modules: dict[str, Module], settings: Settings, live: LiveBuild
) -> Callable[[EssayBuild], None]:
    """For a dev server's build: the function that publishes one essay's page, with the
    index beside it (a title may have changed), before the whole site is swapped in. The
    pages link to the site's _static/ as it is: the swap brings this build's."""
    env = environment(config.templates)
    env.globals["site"] = settings
    env.globals["search"] = search_built()
    nav = [nav_entry(b) for b in builds]
    link_series(builds, nav, modules)

    def publish(b: EssayBuild) -> None:
        assert b.essay is not None
        page = page_config(config, b.essay.slug, figures(b.results))
        pages = {b.page: render_essay(env, b.essay, b.results, nav, page, b.keys), "index.html": render_index(env, nav)}
        if live.publish(pages):
            live.published.append(b.page)

    return publish


def finish_cache(runnable: list[EssayBuild], config: Config, cache: Cache | None) -> None:
    """After the essays ran: the local cache pruned to its limit (a shared store never is),
    and the files the cells wrote recorded."""
    if cache is not None:
        cache.prune({cache.key(k) for b in runnable for k in b.keys}, config.cache_limit)
        cache.record_generated({path for b in runnable for path in b.written()})


def verify_clean(
    builds: list[EssayBuild],
    config: Config,
    cache: Cache | None,
    reporter: Reporter | None,
    modules: Path,
    cancel: CancelToken | None = None,
    *,
    state: Path | None = None,
) -> Verification:
    """`--verify`: run every essay again with no cache and compare each cell's outputs with
    this build's. Before the site is written, so it is written once: where the two differ,
    it shows the clean run's results, and the stale cache entries are dropped."""
    clean = [EssayBuild(b.source, essay=b.essay, error=b.error, keys=b.keys) for b in builds]
    execute_all(clean, config, None, reporter, modules=modules, cancel=cancel, state=state)
    verification = compare(builds, clean)
    adopt_clean(builds, clean, verification, cache)
    return verification


def write_site(
    builds: list[EssayBuild],
    config: Config,
    writer: SiteWriter,
    diagnostics: Diagnostics,
    modules: dict[str, Module],
    site: Settings | None = None,
) -> PagePackages:
    """Render and write every page (the caller swaps the site in, once the state is
    written too); adds warnings about what the site lacks. Returns what the page's packages
    come from."""
    env = environment(config.templates)
    env.globals["site"] = site or Settings()  # essays.toml: the title, author, links
    if config.show_problems:  # essays serve, or build --show-problems: the author's list in every page
        env.globals["build_problems"] = page_problems(diagnostics, builds)
    nav = [nav_entry(b) for b in builds]
    link_series(builds, nav, modules)
    unpublished_outputs(builds, diagnostics)
    imported = {m for b in builds if b.essay for c in b.essay.cells for m in imported_modules(c.source)}
    assets = copy_assets(writer, config.source, diagnostics, imported)
    helpers = {Path(a).stem: config.source / a for a in assets if "/" not in a and a.endswith(".py")}
    sources = {name: path.read_text(encoding="utf-8", errors="replace") for name, path in helpers.items()}
    sources.update({m.name: m.text for m in modules.values()})
    packages = page_packages(builds, config, writer, diagnostics, sources)
    wheels = packages.manifest()
    write_static(writer, config, assets, {m.name: m.text for m in modules.values()}, diagnostics, wheels)
    env.globals["search"] = write_search(writer, [b.essay for b in builds if b.essay is not None])
    writer.write_text("index.html", render_index(env, nav))
    for b, entry in zip(builds, nav, strict=True):
        if b.essay is not None:
            page = page_config(config, b.essay.slug, figures(b.results))
            writer.write_text(b.page, render_essay(env, b.essay, b.results, nav, page, b.keys))
        elif (config.output / b.page).is_file():
            # keep the last good page of an essay that no longer parses
            writer.copy_file(config.output / b.page, b.page)
        else:
            writer.write_text(b.page, render_failed(env, entry, str(b.error), nav))
    return packages


def page_packages(
    builds: list[EssayBuild],
    config: Config,
    writer: SiteWriter,
    diagnostics: Diagnostics,
    sources: dict[str, str] | None = None,
) -> PagePackages:
    """The packages the cells import that the page must get: wheels of the pure-Python ones
    Pyodide lacks, written under _static/wheels/ (kept in the cache folder between builds).
    `sources`: the essays' modules and the helpers published beside them, by name."""
    cache = config.cache_root / "wheels" if config.use_cache else None
    lock = PYODIDE_DIR / "pyodide-lock.json"
    packages = plan(builds, lock, cache, diagnostics, skip=PAGE_PACKAGES, sources=sources)
    write_wheels(writer, packages)
    return packages


def write_essay_state(
    builds: list[EssayBuild],
    config: Config,
    writer: SiteWriter,
    cache: Cache | None,
    state: Path,
    *,
    settings: Settings,
    diagnostics: Diagnostics,
) -> None:
    """_static/state/: what the page resumes from (builder/state.py), within each essay's
    budget; a budget that does not read is a warning, and the default stands."""
    from .state import DEFAULT_BUDGET, parse_budget, read_from, write_state

    def budget_of(b: EssayBuild) -> int:
        own = b.essay.meta.get("state-budget") if b.essay is not None else None
        for text, where in ((own, b.source), (settings.state_budget or None, None)):
            if text is None:
                continue
            budget = parse_budget(str(text))
            if budget is not None:
                return budget
            diagnostics.warn(f'state budget "{text}" is not a size such as "20 MB"', where, None, "markup")
        return DEFAULT_BUDGET

    blobs = cache.state if cache is not None else None
    # what the site publishes beside the pages: a value made after a cell read anything else
    # stays out of the page's state (copy_assets chose the same files for the site)
    imported = {m for b in builds if b.essay for c in b.essay.cells for m in imported_modules(c.source)}
    published = {p.relative_to(config.source).as_posix() for p in asset_files(config.source, imported)}
    local = read_from(blobs, state)

    def read(digest: str) -> bytes | None:
        if cache is not None:
            cache.has_blob(digest)  # from the shared store, when the build has one
        return local(digest)

    problems = write_state(builds, writer.write_bytes, read, budget_of, published)
    # values over an essay's budget are not a fault (the page recomputes them): the summary
    # line of the build says how many (StateCost), and --strict has nothing to refuse
    for source, problem in problems.items():
        diagnostics.warn(f"{source}: {problem}")


def unpublished_outputs(builds: list[EssayBuild], diagnostics: Diagnostics) -> None:
    """Files the cells wrote at the top of the essays folder. Only folders are published
    (a top-level file may be a token a cell saved), so say why the site lacks a figure."""
    for b in builds:
        cells = b.essay.cells if b.essay else []
        for cell, result in zip(cells, b.results, strict=False):
            for name in sorted(result.depends.writes if result.depends else ()):
                if os.sep not in name and not name.startswith("."):
                    diagnostics.warn(
                        f"cell {cell.index + 1} wrote {name} beside the essays, where nothing is published: "
                        f"write it into a folder (figures/{name}) to publish it",
                        b.source,
                        cell.line,
                        kind="output",
                    )


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


def _error_text(result: CellResult) -> str | None:
    """A cell's error in full (its traceback), as the page shows it: the report's reader
    should not need the page to learn what went wrong."""
    errors = [o.text for o in result.outputs if o.kind == "error" and o.text]
    return "\n".join(errors) or None


def write_report(result: BuildResult, path: Path, strict: bool = False) -> None:
    """The JSON report: each essay and cell, and the diagnostics as `strict` judges them."""
    report = {
        "seconds": round(result.seconds, 4),
        "essays": [
            {
                "source": shown(b.source),
                "page": b.page,
                "title": b.essay.title if b.essay else None,
                "status": b.status,
                "error": str(b.error) if b.error else None,
                **({"state": {"values": b.state_cost.values, "bytes": b.state_cost.bytes}} if b.state_cost else {}),
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
                        **({"problem": problem} if (problem := cell_problem(cell, r)) else {}),
                        **({"error": error} if (error := _error_text(r)) else {}),
                    }
                    for cell, r in zip(b.essay.cells if b.essay else [], b.results, strict=True)
                ],
            }
            for b in result.essays
        ],
        "diagnostics": result.diagnostics.for_strict(strict).to_list(),
        **({"packages": result.packages.to_dict()} if result.packages else {}),
        **({"verify": result.verification.to_dict()} if result.verification else {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
