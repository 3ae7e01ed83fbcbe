"""The budget holds whatever happens to the jobs: a property test over random budgets and outcomes.

Each example is a new site fetching through the real client from the fake, over a few runs on
consecutive days of one month. Jobs may fail (BigQuery refuses them: nothing billed), the table may
grow between a job's dry run and the job (bytesBilledLimitExceeded, then one more try), and a run
may be killed while it waits on a job (CI timeout). Whatever the draw:
- what one run is billed never exceeds [budget].max_bytes_per_run;
- what the month is billed never exceeds [budget].max_bytes_per_month;
- no job's ceiling exceeds [budget].max_bytes_per_query;
- no day is bought twice across runs unless it is one of the latest `refetch_days`.
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

from generator import build, dates
from generator import config as config_mod
from generator.dates import Window
from generator.errors import CostLimitExceeded, SourceError
from generator.sources.bigquery import BigQuerySource, RetryPolicy
from generator.store import open_store
from tests.fakes.bigquery_server import EventTable, FakeBigQuery, ReceivedJob
from tests.fakes.scale import ROWS_PER_REAL_DAY, events_sql

FIRST, LAST = dt.date(2026, 9, 15), dt.date(2026, 10, 20)
ROWS_PER_DAY = 120
HISTORY, REFETCH = 30, 2  # the least history a config allows
PACKAGES = ("p2", "p3", "p4")  # popular: every day bills a real share of its ceiling
Outcome = tuple[int | None, int | None, bool]
"""For one run: the data job it is killed while waiting on, the job BigQuery fails, whether the table grows."""
OUTCOMES = st.tuples(st.one_of(st.none(), st.integers(0, 4)), st.one_of(st.none(), st.integers(0, 6)), st.booleans())


class Killed(BaseException):
    """The run is killed while it waits on a job (a CI timeout): nothing after it runs."""


@pytest.fixture(scope="module")
def table() -> Iterator[EventTable]:
    from tests.fakes.bigquery_server import EventsQuery

    events = EventTable(
        EventsQuery(events_sql(FIRST, LAST, ROWS_PER_DAY)), block_rows=30, row_weight=ROWS_PER_REAL_DAY / ROWS_PER_DAY
    )
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
    from generator.sources import Job

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
    kill_at, fail_at, grow = outcome
    started = [0]

    class KillingLog(build._StoreJobLog):
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
        patch.setattr(build, "_StoreJobLog", KillingLog)
        try:
            build.settle_unknown_jobs(store, source)
            days = build.days_per_job(cfg, source, as_of)
            plan = build.plan_for(cfg, store, "bigquery", as_of, max_days_per_job=days)
            build.fetch(cfg, store, source, plan)
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


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Two draws the search finds only now and then: a backfill job killed mid-run, and a month that the
# monthly budget, not the run budget, has to stop.
@example(per_query=2.0, per_run=3.0, per_month=12.0, runs=[(2, None, False), (None, None, False)])
@example(per_query=1.1, per_run=6.0, per_month=4.6, runs=[(None, None, False)] * 4)
@given(
    per_query=st.floats(1.0, 3.5),
    per_run=st.floats(1.0, 3.0),
    per_month=st.floats(3.0, 12.0),
    runs=st.lists(OUTCOMES, min_size=2, max_size=4),
)
def test_no_run_or_month_is_billed_over_budget_and_no_day_is_bought_twice(
    table: EventTable,
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
    # Late in the month, so that the room kept for the month's remaining daily runs leaves some to a backfill.
    now = {"t": dt.datetime(2026, 11, 27, 7, tzinfo=dt.UTC)}
    # running_polls=0: a job killed one morning is done by the next (its rows are then read back, free).
    with FakeBigQuery(table, now=lambda: now["t"], running_polls=0) as fake, pytest.MonkeyPatch.context() as patch:
        patch.setattr(dates, "utc_now", lambda: now["t"])
        as_of_days = []
        for i, outcome in enumerate(runs):
            now["t"] = dt.datetime(2026, 11, 27 + i, 7, tzinfo=dt.UTC)
            as_of = LAST - dt.timedelta(days=len(runs) - 1 - i)
            as_of_days.append(as_of)
            _run(cfg, fake, f"run-{i}", as_of, outcome)
            jobs = fake.billable_jobs
            mine = [j for j in jobs if j.labels.get("run_id") == f"run-{i}"]
            assert sum(j.billed_bytes for j in mine) <= budget["r"]
            assert sum(j.billed_bytes for j in jobs) <= budget["m"]
            assert all((j.maximum_bytes_billed or 0) <= budget["q"] for j in mine)
        refetched = {as_of - dt.timedelta(days=k) for as_of in as_of_days for k in range(REFETCH)}
        twice = {day for day, n in _bought_days(fake.billable_jobs).items() if n > 1}
        assert twice <= refetched, sorted(twice - refetched)
