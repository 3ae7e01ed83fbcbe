"""The build: config → plan → source → store → analysis → render → site, in that order.

Like mkdocs' build(): gather everything first, then write the site in one step.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator import incremental, leaderboard_fetch, leaderboard_view, outdir, pagerows, parallel, publishing
from generator import site as site_pages
from generator.config import Config
from generator.cost import SETTING_PER_MONTH, SETTING_PER_RUN
from generator.dates import Window, check_report_day, default_as_of, last_days, parse_day, utc_today
from generator.errors import ConfigError
from generator.pages import ListedPackage, SiteData
from generator.plan import Plan, make_plan
from generator.sitewriter import SiteWriter
from generator.sources import BillingSource, Job, Source, capabilities_of, is_billing
from generator.store import BeforeStore, LedgerEntry, PartitionState, Store, open_store, store_lock

if TYPE_CHECKING:
    from generator import drawing
    from generator.cost import MonthPace, PackageCost

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
    fetched: Fetched | None = None
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
    partitions: Mapping[dt.date, PartitionState] | None = None,
    refetch: Iterable[dt.date] | None = None,
) -> Plan:
    """The jobs that fill what the store lacks (everything, with `refresh`), and fetch again the held days
    whose source partition changed since they were read (with `partitions`, the source's partitions now;
    else the latest [source].refetch_days), or exactly the days of `refetch` when given."""
    from generator.plan import changed_days

    window = last_days(as_of, cfg.source.history_days)
    covered = {} if refresh else store.covered_days(source_name, cfg.packages, window)
    if refetch is None and partitions is not None and not refresh:
        latest = last_days(as_of, cfg.source.refetch_days) if cfg.source.refetch_days else ()
        refetch = changed_days(store.partition_states(source_name, cfg.packages, window), partitions, latest)
    return make_plan(
        cfg.packages,
        covered,
        as_of,
        history_days=cfg.source.history_days,
        refetch_days=cfg.source.refetch_days,
        breakdowns=cfg.source.breakdowns,
        max_days_per_job=max_days_per_job,
        refetch=refetch,
    )


def read_partitions(cfg: Config, store: Store, source: Source, as_of: dt.date) -> dict[dt.date, PartitionState] | None:
    """The source's daily partitions over the history window now (BigQuery: one metadata query of
    10 MB, through the cost guard), so that only the held days whose partition changed are fetched again.

    None when the source has no such metadata, or when it cannot be read (a missing permission, no
    budget left): the build then falls back to refetching the latest [source].refetch_days, and says
    so in one warning line.
    """
    from generator import cost
    from generator.errors import CostLimitExceeded, SourceError

    if not is_billing(source):
        return None
    newest = Job(Window(as_of, as_of), cfg.packages, cfg.source.breakdowns)
    _count_month(store, source, newest)
    try:
        # Optional: it runs only if the newest day still fits beside its 10 MB (a dry run prices the day).
        newest_ceiling = source.estimate([newest])[0].ceiling_bytes
        if cost.budget_refusal(newest_ceiling, cfg.budget, source.spending) is not None:
            return None  # not even the newest day fits: the fetch refuses the run, in one line of its own
        tight = cost.budget_refusal(cost.MIN_BILLED_PER_TABLE + newest_ceiling, cfg.budget, source.spending)
        if tight is not None:
            raise CostLimitExceeded(f"{tight.setting} has no room for its 10 MB beside the newest day")
        result: dict[dt.date, PartitionState] = source.partition_metadata(last_days(as_of, cfg.source.history_days))
    except (SourceError, CostLimitExceeded) as exc:
        log.warning(
            "cannot read the partitions' metadata (%s); falling back to fetching the latest %d day(s) again"
            " ([source].refetch_days) instead of only the days whose partition changed",
            str(exc).rstrip("."),
            cfg.source.refetch_days,
        )
        return None
    return result


def daily_pace(
    cfg: Config,
    source: Source | None,
    as_of: dt.date,
    today: dt.date,
    ledger: Sequence[LedgerEntry],
    *,
    metadata: bool = True,
) -> MonthPace:
    """What pacing keeps for one daily run this month: the daily job's ceiling (dry runs, or the model
    without a source) and its expected bill (the ledger, else the model), each the dearest of the week
    ending on the as-of date (a weekday's, when the as-of date is a weekend day). The daily run fetches
    the newest day, or with no partition metadata (`metadata` False) the latest [source].refetch_days."""
    from generator import cost

    days = 1 if metadata else max(1, cfg.source.refetch_days)
    jobs = [
        Job(Window(end - dt.timedelta(days=days - 1), end), cfg.packages, cfg.source.breakdowns)
        for end in (as_of - dt.timedelta(days=back) for back in range(SIZING_DAYS))
    ]
    price = cfg.budget.price_per_tib
    if source is not None and hasattr(source, "estimate"):
        estimates = source.estimate(jobs, ledger)
    else:
        estimates = cost.estimate_jobs(jobs, None, ledger, price_per_tib=price)
    ceiling = max(e.ceiling_bytes for e in estimates)
    return cost.MonthPace(ceiling, max(e.expected_bytes for e in estimates), today)


def days_per_job(cfg: Config, source: Source | None, as_of: dt.date) -> int | None:
    """For BigQuery, the longest day range whose guaranteed ceiling fits the per-query cap.

    Sized by the dearest day: free dry runs of each of the week ending on the as-of date (weekends
    are ~70% of a weekday), else the table model. A job whose own dry run is still over the cap
    (a heavier day further back) is split again when it runs.
    """
    if cfg.source.kind != "bigquery":
        return None
    from generator import cost

    if source is not None and hasattr(source, "per_day_scan_bytes"):
        week = min(SIZING_DAYS, cfg.source.history_days)
        per_day = max(
            source.per_day_scan_bytes(cfg.packages, cfg.source.breakdowns, as_of - dt.timedelta(days=back))
            for back in range(week)
        )
    else:
        per_day = cost.model_scan_bytes(Job(Window(as_of, as_of), cfg.packages, cfg.source.breakdowns))
    return cost.max_days_per_job(cfg.budget.max_bytes_per_query, per_day)


SIZING_DAYS = 7
"""Jobs are sized by the dearest of this many days ending on the as-of date (a week: weekday and weekend)."""


@dataclass
class Fetched:
    """What a run fetched, and why it stopped before the end of the plan ("" when it did not)."""

    jobs_run: int = 0
    stopped: str = ""
    stopped_by: str = ""
    """The budget setting that stopped fetching, if one did."""
    billed_bytes: int = 0


FETCH_SHARE_OF_MAX_MINUTES = 0.8
"""With --max-minutes, fetching stops within this share of the time; the rest is for rendering."""


class _StoreJobLog:
    """The BigQuery source's JobLog: ledger rows into the store, each in its own transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def started(self, entry: LedgerEntry) -> None:
        self.store.record_job(entry)

    def settled(self, entry: LedgerEntry) -> None:
        self.store.record_job(entry)


def settle_unknown_jobs(store: Store, source: Source) -> None:
    """Before planning: look up (jobs.get) the jobs past runs left with an unknown outcome. A finished
    job's bill goes in the ledger and its rows in the store (reading them is free), so a run killed
    while it waited never pays twice for those days."""
    if not is_billing(source):
        return
    for entry in store.unknown_jobs(source.name):
        settled = source.settle(entry)
        if settled is None:
            continue
        if settled.rows is not None:
            # A run killed while waiting on this job: its rows land now, with its ledger row.
            rows, days = settled.rows, settled.available_days
            store.replace_days(source.name, entry.projects, days, rows, ledger=settled.entry)
        else:
            store.record_job(settled.entry)


HISTORY_UNREAD_META = "month_history_unread"
"""Store meta: the UTC month (first day) whose job history BigQuery refused to list on a new ledger."""


def _count_month(store: Store, source: BillingSource, newest_job: Job) -> None:
    """`_count_spending`, once per run: before the first billable query (partition metadata or a job)."""
    if source.spending.month_counted:
        return
    _count_spending(store, source, newest_job)
    source.spending.month_counted = True


def _count_spending(store: Store, source: BillingSource, newest_job: Job) -> None:
    """Before a billing source's first job: count the month's spend from the ledger (unknown outcomes
    at their ceiling), or from BigQuery's list of the caller's jobs when the ledger is new.

    When BigQuery refuses that list (a missing optional permission), the build goes on: a new user
    has spent nothing with this tool, and one who lost the ledger is told, in one warning and on the
    cost page, that the month's budget counts only this store's jobs until the next month."""
    from generator import cost, permissions
    from generator.errors import PermissionDenied

    source.log = _StoreJobLog(store)
    source.ledger = store.ledger()
    since = cost.month_start(source.today())
    if not store.has_ledger(source.name):
        try:
            history = source.month_spend(since)
        except PermissionDenied as exc:
            history = 0
            store.set_meta(HISTORY_UNREAD_META, since.isoformat())
            known = permissions.by_name(exc.permission or "")
            grant = f"{known.name}, granted by {known.role}" if known else str(exc)
            log.warning(
                "BigQuery refused to list this month's jobs (%s): [budget].max_bytes_per_month counts only "
                "this store's jobs until %s, not what jobs of an earlier store billed since %s",
                grant,
                (since.replace(day=28) + dt.timedelta(days=4)).replace(day=1),
                since,
            )
        # Jobs before this ledger existed (listing them is free: nothing of this run is in it).
        store.set_meta("recovered_month_spend", {"month": since.isoformat(), "bytes": history})
        source.spending.month_billed += history
    else:
        recovered = store.get_meta("recovered_month_spend") or {}
        if recovered.get("month") == since.isoformat():
            source.spending.month_billed += int(recovered["bytes"])
    billed, unknown = store.month_spend(source.name, since)
    # The ledger's rows of this run are already in this run's spending. Jobs a past run left unknown
    # (still running) count at their ceiling against this run's budget too.
    source.spending.month_billed += billed - source.spending.run_billed
    source.spending.month_unknown += unknown
    source.spending.run_unknown += unknown


def fetch(
    cfg: Config,
    store: Store,
    source: Source,
    plan: Plan,
    progress: Progress = _quiet,
    *,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    export_dir: Path | None = None,
    partitions: Mapping[dt.date, PartitionState] | None = None,
) -> Fetched:
    """Run the plan's jobs, newest first; each job's rows and ledger row land in one store transaction.

    A billing source (BigQuery) checks each job against the budgets on what is billed; the first
    job that does not fit ends the fetching cleanly (a job of several days is first split in two).
    Backfill jobs (every job but the one that holds the newest day) also keep the month's pace
    (cost.pace_refusal): the first that does not ends the fetching cleanly too. Only when not even
    the newest day fits a budget is the run refused (NewestDayDoesNotFit). `deadline` (on `clock`)
    stops fetching before a job that could not finish in time. `export_dir` gets the store's data
    export after every completed job, so a killed run never pays twice for a day. `partitions`
    (read_partitions) are recorded with each day fetched.
    """
    from generator import cost
    from generator.errors import CostLimitExceeded, NewestDayDoesNotFit
    from generator.plan import split_newest_first

    preflight = getattr(source, "preflight", None)
    if preflight is not None and plan.jobs:
        # ClickPy: one query per table for the whole plan (it costs nothing; there is no budget).
        preflight(plan.jobs, store.ledger())
    if is_billing(source) and plan.jobs:
        _count_month(store, source, plan.jobs[0])
    out = Fetched()
    todo = list(plan.jobs)
    pace: MonthPace | None = None
    longest = 0.0
    while todo:
        job = todo.pop(0)
        if deadline is not None and clock() + longest > deadline:
            out.stopped = f"--max-minutes: stopped before {job.window.label()} so the site is written in time"
            break
        total = out.jobs_run + len(todo) + 1
        progress(f"Fetching {job.window.label()} from {source.name}", out.jobs_run, total)
        started = clock()
        paced = is_billing(source) and cost.is_paced(job.window.end, plan.as_of)
        if paced and pace is None and is_billing(source):
            # Priced once per run, with this run's bills in the ledger: the room kept for the daily runs.
            pace = daily_pace(cfg, source, plan.as_of, source.today(), source.ledger, metadata=partitions is not None)
        try:
            result = source.fetch(job, pace=pace if paced else None) if is_billing(source) else source.fetch(job)
        except CostLimitExceeded as exc:
            if job.window.days > 1:
                halves = split_newest_first(job.window, (job.window.days + 1) // 2)
                todo[:0] = [dataclasses.replace(job, window=w) for w in halves]
                continue
            if out.jobs_run == 0 and not getattr(exc.refusal, "paced", False):
                refusal = exc.refusal
                assert isinstance(refusal, cost.Refusal)
                message = cost.refusal_message(
                    refusal,
                    f"The newest day ({job.window.label()})",
                    expected=exc.expected_bytes,
                    price_per_tib=cfg.budget.price_per_tib,
                    first=True,
                )
                raise NewestDayDoesNotFit(
                    message, ceiling_bytes=exc.ceiling_bytes, cap_bytes=exc.cap_bytes, refusal=refusal
                ) from None
            out.stopped = str(exc)
            out.stopped_by = getattr(exc.refusal, "setting", "")
            break
        longest = max(longest, clock() - started)
        # Only a billing source (BigQuery) reports a job id and writes ledger rows.
        ledger_entry = getattr(source, "ledger_entry", None)
        ledger = ledger_entry(job, result) if ledger_entry is not None and result.job_id else None
        store.replace_days(
            source.name, job.projects, result.available_days, result.rows, ledger=ledger, partitions=partitions
        )
        if ledger is not None and is_billing(source):
            source.ledger.append(ledger)  # the next jobs' expected bills learn from it
        out.jobs_run += 1
        if export_dir is not None:
            from generator import publishing

            publishing.export_store_to(store, export_dir)
    if is_billing(source):
        out.billed_bytes = source.spending.run_billed
    if out.jobs_run:
        progress("Fetched", out.jobs_run, out.jobs_run)
        if source.synthetic:
            store.set_meta("synthetic", True)
        elif source.name != "local":
            store.set_meta("synthetic", False)
    return out


BEFORE_STORE_RETRY: Any = None
"""Tests pass a RetryPolicy that does not sleep; None is ClickPy's own policy, with fewer attempts (below)."""
BEFORE_STORE_ATTEMPTS = 3
"""The figure is optional: a busy ClickPy is asked a few times, not with ClickPy's full backoff."""
BEFORE_STORE_CONNECT_SECONDS = 5.0
"""Connecting (TCP and TLS) to ClickPy takes well under a second; a dropped route or a firewall's black
hole gives up after this, once: the figure is on by default, and offline it must cost seconds."""
BEFORE_STORE_READ_SECONDS = 20.0
"""The query reads a few granules per package (the table is ordered by project): ClickPy answers it in
about a second. A connection that stays silent this long is given up, once, not retried."""


def fetch_downloads_before_store(cfg: Config, store: Store, source: Source, progress: Progress = _quiet) -> None:
    """With [source].clickpy_all_time (the default): ask ClickPy, in one query, for each package's
    downloads before its first day in the store, unless the store already keeps them for that first day.

    Whatever the source kind: the first day is that of the store's days of `source`. Never for synthetic
    data (its package names are not PyPI's). When ClickPy cannot be reached or refuses, one warning says
    so and the page keeps saying that pepy/ClickPy's figure is limited to the store's days; nothing is
    kept, so the next run asks again. An unreachable ClickPy is not asked twice in a run (see the
    timeouts above): it costs at most BEFORE_STORE_CONNECT_SECONDS, or BEFORE_STORE_READ_SECONDS when
    something accepts the connection and never answers.
    """
    if not cfg.source.clickpy_all_time or is_synthetic(source, store):
        return
    from generator.errors import SourceError
    from generator.sources import clickpy

    todo = before_store_to_ask(store, source.name, cfg.packages)
    if not todo:
        return
    url = cfg.source.clickpy_url or (cfg.source.api_endpoint if cfg.source.kind == "clickpy" else "")
    http = clickpy.ClickHouseHTTP(
        url,
        retry=BEFORE_STORE_RETRY or clickpy.RetryPolicy(max_attempts=BEFORE_STORE_ATTEMPTS),
        timeout=BEFORE_STORE_READ_SECONDS,
        connect_timeout=BEFORE_STORE_CONNECT_SECONDS,
        retry_unanswered=False,
    )
    progress("Fetching downloads before the store's first day from ClickPy", 0, 1)
    try:
        counts = clickpy.downloads_before(http, todo)
    except SourceError as exc:
        log.warning("pepy/ClickPy's all-time figure stays limited to the store's days this run: %s", exc)
        return
    store.record_downloads_before_store(todo, counts)
    progress("Fetched downloads before the store's first day", 1, 1)


def is_synthetic(source: Source, store: Store) -> bool:
    """The data is the synthetic generator's: from this source, or kept in the store by an earlier run.
    Its names and versions are not PyPI's, so no outside service is asked about them."""
    return bool(source.synthetic or store.get_meta("synthetic", False))


def before_store_to_ask(
    store: Store, source_name: str, packages: Iterable[str], *, planned: Mapping[str, Iterable[dt.date]] | None = None
) -> dict[str, dt.date]:
    """The packages (and their first days in the store) whose downloads before that day the store does not
    keep yet: what ClickPy is asked about. A kept figure is for one first day; an earlier day asks again.

    A package's first day is that of its days of `source_name` in the store, or an earlier one of the days
    `planned` to be fetched for it (`plan` asks what a build will need).
    """
    first_days = {}
    for project in packages:
        days = list((planned or {}).get(project, ()))
        held = store.day_range(source_name, project)
        if held is not None:
            days.append(held[0])
        if days:
            first_days[project] = min(days)
    kept = store.downloads_before_store(first_days)
    return {p: day for p, day in first_days.items() if p not in kept or kept[p].first_day != day}


def fetch_release_dates(cfg: Config, store: Store, source: Source, progress: Progress = _quiet) -> None:
    """Each release's upload date from PyPI, for versions the store has none for (never for synthetic data:
    its versions are not PyPI's releases)."""
    from generator.sources import pypi_releases

    if not cfg.source.release_dates or is_synthetic(source, store):
        return
    progress("Checking release dates on PyPI", 0, len(cfg.packages))
    pypi_releases.update(store, cfg.packages, pypi_releases.PyPIJson(pypi_releases.base_url(cfg.source.pypi_url)))


def fetch_leaderboard(cfg: Config, store: Store, source: Source, as_of: dt.date, progress: Progress = _quiet) -> str:
    """With [leaderboard].top: make and keep the as-of day's ranking of all PyPI (generator.leaderboard_fetch).

    ClickPy is asked whatever the source kind; synthetic data is ranked from the store's own rows and
    nothing is asked. A failure is one warning line; the pages keep the last complete ranking. Returns why
    the store has no ranking for `as_of` ("" when it has one).
    """
    if not cfg.leaderboard.enabled:
        return ""
    from generator.dates import utc_today

    outcome = leaderboard_fetch.update(
        cfg, store, source.name, as_of, synthetic=is_synthetic(source, store), today=utc_today(), progress=progress
    )
    if outcome.ranked is not None:
        log.info(
            "leaderboard: ranked the top %d of the 30 days ending %s (%d candidates, %d queries, %d rows read)",
            len(outcome.ranked.rows),
            outcome.ranked.as_of,
            outcome.candidates,
            outcome.queries,
            outcome.read_rows,
        )
    return outcome.note


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
    progress: Progress = _quiet,
    backfill: str = "",
    leaderboard_note: str | None = None,
) -> Prepared:
    """The site's settings, costs and each unit's input digest; which units to render, which to reuse.

    Reads digests of the store, not its rows: the rows are read by the page workers, one package each.
    """
    progress("Comparing inputs with the previous build", 0, len(cfg.packages))
    synthetic = is_synthetic(source, store)
    capabilities = capabilities_of(source)
    site = SiteData(
        title=cfg.site.title,
        description=cfg.site.description,
        # What publishing.attach will set too: the pages show it (canonical links, badge snippets).
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


def _chart_shapes() -> drawing.Shapes:
    """The chart shapes, built in Altair and compiled here, once: the page workers only fill them."""
    from generator import charts  # Altair: imported only by a build that renders a package page

    return charts.compile_shapes()


def write_site(prepared: Prepared, out_dir: Path, *, jobs: int | None, progress: Progress = _quiet) -> dict[str, int]:
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
        pool = parallel.PagePool(prepared.context, _chart_shapes() if todo else None, jobs=jobs, packages=len(todo))
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
            pool.close()
            site.packages = [
                ListedPackage(summaries[incremental.package_unit(p)], cost=prepared.costs.get(p)) for p in cfg.packages
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
    max_minutes: float | None = None,
    export_dir: Path | None = None,
) -> BuildResult:
    """Fetch what the store lacks, then render what changed and write the site atomically.

    `jobs` page workers render packages in parallel (default: one per core). `full` renders every
    page and writes every file, ignoring the previous build. `max_minutes` stops fetching in time to
    render what is held; `export_dir` gets the store's data export after every completed job.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    deadline = time.monotonic() + max_minutes * 60 * FETCH_SHARE_OF_MAX_MINUTES if max_minutes else None
    source = open_source(cfg)
    try:
        with open_store(cfg.store.path) as store:
            partitions = None
            if fetch_data:
                settle_unknown_jobs(store, source)
                partitions = read_partitions(cfg, store, source, as_of)
            plan = plan_for(
                cfg,
                store,
                source.name,
                as_of,
                refresh=refresh,
                max_days_per_job=days_per_job(cfg, source, as_of),
                partitions=partitions,
            )
            fetched = (
                fetch(
                    cfg, store, source, plan, progress, deadline=deadline, export_dir=export_dir, partitions=partitions
                )
                if fetch_data
                else Fetched()
            )
            leaderboard_note = None
            if fetch_data:
                fetch_downloads_before_store(cfg, store, source, progress)
                fetch_release_dates(cfg, store, source, progress)
                leaderboard_note = fetch_leaderboard(cfg, store, source, as_of, progress)
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
        source.close()
    t2 = time.perf_counter()
    files = write_site(prepared, out_dir, jobs=jobs, progress=progress)
    timings["render"] = time.perf_counter() - t2
    return BuildResult(as_of, plan, out_dir, files, timings, fetched.jobs_run, prepared.plan, fetched, held, runs_left)


def _backfill_state(cfg: Config, store: Store, source: Source, as_of: dt.date, plan: Plan) -> tuple[int, int | None]:
    """Days of the window held for every package, and (BigQuery only, while days are missing) about
    how many more runs the rest takes at this budget, priced by the model and the ledger."""
    from generator import cost

    covered = store.covered_days(source.name, cfg.packages, plan.window)
    held = len(set.intersection(*covered.values())) if covered else 0
    if cfg.source.kind != "bigquery" or held >= plan.window.days:
        return held, None
    rest = plan_for(cfg, store, source.name, as_of, max_days_per_job=days_per_job(cfg, None, as_of), refetch=())
    ledger = [e for e in store.ledger() if e.source == source.name]
    estimates = cost.estimate_plan(rest, None, ledger, price_per_tib=cfg.budget.price_per_tib)
    today = source.today() if hasattr(source, "today") else utc_today()
    billed, unknown = store.month_spend(source.name, cost.month_start(today))
    pace = daily_pace(cfg, None, as_of, today, ledger)
    verdict = cost.backfill_pace(estimates, cfg.budget, pace=pace, as_of=as_of, month_billed=billed + unknown)
    return held, verdict.runs or 1


def _attach_costs(site: SiteData, store: Store, cfg: Config) -> dict[str, PackageCost]:
    """Cost figures for the cost page, and each package's share, from the ledger of billable jobs."""
    from generator import cost

    entries = [e for e in store.ledger() if e.source == site.source]
    if not entries:
        return {}
    site.cost = cost.cost_summary(entries, cfg.budget.price_per_tib, source=site.source)
    unread = store.get_meta(HISTORY_UNREAD_META)
    if unread:
        site.cost.notes.append(
            f"BigQuery refused to list the jobs of {unread[:7]} when this store was new (bigquery.jobs.list "
            "missing): that month's budget counted only this store's jobs, not what an earlier store billed."
        )
    return {p: cost.package_cost(entries, p, source=site.source) for p in cfg.packages}
