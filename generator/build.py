"""The build's orchestration: config → plan → source → store → analysis → render → site, in that order.

Like mkdocs' build(): gather everything first, then write the site in one step. One store connection,
under the store's lock, from fetching (generator.fetch) through collecting each unit's inputs
(`collect`) to the last package page (`render_packages`, rows streamed to the page workers) and the
feed's history; then `write_site` writes the site-level files from the complete SiteData and publishes.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator import (
    budget,
    cost,
    feeds,
    fetch,
    incremental,
    layout,
    leaderboard_fetch,
    leaderboard_view,
    outdir,
    pagerows,
    parallel,
    publishing,
)
from generator import site as site_pages
from generator.budget import SETTING_PER_MONTH, SETTING_PER_RUN
from generator.config import Config
from generator.dates import check_report_day, default_as_of, last_days, parse_day, utc_today
from generator.errors import ConfigError
from generator.fetch import Progress, quiet
from generator.pages import ListedPackage, SiteData
from generator.plan import Plan, plan_for
from generator.sitewriter import SiteWriter
from generator.sources import Source, capabilities_of, is_billing
from generator.store import BeforeStore, Store, open_store, store_lock

if TYPE_CHECKING:
    from generator import drawing
    from generator.cost import PackageCost

log = logging.getLogger(__name__)


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
    fetched: fetch.Fetched | None = None
    held_days: int = 0
    """Days of the history window the store holds for every package, after fetching."""
    runs_left: int | None = None
    """While a BigQuery backfill is in progress: about how many more runs it takes at this budget."""

    @property
    def backfill_note(self) -> str:
        """The build summary's line about an unfinished backfill ("" when none is in progress)."""
        if not self.runs_left:
            return ""
        pace = f"about {self.runs_left} at {SETTING_PER_RUN}"
        if self.fetched is not None and self.fetched.stopped_by == SETTING_PER_MONTH:
            pace = f"paced by {SETTING_PER_MONTH}, which keeps room for the rest of the month's daily runs"
        return f"{backfill_note(self.held_days, self.plan.window.days)} ({pace})"


def backfill_note(held: int, wanted: int) -> str:
    """What every page says while a backfill is in progress."""
    return f"backfill in progress: {held} of {wanted} days held, the rest over the next runs"


def resolve_as_of(cfg: Config, override: str | None) -> dt.date:
    """--as-of beats the config's as_of, which beats yesterday in UTC."""
    text = override or cfg.as_of
    if not text:
        return default_as_of()
    try:
        return check_report_day(parse_day(text))
    except ValueError as exc:
        raise ConfigError(f"{'--as-of' if override else 'as_of'}: {exc}") from None


FETCH_SHARE_OF_MAX_MINUTES = 0.8
"""With --max-minutes, fetching stops within this share of the time; the rest is for rendering."""


@dataclass
class Prepared:
    """Everything the render phase needs, gathered while the store is open for writing."""

    cfg: Config
    site: SiteData
    """The site's settings and cost summary; `packages` is filled in by `write_site`."""
    context: parallel.Context
    costs: dict[str, PackageCost]
    plan: incremental.Plan
    full: bool = False
    before: dict[str, BeforeStore] = field(default_factory=dict)
    """Per package: its downloads before the store's first day, as ClickPy holds them (when fetched)."""
    uploads: dict[str, dict[str, dt.datetime | None]] = field(default_factory=dict)
    """Per package: version → its upload time on PyPI, for the versions the store has a date for."""


