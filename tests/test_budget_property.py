"""The budget holds whatever happens to the jobs: a property test over random budgets and outcomes.

Each example is a new site fetching through the real client from the fake, over a few runs on
consecutive days of one month; every job but the daily one (the newest day) is a paced backfill job.
Jobs may fail (BigQuery refuses them: nothing billed; the partition metadata
query too, and the run falls back to refetch_days), the table may grow between a job's dry run and
the job (bytesBilledLimitExceeded, then one more try), jobs may bill far more or less than the tool
expects (clustering prunes worse or better), PyPI may reload an old day (its partition changes), and
a run may be killed while it waits on a job (CI timeout). Whatever the draw:
- what one run is billed never exceeds [budget].max_bytes_per_run;
- what the month is billed never exceeds [budget].max_bytes_per_month;
- no job's ceiling exceeds [budget].max_bytes_per_query;
- a backfill job starts only while the month keeps room for one daily run's ceiling (the pace);
- no day is bought twice across runs unless its partition changed, or it is one of the latest
  `refetch_days` (the fallback when the partition metadata cannot be read).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from generator import config as config_mod
from generator import cost, dates, fetch
from generator.dates import Window
from generator.errors import CostLimitExceeded, SourceError
from generator.plan import plan_for
from generator.sources.bigquery import BigQuerySource, RetryPolicy
from generator.store import open_store
from tests.fakes.bigquery_server import EventsQuery, EventTable, FakeBigQuery, ReceivedJob
from tests.fakes.scale import ROWS_PER_REAL_DAY, events_sql

FIRST, LAST = dt.date(2026, 9, 1), dt.date(2026, 10, 20)
ROWS_PER_DAY = 120
HISTORY, REFETCH = 40, 2  # more than the headline's 30 days
PACKAGES = ("p2", "p3", "p4")  # popular: every day bills a real share of its ceiling
BLOCK_ROWS = 10
Outcome = tuple[int | None, int | None, bool, float, int | None]
"""For one run: the data job it is killed while waiting on, the billable job BigQuery fails, whether the
table grows, how much more than the block model every job bills, the day (back from the as-of date)
whose partition PyPI reloads before the run."""
OUTCOMES = st.tuples(
    st.one_of(st.none(), st.integers(0, 4)),
    st.one_of(st.none(), st.integers(0, 6)),
    st.booleans(),
    st.sampled_from([0.3, 1.0, 3.0]),
    st.one_of(st.none(), st.integers(1, HISTORY - 1)),
)


class Killed(BaseException):
    """The run is killed while it waits on a job (a CI timeout): nothing after it runs."""


WEIGHT = ROWS_PER_REAL_DAY / ROWS_PER_DAY


def _events() -> EventsQuery:
    return EventsQuery(events_sql(FIRST, LAST, ROWS_PER_DAY))


@pytest.fixture(scope="module")
def table() -> Iterator[EventTable]:
    events = EventTable(_events(), block_rows=BLOCK_ROWS, row_weight=WEIGHT)
    yield events
    events.close()


@pytest.fixture(scope="module")
def day_ceiling(table: EventTable) -> int:
    """The guaranteed ceiling of one day with every breakdown, as a dry run gives it."""
    with FakeBigQuery(table) as fake:
        source = BigQuerySource(_config(Path("/nonexistent"), 10**15, 10**15, 10**15), client=fake.client())
        return source.estimate([_job(LAST)])[0].ceiling_bytes


def _job(day: dt.date) -> Any:
    from generator.config import BREAKDOWNS
    from generator.plan import Job

    return Job(Window(day, day), PACKAGES, BREAKDOWNS)


def _config(tmp: Path, per_query: int, per_run: int, per_month: int) -> config_mod.Config:
    raw = {
        "packages": {"names": list(PACKAGES)},
        "source": {"kind": "bigquery", "billing_project": "p", "history_days": HISTORY, "refetch_days": REFETCH},
        "budget": {"max_bytes_per_query": per_query, "max_bytes_per_run": per_run, "max_bytes_per_month": per_month},
        "store": {"path": str(tmp / "store.duckdb")},
    }
    return config_mod.parse(raw, tmp / "stats.toml")


def _run(cfg: config_mod.Config, fake: FakeBigQuery, run_id: str, as_of: dt.date, outcome: Outcome) -> None:
    """What `build` does before rendering, with this run's drawn outcome injected."""
    kill_at, fail_at, grow, bill_factor, reload = outcome
    fake.bill_factor = bill_factor
    if reload is not None:
        day = as_of - dt.timedelta(days=reload)
        fake.append_events([{"timestamp": f"{day} 12:00:00 UTC", "project": PACKAGES[0]}])
    started = [0]

    class KillingLog(fetch._StoreJobLog):
        def started(self, entry: Any) -> None:
            super().started(entry)
            if entry.projects and started[0] == kill_at:
                raise Killed
            started[0] += bool(entry.projects)

    if fail_at is not None:
        fake.fail_on_job(len(fake.billable_jobs) + 1 + fail_at, reason="accessDenied")
    if grow:
        fake.grow_table_next(1.2)
    source = BigQuerySource(
        cfg, client=fake.client(), run_id=run_id, retry=RetryPolicy(sleep=lambda s: None, max_attempts=2)
    )
    with open_store(cfg.store.path) as store, pytest.MonkeyPatch.context() as patch:
        patch.setattr(fetch, "_StoreJobLog", KillingLog)
        try:
            fetch.settle_unknown_jobs(store, source)
            partitions = fetch.read_partitions(cfg, store, source, as_of)
            days = cost.days_per_job(cfg, source, as_of)
            plan = plan_for(cfg, store, "bigquery", as_of, max_days_per_job=days, partitions=partitions)
            fetch.fetch(cfg, store, source, plan, partitions=partitions)
        except (Killed, SourceError, CostLimitExceeded):
            pass
        finally:
            source.close()


