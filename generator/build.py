"""The build: config → plan → source → store → analysis → render → site, in that order.

Like mkdocs' build(): gather everything first, then write the site in one step.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from generator import incremental, pagerows, parallel, publishing, render
from generator import site as site_pages
from generator.config import Config
from generator.dates import Window, default_as_of, last_days, parse_day
from generator.errors import ConfigError
from generator.plan import Plan, make_plan
from generator.sitewriter import SiteWriter
from generator.sources import Source, capabilities_of
from generator.store import Store, open_store, store_lock

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
"""progress(step, done, total): a callback the CLI turns into a progress bar."""


def _quiet(step: str, done: int, total: int) -> None:
    return None


@dataclass
class BuildResult:
    as_of: dt.date
    plan: Plan
    out_dir: Path
    files: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    jobs_run: int = 0
    units: incremental.Plan | None = None
    """Which units were rendered and which reused, and why (also in build-manifest.json)."""


def resolve_as_of(cfg: Config, override: str | None) -> dt.date:
    """--as-of beats the config's as_of, which beats yesterday in UTC."""
    text = override or cfg.as_of
    if not text:
        return default_as_of()
    try:
        return parse_day(text)
    except ValueError as exc:
        raise ConfigError(f"--as-of: {exc}") from None


def open_source(cfg: Config) -> Source:
    """The configured source, opened (files checked, credentials found)."""
    kind = cfg.source.kind
    if kind == "local":
        from generator.sources.local import LocalSource

        assert cfg.source.path is not None  # checked by config
        return LocalSource(cfg.source.path)
    if kind == "bigquery":
        from generator.sources.bigquery import BigQuerySource

        return BigQuerySource(cfg)
    if kind == "clickpy":
        from generator.sources.clickpy import ClickPySource

        return ClickPySource(cfg)
    raise ConfigError(f"{cfg.path}: unknown source kind {kind!r}")


def plan_for(
    cfg: Config,
    store: Store,
    source_name: str,
    as_of: dt.date,
    refresh: bool = False,
    max_days_per_job: int | None = None,
) -> Plan:
    """The jobs that fill what the store lacks (everything, with `refresh`)."""
    window = last_days(as_of, cfg.source.history_days)
    covered = {} if refresh else store.covered_days(source_name, cfg.packages, window)
    return make_plan(
        cfg.packages,
        covered,
        as_of,
        history_days=cfg.source.history_days,
        refetch_days=cfg.source.refetch_days,
        breakdowns=cfg.source.breakdowns,
        max_days_per_job=max_days_per_job,
    )


def days_per_job(cfg: Config, source: Source | None, as_of: dt.date) -> int | None:
    """For BigQuery, the longest day range whose guaranteed ceiling fits the per-query cap.

    Priced by a free dry run of one day when a source is open, else by the table model.
    """
    if cfg.source.kind != "bigquery":
        return None
    from generator import cost
    from generator.sources import Job

    if source is not None and hasattr(source, "per_day_scan_bytes"):
        per_day = source.per_day_scan_bytes(cfg.packages, cfg.source.breakdowns, as_of)
    else:
        per_day = cost.model_scan_bytes(Job(Window(as_of, as_of), cfg.packages, cfg.source.breakdowns))
    return cost.max_days_per_job(cfg.budget.max_bytes_per_query, per_day)


def fetch(cfg: Config, store: Store, source: Source, plan: Plan, progress: Progress = _quiet) -> int:
    """Run the plan's jobs; each job's rows and ledger entry land in one store transaction."""
    preflight = getattr(source, "preflight", None)
    if preflight is not None and plan.jobs:
        # Every job priced (free dry runs) before anything billable runs; refused whole if over budget.
        preflight(plan.jobs, store.ledger())
    for done, job in enumerate(plan.jobs):
        progress(f"Fetching {job.window.label()} from {source.name}", done, len(plan.jobs))
        result = source.fetch(job)
        # Only a billing source (BigQuery) reports a job id and writes ledger rows.
        ledger_entry = getattr(source, "ledger_entry", None)
        ledger = ledger_entry(job, result) if ledger_entry is not None and result.job_id else None
        store.replace_days(source.name, job.projects, result.available_days, result.rows, ledger=ledger)
    if plan.jobs:
        progress("Fetched", len(plan.jobs), len(plan.jobs))
        if source.synthetic:
            store.set_meta("synthetic", True)
        elif source.name != "local":
            store.set_meta("synthetic", False)
    return len(plan.jobs)