def collect(
    cfg: Config,
    store: Store,
    source: Source,
    as_of: dt.date,
    out_dir: Path,
    *,
    full: bool = False,
    progress: Progress = quiet,
    backfill: str = "",
    leaderboard_note: str | None = None,
) -> Prepared:
    """The site's settings, costs and each unit's input digest; which units to render, which to reuse.

    Reads digests of the store, not its rows: the rows are read by the page workers, one package each.
    """
    progress("Comparing inputs with the previous build", 0, len(cfg.packages))
    synthetic = fetch.is_synthetic(source, store)
    capabilities = capabilities_of(source)
    site = SiteData(
        title=cfg.site.title,
        description=cfg.site.description,
        # Set once, here: the pages show it (canonical links, badge snippets), and the feed and sitemap.
        base_url=publishing.normalize_base_url(cfg.site.base_url or publishing.env_base_url()),
        as_of=as_of,
        source=source.name,
        synthetic=synthetic,
        packages=[],
        backfill=backfill,
        price_per_tib=cfg.budget.price_per_tib,
        change_threshold=cfg.site.change_threshold,
        leaderboard=leaderboard_fetch.leaderboard(store, as_of, cfg.leaderboard.top, leaderboard_note),
    )
    costs = _attach_costs(site, store, cfg)
    before = store.downloads_before_store(cfg.packages) if cfg.source.clickpy_all_time else {}
    context = parallel.Context(
        source=source.name,
        site=site,
        store_window=last_days(as_of, cfg.source.history_days),
        capabilities=capabilities,
        breakdowns=tuple(cfg.source.breakdowns),
    )
    # A package's page reads its cost share, its release dates and, when kept, its downloads before the store.
    uploads = store.release_uploads(cfg.packages)
    inputs = {p: (costs.get(p), before.get(p), sorted(uploads[p].items())) for p in cfg.packages}
    data = incremental.package_data(store, cfg.packages, as_of, inputs)
    # The leaderboard (site.leaderboard, set before this point) shows on the index, the report pages of the
    # packages it ranks, and top/: each unit's digest holds what it shows of it.
    places = leaderboard_view.ranks_by_project(site.leaderboard, cfg.packages)
    if places:
        data = {p: incremental.site_settings(data=data[p], rank=repr(places.get(p))) for p in data}
    units = {incremental.package_unit(p): data[p] for p in cfg.packages}
    units["index"] = incremental.site_settings(
        packages=[(p, data[p]) for p in cfg.packages],
        leaderboard=None if site.leaderboard is None else site.leaderboard.current.top,
    )
    if site.leaderboard is not None:
        units[site_pages.LEADERBOARD_UNIT] = incremental.site_settings(
            leaderboard=repr(site.leaderboard), packages=[(p, data[p]) for p in cfg.packages]
        )
    units["cost"] = incremental.site_settings(cost=repr(site.cost))
    if site.leaderboard is not None:  # the methodology states the ranking's window and data-through date
        units["page:methodology"] = incremental.site_settings(
            leaderboard=leaderboard_view.data_markdown(site.leaderboard)
        )
    for key in site_pages.SITE_UNITS:
        units.setdefault(key, "")
    settings = incremental.site_settings(
        title=site.title,
        description=site.description,
        base_url=site.base_url,
        source=site.source,
        synthetic=site.synthetic,
        backfill=site.backfill,
        capabilities=sorted(capabilities),
        site=asdict(cfg.site),
        history_days=cfg.source.history_days,
        breakdowns=list(cfg.source.breakdowns),
        budget=asdict(cfg.budget),
        billed=site.billed,  # every page's navigation links the cost page once something is billed
        leaderboard=site.leaderboard is not None,  # and the leaderboard once there is one
    )
    plan = incremental.plan(out_dir, units, as_of=as_of, code=incremental.code_version(), site=settings, full=full)
    return Prepared(cfg, site, context, costs, plan, full, before, uploads)


STORE_MEMORY = "512MB"
STORE_THREADS = 1
"""DuckDB's threads while the pages render: the page workers have the cores (Store.limit_threads)."""


def _chart_shapes() -> drawing.Shapes:
    """The chart shapes, built in Altair and compiled here, once: the page workers only fill them.

    Kept between builds (generator.shapecache): a build that finds them for this code does not
    import Altair at all."""
    from generator import shapecache

    shapes = shapecache.load()
    if shapes is None:
        from generator import charts  # Altair: imported only by a build that compiles the shapes

        shapes = charts.compile_shapes()
        shapecache.save(shapes)
    return shapes


