"""A new 3-package BigQuery site with the default settings, on the fake at the real table's scale.

Each stored event stands for about a million real ones, so one day with every breakdown has a
guaranteed ceiling of ~200 GiB, as the cost model puts the public table (tests/fakes/scale.py).
The runs happen on consecutive mornings and then next month, with one clock for the tool, its
ledger and the fake: the first run publishes the newest days and exits 0, the next runs go on
further back, and the pages say how far the backfill is until it is complete. No run bills more
than its budgets, and no day is fetched twice except the latest `refetch_days`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from htmltools import parse

from generator import cli, cost, dates
from generator.config import BudgetConfig, SourceConfig
from generator.dates import Window, last_days
from generator.store import open_store
from tests.fakes.bigquery_server import ReceivedJob
from tests.fakes.scale import packages, real_scale_fake

MORNINGS = (
    dt.datetime(2026, 11, 5, 6, 43, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 6, 6, 43, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 7, 6, 43, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 2, 6, 43, tzinfo=dt.UTC),
)
DEFAULTS = BudgetConfig()
HISTORY = SourceConfig().history_days
REFETCH = SourceConfig().refetch_days


@dataclass
class Run:
    when: dt.datetime
    code: int
    output: str
    held: set[dt.date]
    jobs: list[ReceivedJob]
    """The billable jobs this run sent."""
    index: str
    history_lists: int = 0
    """jobs.list requests (the month's job history, free) this run sent."""

    @property
    def as_of(self) -> dt.date:
        return self.when.date() - dt.timedelta(days=1)

    @property
    def data_jobs(self) -> list[ReceivedJob]:
        return [j for j in self.jobs if "INFORMATION_SCHEMA" not in j.query]

    @property
    def billed(self) -> int:
        return sum(j.billed_bytes for j in self.jobs)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Run]]:
    now = {"t": MORNINGS[0]}
    tmp = tmp_path_factory.mktemp("backfill")
    config = tmp / "stats.toml"
    with (
        real_scale_fake(
            dt.date(2026, 5, 1),
            dt.date(2026, 12, 2),
            rows_per_day=3000,
            block_rows=6,
            weekend_share=0.7,
            now=lambda: now["t"],
        ) as fake,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(dates, "utc_now", lambda: now["t"])
        names = ", ".join(f'"{p}"' for p in packages(3))
        config.write_text(
            f"[packages]\nnames = [{names}]\n"
            f'[source]\nkind = "bigquery"\nbilling_project = "test-project"\napi_endpoint = "{fake.url}"\n'
            f'[store]\npath = "{tmp / "store.duckdb"}"\n',
            encoding="utf-8",
        )
        out: list[Run] = []
        for when in MORNINGS:
            now["t"] = when
            before, requests_before = len(fake.billable_jobs), len(fake.requests)
            text = io.StringIO()
            with contextlib.redirect_stderr(text):
                code = cli.main(["build", "--config", str(config), "--out", str(tmp / "site")])
            with open_store(tmp / "store.duckdb", read_only=True) as store:
                covered = store.covered_days("bigquery", packages(3), last_days(when.date() - dt.timedelta(1), HISTORY))
            held = set.intersection(*covered.values())
            index = (tmp / "site" / "index.html").read_text(encoding="utf-8")
            lists = sum(1 for r in fake.requests[requests_before:] if r.route == "jobs.list")
            out.append(Run(when, code, text.getvalue(), held, fake.billable_jobs[before:], index, lists))
        yield out


def test_the_first_run_publishes_the_newest_days_and_exits_0(runs: list[Run]) -> None:
    first = runs[0]
    assert first.code == 0, first.output
    assert 0 < len(first.held) < HISTORY
    window = last_days(first.as_of, HISTORY)
    newest = Window(window.end - dt.timedelta(days=len(first.held) - 1), window.end)
    assert first.held == set(newest)  # newest day first, no gap
    assert f"backfill in progress: {len(first.held)} of {HISTORY} days held" in first.output.lower()
    page = " ".join("".join(parse(first.index).text).split())
    assert f"Partial history. Backfill in progress: {len(first.held)} of {HISTORY} days held, the rest over" in page


def test_the_following_runs_go_on_further_back_until_the_history_is_complete(runs: list[Run]) -> None:
    assert [r.code for r in runs] == [0] * len(runs)
    held = [len(r.held) for r in runs]
    assert held == sorted(held) and held[0] < HISTORY and held[-1] == HISTORY, held
    for run in runs:  # the pages and the summary say so exactly while days are missing
        partial = len(run.held) < HISTORY
        assert ("backfill in progress" in run.index.lower()) == partial
        assert ("backfill in progress" in run.output.lower()) == partial


def test_no_run_bills_more_than_its_budget_nor_a_month_more_than_the_monthly_budget(runs: list[Run]) -> None:
    for run in runs:
        assert run.billed <= DEFAULTS.max_bytes_per_run
        assert all((j.maximum_bytes_billed or 0) <= DEFAULTS.max_bytes_per_query for j in run.jobs)
        assert re.search(rf"billed {re.escape(cost.format_bytes(run.billed, 2))} this run", run.output), run.output
    months = Counter()
    for run in runs:
        months[run.when.strftime("%Y-%m")] += run.billed
    assert all(billed <= DEFAULTS.max_bytes_per_month for billed in months.values()), months
    # What makes it work: the ceilings of one run add up to far more than the run budget.
    assert sum(j.maximum_bytes_billed or 0 for j in runs[0].jobs) > 4 * DEFAULTS.max_bytes_per_run


def test_no_day_is_fetched_twice_except_the_latest_refetch_days(runs: list[Run]) -> None:
    fetched: Counter[dt.date] = Counter()
    for run in runs:
        for job in run.data_jobs:
            if job.error_reason is None:
                values = job.param_values
                fetched.update(Window(values["start"], values["end"]))
    refetched = {day for run in runs for day in last_days(run.as_of, REFETCH)}
    assert {day for day, n in fetched.items() if n > 1} <= refetched


def test_only_the_first_run_reads_the_job_history_and_it_bills_nothing(runs: list[Run]) -> None:
    assert [r.history_lists for r in runs] == [1, 0, 0, 0]  # jobs.list: free, no query job
    assert not [j for r in runs for j in r.jobs if "INFORMATION_SCHEMA" in j.query]


def test_the_month_budget_keeps_room_for_the_daily_runs_to_come(runs: list[Run]) -> None:
    first = runs[0]
    assert "[budget].max_bytes_per_month" in first.output  # the month, not the run, set the pace
    # The newest job is a daily run's job: every later run of the month could still start it.
    daily_ceiling = first.data_jobs[0].maximum_bytes_billed or 0
    november = sum(r.billed for r in runs if r.when.month == 11)
    assert november + daily_ceiling <= DEFAULTS.max_bytes_per_month
