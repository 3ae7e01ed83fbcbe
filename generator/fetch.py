"""Fetching: ask the sources for the rows the store lacks and keep them, each job in one store transaction.

The plan's jobs (`fetch`), under the budget for a billing source (BigQuery: the month's spend counted once,
jobs a killed run left unknown settled first, the partitions' metadata read so that only changed days are
fetched again); then the optional figures from free services: downloads before the store's first day
(ClickPy), release dates (PyPI) and the leaderboard's ranking (ClickPy). Each writes into the store the
caller opened; none renders or writes the site.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import budget, cost, leaderboard_fetch
from generator.config import Config
from generator.dates import Window, last_days
from generator.errors import ConfigError
from generator.plan import Job, Plan
from generator.sources import BillingSource, Source, is_billing
from generator.store import LedgerEntry, PartitionState, Store

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
"""progress(step, done, total): a callback the CLI turns into a progress bar."""


def quiet(step: str, done: int, total: int) -> None:
    return None


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


def read_partitions(cfg: Config, store: Store, source: Source, as_of: dt.date) -> dict[dt.date, PartitionState] | None:
    """The source's daily partitions over the history window now (BigQuery: one metadata query of
    10 MB, through the cost guard), so that only the held days whose partition changed are fetched again.

    None when the source has no such metadata, or when it cannot be read (a missing permission, no
    budget left): the build then falls back to refetching the latest [source].refetch_days, and says
    so in one warning line.
    """
    from generator.errors import CostLimitExceeded, SourceError

    if not is_billing(source):
        return None
    newest = Job(Window(as_of, as_of), cfg.packages, cfg.source.breakdowns)
    _count_month(store, source)
    try:
        # Optional: it runs only if the newest day still fits beside its 10 MB (a dry run prices the day).
        newest_ceiling = source.estimate([newest])[0].ceiling_bytes
        if budget.budget_refusal(newest_ceiling, cfg.budget, source.spending) is not None:
            return None  # not even the newest day fits: the fetch refuses the run, in one line of its own
        tight = budget.budget_refusal(cost.MIN_BILLED_PER_TABLE + newest_ceiling, cfg.budget, source.spending)
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


@dataclass
class Fetched:
    """What a run fetched, and why it stopped before the end of the plan ("" when it did not)."""

    jobs_run: int = 0
    stopped: str = ""
    stopped_by: str = ""
    """The budget setting that stopped fetching, if one did."""
    billed_bytes: int = 0


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


def _count_month(store: Store, source: BillingSource) -> None:
    """`_count_spending`, once per run: before the first billable query (partition metadata or a job)."""
    if source.spending.month_counted:
        return
    _count_spending(store, source)
    source.spending.month_counted = True


def _count_spending(store: Store, source: BillingSource) -> None:
    """Before a billing source's first job: count the month's spend from the ledger (unknown outcomes
    at their ceiling), or from BigQuery's list of the caller's jobs when the ledger is new.

    When BigQuery refuses that list (a missing optional permission), the build goes on: a new user
    has spent nothing with this tool, and one who lost the ledger is told, in one warning and on the
    cost page, that the month's budget counts only this store's jobs until the next month."""
    from generator import permissions
    from generator.errors import PermissionDenied

    source.log = _StoreJobLog(store)
    source.ledger = store.ledger()
    since = budget.month_start(source.today())
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
                budget.next_month_start(since),
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
    progress: Progress = quiet,
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
    (budget.pace_refusal): the first that does not ends the fetching cleanly too. Only when not even
    the newest day fits a budget is the run refused (NewestDayDoesNotFit). `deadline` (on `clock`)
    stops fetching before a job that could not finish in time. `export_dir` gets the store's data
    export after every completed job, so a killed run never pays twice for a day. `partitions`
    (read_partitions) are recorded with each day fetched.
    """
    from generator.errors import CostLimitExceeded, NewestDayDoesNotFit
    from generator.plan import split_newest_first

    preflight = getattr(source, "preflight", None)
    if preflight is not None and plan.jobs:
        # ClickPy: one query per table for the whole plan (it costs nothing; there is no budget).
        preflight(plan.jobs, store.ledger())
    if is_billing(source) and plan.jobs:
        _count_month(store, source)
    out = Fetched()
    todo = list(plan.jobs)
    pace: budget.MonthPace | None = None
    longest = 0.0
    while todo:
        job = todo.pop(0)
        if deadline is not None and clock() + longest > deadline:
            out.stopped = f"--max-minutes: stopped before {job.window.label()} so the site is written in time"
            break
        total = out.jobs_run + len(todo) + 1
        progress(f"Fetching {job.window.label()} from {source.name}", out.jobs_run, total)
        started = clock()
        paced = is_billing(source) and budget.is_paced(job.window.end, plan.as_of)
        if paced and pace is None and is_billing(source):
            # Priced once per run, with this run's bills in the ledger: the room kept for the daily runs.
            pace = budget.daily_pace(
                cfg, source, plan.as_of, source.today(), source.ledger, metadata=partitions is not None
            )
        try:
            result = source.fetch(job, pace=pace if paced else None) if is_billing(source) else source.fetch(job)
        except CostLimitExceeded as exc:
            if job.window.days > 1:
                halves = split_newest_first(job.window, (job.window.days + 1) // 2)
                todo[:0] = [dataclasses.replace(job, window=w) for w in halves]
                continue
            if out.jobs_run == 0 and not getattr(exc.refusal, "paced", False):
                refusal = exc.refusal
                assert isinstance(refusal, budget.Refusal)
                message = budget.refusal_message(
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
        ledger = source.ledger_entry(job, result) if is_billing(source) and result.job_id else None
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


def fetch_downloads_before_store(cfg: Config, store: Store, source: Source, progress: Progress = quiet) -> None:
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


def fetch_release_dates(cfg: Config, store: Store, source: Source, progress: Progress = quiet) -> None:
    """Each release's upload date from PyPI, for versions the store has none for (never for synthetic data:
    its versions are not PyPI's releases)."""
    from generator.sources import pypi_releases

    if not cfg.source.release_dates or is_synthetic(source, store):
        return
    progress("Checking release dates on PyPI", 0, len(cfg.packages))
    pypi_releases.update(store, cfg.packages, pypi_releases.PyPIJson(pypi_releases.base_url(cfg.source.pypi_url)))


def fetch_leaderboard(cfg: Config, store: Store, source: Source, as_of: dt.date, progress: Progress = quiet) -> str:
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
