"""The `plan` command: what a build would fetch, and what it would cost. Runs nothing billable."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from rich.console import Console

from generator import build, cost, dates
from generator.config import Config
from generator.errors import GeneratorError, NewestDayDoesNotFit
from generator.plan import Plan, plan_for
from generator.sources.local import holds_synthetic_events
from generator.store import Store, open_store

if TYPE_CHECKING:  # imported where it is used: only a BigQuery plan needs the Google client
    from generator.sources.bigquery import BigQuerySource


def show_plan(cfg: Config, as_of: dt.date, console: Console) -> int:
    """Print the jobs, days and packages; for BigQuery, bytes and dollars per job (ceiling and expected).

    Returns the exit status: NewestDayDoesNotFit.exit_code when not even the newest day fits the budget.
    """
    source = _try_source(cfg, console)
    try:
        with open_store(cfg.store.path) as store:
            name = source.name if source is not None else cfg.source.kind
            # BigQuery: build fetches a held day again only when its partition changed, which only the
            # build reads (a 10 MB query: `plan` runs nothing billable); priced here as unchanged.
            refetch = () if cfg.source.kind == "bigquery" else None
            days = build.days_per_job(cfg, source, as_of)
            plan = plan_for(cfg, store, name, as_of, max_days_per_job=days, refetch=refetch)
            ledger = store.ledger()
            since = cost.month_start(dates.utc_today())
            billed, unknown = store.month_spend(name, since)
            recovered = store.get_meta("recovered_month_spend") or {}
            if recovered.get("month") == since.isoformat():
                billed += int(recovered["bytes"])
            free = free_requests(cfg, store, plan, name)
    finally:
        if source is not None:
            source.close()
    missing_pairs = sum(len(days) for days in plan.missing.values())
    refetching = (
        "held days are fetched again only when their partition changed (build reads the partitions' metadata, "
        f"10 MB; without it, the latest {cfg.source.refetch_days} day(s))"
        if cfg.source.kind == "bigquery"
        else f"refetching the latest {len(plan.refetch)} day(s) for late rows"
    )
    console.print(
        f"Report date {as_of}; the store should hold {plan.window.label()} ({plan.window.days} days) for "
        f"{len(cfg.packages)} package(s); {missing_pairs} (package, day) pairs missing; {refetching}."
    )
    for line in free:
        console.print(line, highlight=False, markup=False)
    if cfg.source.kind != "bigquery":
        for i, job in enumerate(plan.jobs, 1):
            console.print(f"  job {i}: {job.window.label()} ({job.window.days} days), {len(job.projects)} package(s)")
        console.print(f"{len(plan.jobs)} job(s) on the {cfg.source.kind} source, which costs nothing.")
        return 0
    if source is not None and plan.jobs:
        estimates = source.estimate(plan.jobs, ledger)
        measured = source.measure_column_bytes(cfg.packages, as_of)
    else:
        estimates = cost.estimate_plan(plan, None, ledger, price_per_tib=cfg.budget.price_per_tib)
        measured = None
    costs = cost.column_costs(cfg.source.breakdowns, price_per_tib=cfg.budget.price_per_tib, measured=measured)
    spending = cost.Spending(month_billed=billed, month_unknown=unknown)
    verdict = None
    if estimates:
        # Every job but the daily one (the newest day) keeps the month's pace: room for this month's daily runs.
        pace = build.daily_pace(cfg, source, as_of, dates.utc_today(), ledger)
        verdict = cost.plan_verdict(estimates, cfg.budget, spending, pace=pace, as_of=as_of)
    for line in cost.describe_plan(estimates, costs, cfg.budget, verdict):
        console.print(line, highlight=False, markup=False)
    if spending.month:
        console.print(
            f"This month (UTC) so far: {cost.format_bytes(billed, 2)} billed, "
            f"{cost.format_bytes(unknown, 2)} of jobs whose outcome is not known yet.",
            highlight=False,
            markup=False,
        )
    return NewestDayDoesNotFit.exit_code if verdict is not None and verdict.refusal is not None else 0


def free_requests(cfg: Config, store: Store, plan: Plan, source_name: str) -> list[str]:
    """The free services a build also asks and what it sends them; none for synthetic data (never asked)."""
    events = cfg.source.path if cfg.source.kind == "local" else None  # set for "local" (checked by config)
    if store.get_meta("synthetic", False) or (events is not None and holds_synthetic_events(events)):
        return []
    lines = []
    if cfg.source.clickpy_all_time:
        to_ask = build.before_store_to_ask(store, source_name, cfg.packages, planned=plan.missing)
        if to_ask:
            lines.append(
                f"Also asked, free: ClickPy, in one query, for the downloads before the store's first day of "
                f"up to {len(to_ask)} package(s), sending their names (pepy/ClickPy's all-time figure); "
                "[source].clickpy_all_time = false turns it off."
            )
    lines += leaderboard_requests(cfg, store, plan.as_of)
    if cfg.source.release_dates:
        lines.append(
            "Also asked, free: PyPI's JSON API, once for each package with a release the store has no upload "
            "date for (the pages' release dates); [source].release_dates = false turns it off."
        )
    return lines


def leaderboard_requests(cfg: Config, store: Store, as_of: dt.date) -> list[str]:
    """What the leaderboard sends to ClickPy for `as_of` ([leaderboard].top), unless the store keeps that ranking."""
    from generator import leaderboard_fetch

    top = cfg.leaderboard.top
    if top <= 0:
        return []
    kept = store.ranking(as_of)
    if kept is not None and kept.top == top:
        return [f"The leaderboard of the top {top:,} for {as_of} is kept in the store: ClickPy is not asked for it."]
    candidates, batches = leaderboard_fetch.expected_requests(top)
    start = as_of - dt.timedelta(days=29)
    return [
        f"Also asked, free: ClickPy ({leaderboard_fetch.service_url(cfg)}), for the leaderboard of the top {top:,}"
        f" projects of all PyPI over {start} to {as_of}: one query for the days it holds, one ranking every"
        f" project by downloads (the top {candidates:,} come back), and about {batches:,} queries splitting"
        " those candidates' downloads by installer (batches of their names); more candidates only if the"
        " exactness proof needs them. Nothing about your packages is sent; [leaderboard].top = 0 turns it off."
    ]


def _try_source(cfg: Config, console: Console) -> BigQuerySource | None:
    """The BigQuery source when credentials exist; without them, plan from the model and say so."""
    if cfg.source.kind != "bigquery":
        return None
    from generator.sources.bigquery import BigQuerySource

    try:
        return BigQuerySource(cfg)
    except GeneratorError as exc:
        console.print(f"No BigQuery access ({exc}); estimating from a model of the table.", markup=False)
        return None