def render_packages(
    prepared: Prepared,
    store: Store,
    writer: SiteWriter,
    *,
    jobs: int | None,
    progress: Progress = quiet,
    charts: parallel.ChartProcess | None = None,
) -> SiteData:
    """Render the package pages that changed into `writer`, reuse the rest; returns the site with every
    package listed (prepared.site, its `packages` filled).

    The packages to render are read in one sorted pass over `store`, the store the caller opened
    (generator.pagerows), and sent one package at a time to the page workers: rows are streamed, never
    all held, which is what keeps a build of 1,000 packages in bounded memory.
    """
    plan, site, cfg = prepared.plan, prepared.site, prepared.cfg
    todo = [p for p in cfg.packages if plan.render(incremental.package_unit(p))]
    # The workers start (a second or two each) while the unchanged units are linked and the rows read.
    pool = parallel.PagePool(
        prepared.context, _chart_shapes() if todo else None, jobs=jobs, packages=len(todo), charts=charts
    )
    try:
        for unit in plan.reused():
            writer.reuse(plan.previous_files[unit.key])
        summaries = {u.key: u.summary for u in plan.reused() if u.summary is not None and u.key.startswith("package:")}

        def take(result: parallel.Result) -> None:
            for rel, data in result.files:
                writer.write(rel, data)
            summaries[incremental.package_unit(result.project)] = result.summary

        held = store.held_days(todo)
        tasks = (
            parallel.Task(
                project,
                rows,
                held[project],
                prepared.costs.get(project),
                prepared.before.get(project),
                prepared.uploads[project],
            )
            for project, rows in pagerows.stream(store, site.source, todo, site.as_of)
        )
        pool.render(tasks, len(todo), on_result=take, progress=progress)
    finally:
        pool.close()
    site.packages = [
        ListedPackage(summaries[incremental.package_unit(p)], cost=prepared.costs.get(p)) for p in cfg.packages
    ]
    warn_partial_months(site)
    return site


def remember_honest_numbers(store: Store, site: SiteData) -> feeds.History:
    """Keep this build's honest numbers in the store (the feed's history); returns every build's.

    A 30-day number over a month the store does not fully hold is not comparable with a month's: it is
    not remembered, so the feed never reports the missing days as a fall in installs.
    """
    history = feeds.remember(
        store.get_meta(feeds.HISTORY_KEY, {}) or {},
        site.as_of,
        {p.report.project: p.report.honest for p in site.packages if p.report.coverage.complete},
    )
    store.set_meta(feeds.HISTORY_KEY, history)
    return history


def write_site(prepared: Prepared, writer: SiteWriter, out_dir: Path) -> dict[str, int]:
    """Write the site-level pages, badges, feed, sitemap, store export and [site].static beside the package
    pages already in `writer`, then the build manifest, and publish the whole site in one step.

    Reads nothing back: prepared.site is complete (its packages, the feed's history and the store export
    were gathered while the store was open). On any failure the staged site is discarded.
    """
    plan, site = prepared.plan, prepared.site
    try:
        site_pages.write_site_pages(site, writer, plan.render)
        publishing.write_all(site, writer)  # badges, feed, sitemap, robots.txt, store export
        copy_static(prepared.cfg.site.static, writer)
        warn_left_behind(out_dir, plan, writer.written)
        for key, count in Counter(incremental.unit_of(rel) for rel in writer.written).items():
            if key in plan.units:
                plan.units[key].files = count
        for page in site.packages:
            plan.units[incremental.package_unit(page.report.project)].summary = page.report
        writer.write(incremental.MANIFEST, plan.manifest())
    except BaseException:
        writer.discard()
        raise
    writer.publish()
    return writer.written


def warn_partial_months(site: SiteData) -> None:
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


LEFT_BEHIND_SHOWN = 10