@dataclass
class Prepared:
    """Everything the render phase needs, gathered while the store is open for writing."""

    cfg: Config
    site: render.SiteData
    """The site's settings and cost summary; `packages` is filled in by `write_site`."""
    context: parallel.Context
    costs: dict[str, object]
    plan: incremental.Plan
    full: bool = False


def collect(
    cfg: Config,
    store: Store,
    source: Source,
    as_of: dt.date,
    out_dir: Path,
    *,
    full: bool = False,
    progress: Progress = _quiet,
) -> Prepared:
    """The site's settings, costs and each unit's input digest; which units to render, which to reuse.

    Reads digests of the store, not its rows: the rows are read by the page workers, one package each.
    """
    progress("Comparing inputs with the previous build", 0, len(cfg.packages))
    synthetic = bool(source.synthetic or store.get_meta("synthetic", False))
    capabilities = capabilities_of(source)
    site = render.SiteData(
        title=cfg.site.title,
        description=cfg.site.description,
        # What publishing.attach will set too: the pages show it (canonical links, badge snippets).
        base_url=publishing.normalize_base_url(cfg.site.base_url or publishing.env_base_url()),
        as_of=as_of,
        source=source.name,
        synthetic=synthetic,
        packages=[],
    )
    costs = _attach_costs(site, store, cfg)
    context = parallel.Context(
        source=source.name,
        site=site,
        store_window=last_days(as_of, cfg.source.history_days),
        capabilities=capabilities,
        breakdowns=tuple(cfg.source.breakdowns),
    )
    data = incremental.package_data(store, cfg.packages, as_of, costs)
    units = {incremental.package_unit(p): data[p] for p in cfg.packages}
    units["index"] = incremental.site_settings(packages=[(p, data[p]) for p in cfg.packages])
    units["cost"] = incremental.site_settings(cost=repr(site.cost))
    for key in site_pages.SITE_UNITS:
        units.setdefault(key, "")
    settings = incremental.site_settings(
        title=site.title,
        description=site.description,
        base_url=site.base_url,
        source=site.source,
        synthetic=site.synthetic,
        capabilities=sorted(capabilities),
        site=asdict(cfg.site),
        history_days=cfg.source.history_days,
        breakdowns=list(cfg.source.breakdowns),
        budget=asdict(cfg.budget),
        billed=site.billed,  # every page's navigation links the cost page once something is billed
    )
    plan = incremental.plan(out_dir, units, as_of=as_of, code=incremental.code_version(), site=settings, full=full)
    return Prepared(cfg, site, context, costs, plan, full)


STORE_MEMORY = "512MB"


def write_site(prepared: Prepared, out_dir: Path, *, jobs: int, progress: Progress = _quiet) -> dict[str, int]:
    """Render what changed, reuse the rest, and publish the whole site in one step.

    The packages to render are read in one sorted pass over the store (generator.pagerows) and sent,
    one package at a time, to the page workers; the feed's history and the store export follow.
    """
    plan, site, cfg = prepared.plan, prepared.site, prepared.cfg
    todo = [p for p in cfg.packages if plan.render(incremental.package_unit(p))]
    writer = SiteWriter(out_dir, link_unchanged=not prepared.full)
    pool = None
    try:
        # The workers start (a second or two each) while the unchanged units are linked and the rows read.
        pool = parallel.PagePool(prepared.context, jobs=jobs, packages=len(todo))
        for unit in plan.reused():
            writer.reuse(plan.previous_files[unit.key])
        summaries = {u.key: u.summary for u in plan.reused() if u.summary is not None and u.key.startswith("package:")}

        def take(result: parallel.Result) -> None:
            for rel, data in result.files:
                writer.write(rel, data)
            summaries[incremental.package_unit(result.project)] = result.summary

        with open_store(cfg.store.path) as store:
            # Bounded: DuckDB's default is most of the machine's memory, and the export copies the whole store.
            store.limit_memory(STORE_MEMORY)
            held = store.held_days(todo)
            tasks = (
                parallel.Task(project, rows, held[project], prepared.costs.get(project))
                for project, rows in pagerows.stream(store, site.source, todo, site.as_of)
            )
            pool.render(tasks, len(todo), on_result=take, progress=progress)
            pool.close()
            site.packages = [
                render.PackagePage(summaries[incremental.package_unit(p)], cost=prepared.costs.get(p))
                for p in cfg.packages
            ]
            progress("Rendering site pages", len(cfg.packages), len(cfg.packages))
            _attach_publishing(site, store, cfg)
        site_pages.write_site_pages(site, writer, plan.render)
        publishing.write_all(site, writer)  # badges, feed, sitemap, robots.txt, store export
        for key, count in Counter(incremental.unit_of(rel) for rel in writer.written).items():
            if key in plan.units:
                plan.units[key].files = count
        for key, summary in summaries.items():
            plan.units[key].summary = summary
        writer.write(incremental.MANIFEST, plan.manifest())
    except BaseException:
        if pool is not None:
            pool.close()
        writer.discard()
        raise
    writer.publish()
    return writer.written


