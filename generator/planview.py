"""The `plan` command: what a build would fetch, and what it would cost. Runs nothing billable."""

from __future__ import annotations

import datetime as dt

from rich.console import Console

from generator import build, cost
from generator.config import Config
from generator.errors import GeneratorError
from generator.store import open_store


def show_plan(cfg: Config, as_of: dt.date, console: Console) -> None:
    """Print the jobs, days and packages; for BigQuery, bytes and dollars per job (ceiling and expected)."""
    source = _try_source(cfg, console)
    try:
        with open_store(cfg.store.path) as store:
            name = source.name if source is not None else cfg.source.kind
            plan = build.plan_for(cfg, store, name, as_of, max_days_per_job=build.days_per_job(cfg, source, as_of))
            ledger = store.ledger()
    finally:
        if source is not None:
            source.close()
    missing_pairs = sum(len(days) for days in plan.missing.values())
    console.print(
        f"Report date {as_of}; the store should hold {plan.window.label()} ({plan.window.days} days) for "
        f"{len(cfg.packages)} package(s); {missing_pairs} (package, day) pairs missing; "
        f"refetching the latest {len(plan.refetch)} day(s) for late rows."
    )
    if cfg.source.kind != "bigquery":
        for i, job in enumerate(plan.jobs, 1):
            console.print(f"  job {i}: {job.window.label()} ({job.window.days} days), {len(job.projects)} package(s)")
        console.print(f"{len(plan.jobs)} job(s) on the {cfg.source.kind} source, which costs nothing.")
        return
    if source is not None and plan.jobs:
        estimates = source.estimate(plan.jobs, ledger)
        measured = source.measure_column_bytes(cfg.packages, as_of)
    else:
        estimates = cost.estimate_plan(plan, None, ledger, price_per_tib=cfg.budget.price_per_tib)
        measured = None
    costs = cost.column_costs(cfg.source.breakdowns, price_per_tib=cfg.budget.price_per_tib, measured=measured)
    for line in cost.describe_plan(estimates, costs, cfg.budget):
        console.print(line, highlight=False, markup=False)


def _try_source(cfg: Config, console: Console):  # noqa: ANN202 - BigQuerySource | None
    """The BigQuery source when credentials exist; without them, plan from the model and say so."""
    if cfg.source.kind != "bigquery":
        return None
    from generator.sources.bigquery import BigQuerySource

    try:
        return BigQuerySource(cfg)
    except GeneratorError as exc:
        console.print(f"No BigQuery access ({exc}); estimating from a model of the table.", markup=False)
        return None
