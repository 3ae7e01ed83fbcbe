"""Dry runs are not always unpruned: the build stays right, and guaranteed, whatever BigQuery's dry run says.

The fake prices dry runs three ways (tests/fakes/bigquery_server.DRY_RUN_MODES): unpruned and checked
against that (the usual report), cluster-pruned and checked against that (ofek/pypinfo#168), and pruned
but checked against the unpruned figure, so a job capped at its dry run is refused at no charge with
"N or higher required" (HTTPArchive/har.fyi#10). A refused job is tried once more at N when N fits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import write_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bigquery import DAYS, FIRST, PACKAGES, TODAY, full_job, make_config, make_events, sorted_rows

from generator import cost, fetch
from generator.dates import Window
from generator.errors import CostLimitExceeded, SourceError
from generator.plan import Job, plan_for
from generator.sources.bigquery import BigQuerySource, RetryPolicy, job_query
from generator.sources.local import LocalSource
from generator.store import open_store
from tests.fakes.bigquery_server import DRY_RUN_MODES, EventTable, FakeBigQuery

MODES = tuple(DRY_RUN_MODES)


@pytest.fixture(scope="module")
def events_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_events(tmp_path_factory.mktemp("dry-run-events"), make_events())


@pytest.fixture(scope="module")
def event_table(events_dir: Path) -> Iterator[EventTable]:
    # Heavy rows in small blocks: clustering prunes most of a day, and the unpruned and pruned figures
    # differ by many MiB, above the 10 MiB floor.
    table = EventTable(events_dir, block_rows=4, row_weight=20_000)
    yield table
    table.close()


def source_for(fake: FakeBigQuery, tmp_path: Path, **budget: Any) -> BigQuerySource:
    return BigQuerySource(
        make_config(tmp_path, **budget),
        client=fake.client(),
        retry=RetryPolicy(sleep=lambda s: None),
        today=lambda: TODAY,
        run_id="dry-run-test",
    )


def values(job: Any) -> dict[str, Any]:
    return {"projects": list(job.projects), "start": job.window.start, "end": job.window.end}


@pytest.mark.parametrize(
    ("mode", "dry_run_is", "accuracy", "tries"),
    [
        ("unpruned", "estimate", "UPPER_BOUND", 1),
        ("pruned", "processed", "PRECISE", 1),
        ("pruned-checked-unpruned", "processed", "UNKNOWN", 2),
    ],
)
def test_each_mode_prices_and_checks_jobs_and_the_rows_stay_the_same(
    tmp_path: Path, event_table: EventTable, events_dir: Path, mode: str, dry_run_is: str, accuracy: str, tries: int
) -> None:
    job = full_job()
    with FakeBigQuery(event_table, dry_run_mode=mode) as fake:
        source = source_for(fake, tmp_path)
        priced = source.run_query(*job_query(job), dry_run_only=True)
        result = source.fetch(job)
        source.close()
    account = fake.account(job_query(job)[0], values(job))
    assert account.estimate_bytes > 2 * account.processed_bytes + 10 * cost.MIB  # clustering prunes most
    assert priced.scan_bytes == getattr(account, f"{dry_run_is}_bytes")
    assert priced.scan_accuracy == accuracy
    assert len(fake.billable_jobs) == tries
    *refused, ran = fake.billable_jobs
    assert [(j.error_reason, j.billed_bytes) for j in refused] == [("bytesBilledLimitExceeded", 0)] * (tries - 1)
    assert ran.error_reason is None
    assert ran.billed_bytes <= (ran.maximum_bytes_billed or 0)
    assert result.ceiling_bytes == ran.maximum_bytes_billed
    local = LocalSource(events_dir)
    try:
        assert sorted_rows(result.rows) == sorted_rows(local.fetch(job).rows)
    finally:
        local.close()


def test_a_job_refused_at_its_dry_run_is_tried_once_at_the_figure_bigquery_required(
    tmp_path: Path, event_table: EventTable
) -> None:
    job = full_job()
    with FakeBigQuery(event_table, dry_run_mode="pruned-checked-unpruned") as fake:
        source = source_for(fake, tmp_path)
        result = source.fetch(job)
        source.close()
    first, second = fake.billable_jobs
    account = fake.account(job_query(job)[0], values(job))
    required = account.estimate_billed_bytes
    assert first.maximum_bytes_billed == cost.billed_ceiling(account.processed_bytes) < required
    assert second.maximum_bytes_billed == required
    assert source.dry_runs_below_check
    assert source.spending.run == result.bytes_billed  # the refused try billed nothing


def test_a_required_figure_over_the_budget_stops_in_one_line_and_bills_nothing(
    tmp_path: Path, event_table: EventTable
) -> None:
    job = full_job()
    with FakeBigQuery(event_table, dry_run_mode="pruned-checked-unpruned") as fake:
        required = fake.account(job_query(job)[0], values(job)).estimate_billed_bytes
        source = source_for(fake, tmp_path, max_bytes_per_query=required - 1)
        with pytest.raises(CostLimitExceeded) as refused:
            source.fetch(job)
        source.close()
    message = str(refused.value)
    assert "\n" not in message
    assert "BigQuery required more than its dry run's" in message
    assert "[budget].max_bytes_per_query" in message
    assert refused.value.ceiling_bytes == required
    assert [(j.error_reason, j.billed_bytes) for j in fake.billable_jobs] == [("bytesBilledLimitExceeded", 0)]
    assert source.spending.run == 0


@pytest.mark.parametrize("mode", MODES)
def test_a_backfill_holds_every_day_within_its_budgets_whatever_the_dry_runs_say(
    tmp_path: Path, event_table: EventTable, mode: str
) -> None:
    with FakeBigQuery(event_table, dry_run_mode=mode) as fake:
        source = source_for(fake, tmp_path)
        cfg = source.config
        as_of = FIRST + dt.timedelta(days=DAYS - 1)
        with open_store(cfg.store.path) as store:
            plan = plan_for(cfg, store, "bigquery", as_of, max_days_per_job=3)
            fetched = fetch.fetch(cfg, store, source, plan)
            held = store.covered_days("bigquery", PACKAGES, Window(FIRST, as_of))
        source.close()
    assert fetched.stopped == ""
    assert held == {p: set(Window(FIRST, as_of)) for p in PACKAGES}
    for job in fake.billable_jobs:
        assert job.billed_bytes <= (job.maximum_bytes_billed or 0)
        assert job.error_reason in (None, "bytesBilledLimitExceeded")
    assert sum(j.billed_bytes for j in fake.billable_jobs) == source.spending.run_billed
    assert source.spending.run <= cfg.budget.max_bytes_per_run


@pytest.mark.parametrize(("mode", "expected_is_ceiling"), [("unpruned", False), ("pruned", True)])
def test_a_pruned_dry_run_is_the_expected_bill_itself(
    tmp_path: Path, event_table: EventTable, mode: str, expected_is_ceiling: bool
) -> None:
    with FakeBigQuery(event_table, dry_run_mode=mode) as fake:
        source = source_for(fake, tmp_path)
        (estimate,) = source.estimate([full_job()])
        source.close()
    assert (estimate.expected_bytes == estimate.ceiling_bytes) is expected_is_ceiling


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mode=st.sampled_from(MODES),
    per_query=st.floats(0.5, 3.0),
    per_run=st.floats(0.5, 6.0),
    grow=st.lists(st.sampled_from([1.0, 1.0, 1.3]), min_size=0, max_size=3),
)
def test_no_run_is_billed_over_budget_whatever_the_dry_runs_say(
    tmp_path_factory: pytest.TempPathFactory,
    event_table: EventTable,
    mode: str,
    per_query: float,
    per_run: float,
    grow: list[float],
) -> None:
    """Budgets in units of one day's unpruned ceiling; the table may grow before any job."""
    tmp_path = tmp_path_factory.mktemp("dry-run-property")
    day = job_query(Job(Window(FIRST, FIRST), PACKAGES, full_job().breakdowns))[0]
    with FakeBigQuery(event_table, dry_run_mode=mode) as fake:
        unit = fake.account(day, {"projects": list(PACKAGES), "start": FIRST, "end": FIRST}).estimate_billed_bytes
        for factor in grow:
            fake.grow_table_next(factor)
        budget = {"max_bytes_per_query": int(per_query * unit), "max_bytes_per_run": int(per_run * unit)}
        source = source_for(fake, tmp_path, **budget)
        cfg = source.config
        as_of = FIRST + dt.timedelta(days=DAYS - 1)
        with open_store(cfg.store.path) as store:
            plan = plan_for(cfg, store, "bigquery", as_of, max_days_per_job=3)
            with contextlib.suppress(CostLimitExceeded, SourceError):
                fetch.fetch(cfg, store, source, plan)
        source.close()
    jobs = fake.billable_jobs
    assert sum(j.billed_bytes for j in jobs) <= cfg.budget.max_bytes_per_run
    for job in jobs:
        assert (job.maximum_bytes_billed or 0) <= cfg.budget.max_bytes_per_query
        assert job.billed_bytes <= (job.maximum_bytes_billed or 0)