class _RowsWritten:
    """The store as publishing.attach sees it here: the page workers already made each package's API documents.

    attach does the site-level work (base URL, the feed's history, the store export) and, per page,
    reads the API rows again; here `rows` returns nothing, so that second read costs nothing, and the
    documents it makes from no rows are dropped (the workers wrote the real ones).
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def rows(self, *args: object, **kwargs: object) -> list[object]:
        return []

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def _attach_publishing(site: render.SiteData, store: Store, cfg: Config) -> None:
    publishing.attach(site, _RowsWritten(store), cfg)  # type: ignore[arg-type]
    for page in site.packages:
        page.extra.pop("api", None)


def _holding_the_store_lock(run: Callable[..., BuildResult]) -> Callable[..., BuildResult]:
    # The whole build, rendering included, holds the store's writer lock: page workers read the store
    # after the build's own connection is closed, and a second build must not open it in between.
    @functools.wraps(run)
    def locked(cfg: Config, *args: Any, **kwargs: Any) -> BuildResult:
        with store_lock(cfg.store.path):
            return run(cfg, *args, **kwargs)

    return locked


@_holding_the_store_lock
def build(
    cfg: Config,
    *,
    as_of: dt.date,
    out_dir: Path,
    refresh: bool = False,
    fetch_data: bool = True,
    progress: Progress = _quiet,
    jobs: int | None = None,
    full: bool = False,
) -> BuildResult:
    """Fetch what the store lacks, then render what changed and write the site atomically.

    `jobs` page workers render packages in parallel (default: one per core). `full` renders every
    page and writes every file, ignoring the previous build.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    source = open_source(cfg)
    try:
        with open_store(cfg.store.path) as store:
            plan = plan_for(
                cfg, store, source.name, as_of, refresh=refresh, max_days_per_job=days_per_job(cfg, source, as_of)
            )
            jobs_run = fetch(cfg, store, source, plan, progress) if fetch_data else 0
            timings["fetch"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            prepared = collect(cfg, store, source, as_of, out_dir, full=full, progress=progress)
            timings["analyse"] = time.perf_counter() - t1
    finally:
        source.close()
    t2 = time.perf_counter()
    files = write_site(prepared, out_dir, jobs=jobs or parallel.default_jobs(), progress=progress)
    timings["render"] = time.perf_counter() - t2
    return BuildResult(as_of, plan, out_dir, files, timings, jobs_run, prepared.plan)


def _attach_costs(site: render.SiteData, store: Store, cfg: Config) -> dict[str, object]:
    """Cost figures for the cost page, and each package's share, from the ledger of billable jobs."""
    from generator import cost

    entries = [e for e in store.ledger() if e.source == site.source]
    site.extra["price_per_tib"] = cfg.budget.price_per_tib
    if not entries:
        return {}
    site.cost = cost.cost_summary(entries, cfg.budget.price_per_tib, source=site.source)
    return {p: cost.package_cost(entries, p, source=site.source) for p in cfg.packages}
