"""The `plan` command: what a build would fetch, and what it would cost. Runs nothing billable."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console

from generator import budget, cost, dates, fetch
from generator.budget import SETTING_PER_MONTH, SETTING_PER_QUERY, SETTING_PER_RUN, PlanVerdict, refusal_message
from generator.config import BudgetConfig, Config
from generator.cost import ColumnCost, JobEstimate, dollars, format_bytes, format_dollars
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
            days = cost.days_per_job(cfg, source, as_of)
            plan = plan_for(cfg, store, name, as_of, max_days_per_job=days, refetch=refetch)
            ledger = store.ledger()
            since = budget.month_start(dates.utc_today())
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
    spending = budget.Spending(month_billed=billed, month_unknown=unknown)
    verdict = None
    if estimates:
        # Every job but the daily one (the newest day) keeps the month's pace: room for this month's daily runs.
        pace = budget.daily_pace(cfg, source, as_of, dates.utc_today(), ledger)
        verdict = budget.plan_verdict(estimates, cfg.budget, spending, pace=pace, as_of=as_of)
    for line in describe_plan(estimates, costs, cfg.budget, verdict):
        console.print(line, highlight=False, markup=False)
    if spending.month:
        console.print(
            f"This month (UTC) so far: {cost.format_bytes(billed, 2)} billed, "
            f"{cost.format_bytes(unknown, 2)} of jobs whose outcome is not known yet.",
            highlight=False,
            markup=False,
        )
    return NewestDayDoesNotFit.exit_code if verdict is not None and verdict.refusal is not None else 0


def describe_plan(
    estimates: Sequence[JobEstimate],
    costs: Sequence[ColumnCost],
    budget: BudgetConfig,
    verdict: PlanVerdict | None,
) -> list[str]:
    """The `plan` command's report, as lines: identical jobs grouped, ceiling, expected bill, runs needed.

    `verdict` is None when there is nothing to fetch (no estimates, so nothing for the budget to judge).
    """
    lines: list[str] = []
    if not estimates or verdict is None:
        return ["Nothing to fetch: the store already holds every day and package."]
    model = any(e.scan_basis == "model" for e in estimates)
    lines.append(
        "Ceilings from a model of the table (no BigQuery credentials): an estimate, not a dry run."
        if model
        else "Ceilings from BigQuery dry runs (free); each job runs with maximum_bytes_billed = its ceiling."
    )
    lines.append("Jobs run newest day first; a run stops cleanly at the first job that does not fit its budget.")
    lines.append(f"{'jobs':>5}  {'days':<38} {'pkgs':>4}  {'ceiling each':>21}  {'expected each':>21}")
    for group in _groups(estimates):
        first, last, n = group[0], group[-1], len(group)
        span = first.job.window.label() if n == 1 else f"{last.job.window.start} to {first.job.window.end}"
        label = f"{span} ({first.days}d{' each' if n > 1 else ''})"
        ceiling = _spread([e.ceiling_bytes for e in group])
        expected = _spread([e.expected_bytes for e in group])
        lines.append(f"{n:>4}x  {label:<38} {first.packages:>4}  {ceiling:>21}  {expected:>21}")
    total = sum(e.ceiling_bytes for e in estimates)
    expected_total = sum(e.expected_bytes for e in estimates)
    price = estimates[0].price_per_tib
    lines.append(
        f"Total: {len(estimates)} job(s), {sum(e.days for e in estimates)} day(s); guaranteed ceiling "
        f"{format_bytes(total)} ({format_dollars(dollars(total, price))}), never all counted at once; expected bill "
        f"{format_bytes(expected_total)} ({format_dollars(dollars(expected_total, price))}; "
        f"{estimates[0].expected_basis}) at ${price}/TiB; first 1 TiB a month is free."
    )
    lines.append(
        f"Budget: {SETTING_PER_QUERY} = {format_bytes(budget.max_bytes_per_query)}, {SETTING_PER_RUN} = "
        f"{format_bytes(budget.max_bytes_per_run)}, {SETTING_PER_MONTH} = {format_bytes(budget.max_bytes_per_month)}"
        " (all on bytes billed; a job may start when billed so far + its ceiling fits)."
    )
    if verdict.refusal is not None:
        newest = estimates[0]
        lines.append(
            "REFUSED: "
            + refusal_message(
                verdict.refusal,
                f"the newest job ({newest.job.window.label()})",
                expected=newest.expected_bytes,
                price_per_tib=price,
                first=True,
            )
        )
    elif verdict.pace.runs is None:
        lines.append("Some older jobs never fit the budget: raise it, or lower [source].history_days.")
    else:
        pace = verdict.pace
        months = ""
        if pace.months > 1:
            months = f", over about {pace.months} calendar months ({SETTING_PER_MONTH} sets the pace)"
        lines.append(f"Runs needed for the whole history at this budget: about {pace.runs}{months}.")
    lines.append("What each column adds to the ceiling per day fetched (drop a breakdown to save it):")
    for c in costs:
        mark = "" if c.name == "base" else ("  [on]" if c.selected else "  [off]")
        note = f"  ({c.note})" if c.note else ""
        lines.append(
            f"  {c.name:<18} {', '.join(c.columns):<40} {format_bytes(c.bytes_per_day):>10}"
            f" {format_dollars(c.dollars_per_day):>7}/day{mark}{note}"
        )
    return lines


def _groups(estimates: Sequence[JobEstimate]) -> list[list[JobEstimate]]:
    """Runs of consecutive jobs of the same length over the same packages (days differ in volume)."""
    out: list[list[JobEstimate]] = []
    for e in estimates:
        if out and (out[-1][0].days, out[-1][0].packages) == (e.days, e.packages):
            out[-1].append(e)
        else:
            out.append([e])
    return out


def _spread(sizes: Sequence[int]) -> str:
    low, high = min(sizes), max(sizes)
    return format_bytes(low) if format_bytes(low) == format_bytes(high) else f"{format_bytes(low)}-{format_bytes(high)}"


def free_requests(cfg: Config, store: Store, plan: Plan, source_name: str) -> list[str]:
    """The free services a build also asks and what it sends them; none for synthetic data (never asked)."""
    events = cfg.source.path if cfg.source.kind == "local" else None  # set for "local" (checked by config)
    if store.get_meta("synthetic", False) or (events is not None and holds_synthetic_events(events)):
        return []
    lines = []
    if cfg.source.clickpy_all_time:
        to_ask = fetch.before_store_to_ask(store, source_name, cfg.packages, planned=plan.missing)
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