def _bought_days(jobs: list[ReceivedJob]) -> Counter[dt.date]:
    days: Counter[dt.date] = Counter()
    for job in jobs:
        if job.error_reason is None and "projects" in job.param_values:
            days.update(Window(job.param_values["start"], job.param_values["end"]))
    return days


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Draws the search finds only now and then: a backfill job killed mid-run; a month that the monthly
# budget, not the run budget, has to stop; jobs billing 3x what the tool expects while an old day is
# reloaded; the partition metadata query refused (the fallback).
@example(per_query=2.0, per_run=3.0, per_month=12.0, runs=[(2, None, False, 1.0, None), (None, None, False, 1.0, None)])
@example(per_query=1.1, per_run=6.0, per_month=4.6, runs=[(None, None, False, 1.0, None)] * 4)
@example(per_query=3.5, per_run=3.0, per_month=12.0, runs=[(None, None, False, 3.0, None), (None, None, True, 3.0, 35)])
@example(per_query=3.5, per_run=3.0, per_month=12.0, runs=[(None, 0, False, 1.0, None), (None, 0, False, 1.0, 5)])
# A month wide enough that, after the headline, the pace (not the guarantee) stops the backfill.
@example(per_query=1.1, per_run=12.0, per_month=14.0, runs=[(None, None, False, 1.0, None)] * 3)
@given(
    per_query=st.floats(1.0, 3.5),
    per_run=st.floats(1.0, 12.0),
    per_month=st.floats(3.0, 30.0),
    runs=st.lists(OUTCOMES, min_size=2, max_size=4),
)
def test_no_run_or_month_is_billed_over_budget_and_no_unchanged_day_is_bought_twice(
    day_ceiling: int,
    tmp_path_factory: pytest.TempPathFactory,
    per_query: float,
    per_run: float,
    per_month: float,
    runs: list[Outcome],
) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    budget = {k: round(v * day_ceiling) for k, v in (("q", per_query), ("r", per_run), ("m", per_month))}
    cfg = _config(tmp, budget["q"], budget["r"], budget["m"])
    # Early in the month: the room kept for the month's remaining daily runs is large, the pace binds.
    now = {"t": dt.datetime(2026, 11, 5, 7, tzinfo=dt.UTC)}
    # Each example its own table: reloaded days change it. running_polls=0: a job killed one morning
    # is done by the next (its rows are then read back, free).
    with (
        FakeBigQuery(
            _events(), block_rows=BLOCK_ROWS, row_weight=WEIGHT, now=lambda: now["t"], running_polls=0
        ) as fake,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(dates, "utc_now", lambda: now["t"])
        as_of_days, changed = [], set()
        for i, outcome in enumerate(runs):
            now["t"] = dt.datetime(2026, 11, 5 + i, 7, tzinfo=dt.UTC)
            as_of = LAST - dt.timedelta(days=len(runs) - 1 - i)
            as_of_days.append(as_of)
            if outcome[4] is not None:
                changed.add(as_of - dt.timedelta(days=outcome[4]))
            before = len(fake.billable_jobs)
            _run(cfg, fake, f"run-{i}", as_of, outcome)
            jobs = fake.billable_jobs
            mine = [j for j in jobs if j.labels.get("run_id") == f"run-{i}"]
            assert sum(j.billed_bytes for j in mine) <= budget["r"]
            assert sum(j.billed_bytes for j in jobs) <= budget["m"]
            assert [j.maximum_bytes_billed for j in mine if (j.maximum_bytes_billed or 0) > budget["q"]] == []
            # The pace: a backfill job (any but the daily job, which holds the newest day) starts only while
            # the month keeps, beside what it bills, room for one daily run's ceiling and the bills of the
            # daily runs still to come this month. The tool paces on expected bills (the ledger's billed /
            # ceiling); checked while every job so far billed as the block model, with the lowest day's ratio
            # as the daily bill and half the job's own bill as the margin for day-to-day variation.
            if all(o[3] == 1.0 for o in runs[: i + 1]):
                runs_left = (dt.date(2026, 12, 1) - now["t"].date()).days - 1
                for k, job in enumerate(jobs[before:], start=before):
                    end = job.param_values.get("end")
                    if end is None or job.error_reason is not None or end >= as_of:
                        continue
                    done = [j for j in jobs[:k] if "projects" in j.param_values and j.error_reason is None]
                    ratio = min((j.billed_bytes / (j.maximum_bytes_billed or 1) for j in done), default=0.0)
                    kept = 0.95 * day_ceiling * (1 + runs_left * ratio)
                    assert sum(j.billed_bytes for j in jobs[:k]) + job.billed_bytes / 2 + kept <= budget["m"], k
        refetched = {as_of - dt.timedelta(days=k) for as_of in as_of_days for k in range(REFETCH)}
        twice = {day for day, n in _bought_days(fake.billable_jobs).items() if n > 1}
        assert twice <= refetched | changed, sorted(twice - refetched - changed)