def left_behind(plan: incremental.Plan, written: Iterable[str]) -> list[str]:
    """Files of the previous site that this build neither writes nor wrote before: a user's own files.

    A file belongs to the tool when a unit of the previous build's manifest (a package, a page) or a
    site-level file accounts for it; a package dropped from the config leaves no warning. Read from the
    plan's one walk of the previous site.
    """
    new = set(written)
    lost = []
    for unit, files in plan.previous_files.items():
        for rel in files:
            if rel in new or layout.is_site_file(rel):
                continue
            if unit != "site" and unit in plan.previous_units:
                continue
            lost.append(rel)
    return sorted(lost)


def warn_left_behind(out_dir: Path, plan: incremental.Plan, written: Iterable[str]) -> None:
    lost = left_behind(plan, written)
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


def _holding_the_store_lock(run: Callable[..., BuildResult]) -> Callable[..., BuildResult]:
    # The whole build, rendering included, holds the store's writer lock: its one connection streams the
    # packages' rows to the page workers and keeps the feed's history, and a second build must not write
    # the store in between.
    # The output directory is checked first: a refused --out leaves no lock file or store behind.
    @functools.wraps(run)
    def locked(cfg: Config, *args: Any, out_dir: Path, **kwargs: Any) -> BuildResult:
        out_dir = outdir.check_out_dir(cfg, out_dir)
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
    progress: Progress = quiet,
    jobs: int | None = None,
    full: bool = False,
    max_minutes: float | None = None,
    export_dir: Path | None = None,
) -> BuildResult:
    """Fetch what the store lacks, then render what changed and write the site atomically.

    `jobs` page workers render packages in parallel (default: parallel.workers_for). `full` renders every
    page and writes every file, ignoring the previous build. `max_minutes` stops fetching in time to
    render what is held; `export_dir` gets the store's data export after every completed job.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    deadline = time.monotonic() + max_minutes * 60 * FETCH_SHARE_OF_MAX_MINUTES if max_minutes else None
    source = fetch.open_source(cfg)
    source_open = True
    charts: parallel.ChartProcess | None = None
    try:
        charts = _early_charts(cfg, out_dir, as_of, jobs=jobs, full=full)
        with open_store(cfg.store.path) as store:
            try:
                partitions = None
                if fetch_data:
                    fetch.settle_unknown_jobs(store, source)
                    partitions = fetch.read_partitions(cfg, store, source, as_of)
                plan = plan_for(
                    cfg,
                    store,
                    source.name,
                    as_of,
                    refresh=refresh,
                    max_days_per_job=cost.days_per_job(cfg, source, as_of),
                    partitions=partitions,
                )
                fetched = (
                    fetch.fetch(
                        cfg,
                        store,
                        source,
                        plan,
                        progress,
                        deadline=deadline,
                        export_dir=export_dir,
                        partitions=partitions,
                    )
                    if fetch_data
                    else fetch.Fetched()
                )
                leaderboard_note = None
                if fetch_data:
                    fetch.fetch_downloads_before_store(cfg, store, source, progress)
                    fetch.fetch_release_dates(cfg, store, source, progress)
                    leaderboard_note = fetch.fetch_leaderboard(cfg, store, source, as_of, progress)
                timings["fetch"] = time.perf_counter() - t0
                held, runs_left = _backfill_state(cfg, store, source, as_of, plan)
                t1 = time.perf_counter()
                note = backfill_note(held, plan.window.days) if runs_left else ""
                prepared = collect(
                    cfg,
                    store,
                    source,
                    as_of,
                    out_dir,
                    full=full,
                    progress=progress,
                    backfill=note,
                    leaderboard_note=leaderboard_note,
                )
                timings["analyse"] = time.perf_counter() - t1
            finally:
                source_open = False  # closed before rendering: a local source's DuckDB holds memory the pages need
                source.close()
            t2 = time.perf_counter()
            writer = SiteWriter(out_dir, link_unchanged=not full)
            try:
                # Bounded: DuckDB's default is most of the machine's memory, and the export copies the whole
                # store while the pages' rows are read.
                store.limit_memory(STORE_MEMORY)
                store.keep_blocks(STORE_MEMORY)
                store.limit_threads(STORE_THREADS)
                # Written while the pages render; a month of the aggregates the live site's export holds
                # unchanged is that file again.
                previous = None if full else out_dir / layout.STORE_EXPORT_DIR
                with publishing.StoreExport(store, previous) as export:
                    site = render_packages(prepared, store, writer, jobs=jobs, progress=progress, charts=charts)
                    progress("Rendering site pages", len(cfg.packages), len(cfg.packages))
                    # The feed's history is kept in the store before the site is published, never after: a
                    # build killed between the two has kept its day (the next build remembers that day again,
                    # the same), where the other order could publish a day's numbers the store never keeps,
                    # and a later build's feed would lose that day.
                    site.honest_history = remember_honest_numbers(store, site)
                    site.store_export = export.files(as_of.isoformat())
            except BaseException:
                writer.discard()
                raise
    finally:
        if source_open:
            source.close()
        if charts is not None:
            charts.close()  # the page pool has closed it, unless the build stopped before rendering
    files = write_site(prepared, writer, out_dir)
    timings["render"] = time.perf_counter() - t2
    return BuildResult(as_of, plan, out_dir, files, timings, fetched.jobs_run, prepared.plan, fetched, held, runs_left)


def _early_charts(
    cfg: Config, out_dir: Path, as_of: dt.date, *, jobs: int | None, full: bool
) -> parallel.ChartProcess | None:
    """The chart process, started before the fetch where the build will likely render its few pages in its
    own process: a small site, or a rebuild of the same day by the same code (late rows). vl-convert's
    start (half a second) then goes on while the build fetches and compares, not while its first page
    waits. Elsewhere the page pool decides, once it knows how many pages change."""
    few = parallel.workers_for(jobs, len(cfg.packages)) == 1 or incremental.reuses_most(out_dir, as_of, full=full)
    return parallel.ChartProcess() if few and parallel.charts_wanted(jobs) else None


def _backfill_state(cfg: Config, store: Store, source: Source, as_of: dt.date, plan: Plan) -> tuple[int, int | None]:
    """Days of the window held for every package, and (BigQuery only, while days are missing) about
    how many more runs the rest takes at this budget, priced by the model and the ledger."""

    covered = store.covered_days(source.name, cfg.packages, plan.window)
    held = len(set.intersection(*covered.values())) if covered else 0
    if cfg.source.kind != "bigquery" or held >= plan.window.days:
        return held, None
    rest = plan_for(cfg, store, source.name, as_of, max_days_per_job=cost.days_per_job(cfg, None, as_of), refetch=())
    ledger = [e for e in store.ledger() if e.source == source.name]
    estimates = cost.estimate_plan(rest, None, ledger, price_per_tib=cfg.budget.price_per_tib)
    today = source.today() if is_billing(source) else utc_today()
    billed, unknown = store.month_spend(source.name, budget.month_start(today))
    pace = budget.daily_pace(cfg, None, as_of, today, ledger)
    verdict = budget.backfill_pace(estimates, cfg.budget, pace=pace, as_of=as_of, month_billed=billed + unknown)
    return held, verdict.runs or 1


def _attach_costs(site: SiteData, store: Store, cfg: Config) -> dict[str, PackageCost]:
    """Cost figures for the cost page, and each package's share, from the ledger of billable jobs."""

    entries = [e for e in store.ledger() if e.source == site.source]
    if not entries:
        return {}
    site.cost = cost.cost_summary(entries, cfg.budget.price_per_tib, source=site.source)
    unread = store.get_meta(fetch.HISTORY_UNREAD_META)
    if unread:
        site.cost.notes.append(
            f"BigQuery refused to list the jobs of {unread[:7]} when this store was new (bigquery.jobs.list "
            "missing): that month's budget counted only this store's jobs, not what an earlier store billed."
        )
    return {p: cost.package_cost(entries, p, source=site.source) for p in cfg.packages}
