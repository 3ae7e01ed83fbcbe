"""The build: config → plan → source → store → analysis → render → site, in that order.

Like mkdocs' build(): gather everything first, then write the site in one step.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from generator import analysis, publishing, render
from generator.config import Config
from generator.dates import Window, default_as_of, last_days, parse_day
from generator.errors import ConfigError, SourceError
from generator.plan import Plan, make_plan
from generator.sitewriter import SiteWriter
from generator.sources import ALL_CAPABILITIES, Source, capabilities_of
from generator.store import LedgerEntry, Store, open_store

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
        from generator.sources.clickpy import ClickPySource  # type: ignore[import-not-found]

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
    run_id = getattr(source, "run_id", None) or uuid.uuid4().hex[:12]
    for done, job in enumerate(plan.jobs):
        progress(f"Fetching {job.window.label()} from {source.name}", done, len(plan.jobs))
        result = source.fetch(job)
        ledger = None
        if hasattr(source, "ledger_entry") and result.job_id:
            ledger = source.ledger_entry(job, result)
        elif result.job_id:
            price = cfg.budget.price_per_tib
            ledger = LedgerEntry(
                run_id=run_id,
                job_id=result.job_id,
                source=source.name,
                start_day=job.window.start,
                end_day=job.window.end,
                projects=job.projects,
                ceiling_bytes=result.ceiling_bytes,
                bytes_processed=result.bytes_processed,
                bytes_billed=result.bytes_billed,
                dollars=result.bytes_billed / 1024**4 * price,
            )
        store.replace_days(source.name, job.projects, result.available_days, result.rows, ledger=ledger)
    if plan.jobs:
        progress("Fetched", len(plan.jobs), len(plan.jobs))
        if source.synthetic:
            store.set_meta("synthetic", True)
        elif source.name != "local":
            store.set_meta("synthetic", False)
    return len(plan.jobs)


def report_for(
    store: Store,
    source_name: str,
    project: str,
    as_of: dt.date,
    store_window: Window,
    capabilities: frozenset[str] = ALL_CAPABILITIES,
) -> analysis.PackageReport:
    """Read one package's rows and analyse them (pure analysis over the store's rows).

    `capabilities` are the source's: what it lacks is marked unavailable on the page. Other
    sources' total rows for the package, if the store holds any, feed the per-day cross-check.
    """
    history = store.rows(source_name, project, ("total",), window=Window(dt.date(1970, 1, 1), as_of))
    month = last_days(as_of, analysis.HONEST_DAYS)
    dims = tuple(b for b in analysis.BREAKDOWN_TITLES)
    breakdown_rows = store.rows(source_name, project, dims, window=month)
    version_rows = store.rows(source_name, project, ("version",), window=Window(dt.date(1970, 1, 1), as_of))
    covered = store.covered_days(source_name, [project], Window(dt.date(1970, 1, 1), as_of))[project]
    everything = Window(dt.date(1970, 1, 1), as_of)
    others = {
        other: (
            store.rows(other, project, ("total",), window=everything),
            store.covered_days(other, [project], everything)[project],
        )
        for other in store.sources_for(project)
        if other != source_name
    }
    return analysis.analyse(
        project,
        as_of,
        history,
        breakdown_rows,
        version_rows,
        covered,
        store_window,
        source=source_name,
        capabilities=capabilities,
        others=others,
    )


def collect(cfg: Config, store: Store, source: Source, as_of: dt.date, progress: Progress = _quiet) -> render.SiteData:
    """Analyse every package from the store."""
    window = last_days(as_of, cfg.source.history_days)
    pages = []
    for i, project in enumerate(cfg.packages):
        progress(f"Analysing {project}", i, len(cfg.packages))
        report = report_for(store, source.name, project, as_of, window, capabilities_of(source))
        pages.append(render.PackagePage(report))
    synthetic = bool(source.synthetic or store.get_meta("synthetic", False))
    return render.SiteData(
        title=cfg.site.title,
        description=cfg.site.description,
        base_url=cfg.site.base_url,
        as_of=as_of,
        source=source.name,
        synthetic=synthetic,
        packages=pages,
    )


def write_site(site: render.SiteData, out_dir: Path, progress: Progress = _quiet) -> dict[str, int]:
    """Render every page into a staging directory and publish it in one step."""
    from generator import site as site_pages

    writer = SiteWriter(out_dir)
    try:
        site_pages.write_all(site, writer, progress)
    except BaseException:
        writer.discard()
        raise
    writer.publish()
    return writer.written


def build(
    cfg: Config,
    *,
    as_of: dt.date,
    out_dir: Path,
    refresh: bool = False,
    fetch_data: bool = True,
    progress: Progress = _quiet,
) -> BuildResult:
    """Fetch what the store lacks, analyse, and write the site atomically."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    source = open_source(cfg)
    try:
        with open_store(cfg.store.path) as store:
            plan = plan_for(
                cfg, store, source.name, as_of, refresh=refresh, max_days_per_job=days_per_job(cfg, source, as_of)
            )
            jobs = fetch(cfg, store, source, plan, progress) if fetch_data else 0
            timings["fetch"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            site = collect(cfg, store, source, as_of, progress)
            _attach_costs(site, store, cfg)
            publishing.attach(site, store, cfg)  # API rows, the feed's history, the store export
            timings["analyse"] = time.perf_counter() - t1
            t2 = time.perf_counter()
            files = write_site(site, out_dir, progress)
            timings["render"] = time.perf_counter() - t2
    except SourceError:
        raise
    finally:
        source.close()
    return BuildResult(as_of, plan, out_dir, files, timings, jobs)


def _attach_costs(site: render.SiteData, store: Store, cfg: Config) -> None:
    """Cost figures for the cost page and each package page, from the ledger of billable jobs."""
    from generator import cost

    entries = [e for e in store.ledger() if e.source == site.source]
    site.extra["price_per_tib"] = cfg.budget.price_per_tib
    if not entries:
        return
    site.cost = cost.cost_summary(entries, cfg.budget.price_per_tib, source=site.source)
    for page in site.packages:
        page.cost = cost.package_cost(entries, page.report.project, source=site.source)
