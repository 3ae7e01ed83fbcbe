"""The build: config → plan → source → store → analysis → render → site, in that order.

Like mkdocs' build(): gather everything first, then write the site in one step.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from generator import incremental, outdir, pagerows, parallel, publishing, render
from generator import site as site_pages
from generator.config import Config
from generator.dates import Window, check_report_day, default_as_of, last_days, parse_day
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
        return check_report_day(parse_day(text))
    except ValueError as exc:
        raise ConfigError(f"{'--as-of' if override else 'as_of'}: {exc}") from None


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
            warn_partial_months(site)
            progress("Rendering site pages", len(cfg.packages), len(cfg.packages))
            publishing.attach(site, store, cfg)
        site_pages.write_site_pages(site, writer, plan.render)
        publishing.write_all(site, writer)  # badges, feed, sitemap, robots.txt, store export
        copy_static(cfg.site.static, writer)
        warn_left_behind(out_dir, writer.written)
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


def warn_partial_months(site: render.SiteData) -> None:
    """One warning naming every package whose last 30 days the store does not fully hold."""
    partial = [p.report for p in site.packages if not p.report.coverage.complete]
    if not partial:
        return
    names = ", ".join(f"{r.project} ({r.coverage.held} of {r.coverage.days} days held)" for r in partial[:10])
    more = f" and {len(partial) - 10} more" if len(partial) > 10 else ""
    log.warning(
        "%d package(s) lack some of the last 30 days (to %s) in the store: %s%s; their 30-day figures count"
        " only the days held, and their pages, badges and API say so. Check the as-of date and the source's data",
        len(partial),
        site.as_of,
        names,
        more,
    )


def copy_static(folder: Path | None, writer: SiteWriter) -> None:
    """Copy [site].static into the site as it is (CNAME, verification files, extra pages)."""
    if folder is None:
        return
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel in writer.written:
            raise ConfigError(
                f"[site].static: {path} has the path of a file the site writes ({rel}); rename or move it"
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"[site].static: {path}: cannot read ({exc.strerror})") from None
        writer.write(rel, data)


SITE_LEVEL_FILES = ("feed.xml", "sitemap.xml", "robots.txt", incremental.MANIFEST)
"""Files every build writes that belong to no unit (besides the store export under data/store/)."""
LEFT_BEHIND_SHOWN = 10


def left_behind(out_dir: Path, written: Iterable[str]) -> list[str]:
    """Files of the previous site that this build neither writes nor wrote before: a user's own files.

    A file belongs to the tool when a unit of the previous build's manifest (a package, a page) or a
    site-level file accounts for it; a package dropped from the config leaves no warning.
    """
    if not out_dir.is_dir():
        return []
    previous = set(incremental.Previous.read(out_dir).units)
    new = set(written)
    lost = []
    for folder, _dirs, names in os.walk(out_dir):
        for name in names:
            rel = (Path(folder) / name).relative_to(out_dir).as_posix()
            if rel in new or rel in SITE_LEVEL_FILES or rel.startswith(f"{publishing.EXPORT_DIR}/"):
                continue
            unit = incremental.unit_of(rel)
            if unit != "site" and unit in previous:
                continue
            lost.append(rel)
    return sorted(lost)


def warn_left_behind(out_dir: Path, written: Iterable[str]) -> None:
    lost = left_behind(out_dir, written)
    if not lost:
        return
    shown = ", ".join(lost[:LEFT_BEHIND_SHOWN]) + (
        f" and {len(lost) - LEFT_BEHIND_SHOWN} more" if len(lost) > LEFT_BEHIND_SHOWN else ""
    )
    log.warning(
        "%s: %d file(s) in the previous site were not written by this build and will not be carried over: %s;"
        " put files you add to the site in a [site].static folder, which every build copies in",
        out_dir,
        len(lost),
        shown,
    )


def protected_paths(cfg: Config) -> list[outdir.Protected]:
    """What the output directory must never be or hold (nor, but for the config's folder, sit inside)."""
    out = [
        outdir.Protected(
            cfg.path.parent, "the config file's folder", "choose a folder inside it, such as --out site", True
        ),
        outdir.Protected(cfg.store.path, "the store", "set [store].path outside the output directory"),
    ]
    if cfg.source.kind == "local" and cfg.source.path is not None:
        out.append(outdir.Protected(cfg.source.path, "the events folder", "choose --out outside [source].path"))
    if cfg.site.static is not None:
        out.append(outdir.Protected(cfg.site.static, "the [site].static folder", "choose --out outside it"))
    return out


def check_out_dir(cfg: Config, out_dir: Path) -> Path:
    """The output directory, resolved, if a build may replace it (generator.outdir); else a ConfigError."""
    return outdir.check(out_dir, protected_paths(cfg))


def _holding_the_store_lock(run: Callable[..., BuildResult]) -> Callable[..., BuildResult]:
    # The whole build, rendering included, holds the store's writer lock: page workers read the store
    # after the build's own connection is closed, and a second build must not open it in between.
    # The output directory is checked first: a refused --out leaves no lock file or store behind.
    @functools.wraps(run)
    def locked(cfg: Config, *args: Any, out_dir: Path, **kwargs: Any) -> BuildResult:
        out_dir = check_out_dir(cfg, out_dir)
        with store_lock(cfg.store.path):
            return run(cfg, *args, out_dir=out_dir, **kwargs)

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
