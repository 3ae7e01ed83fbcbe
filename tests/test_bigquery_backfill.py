"""A new maintainer: a 3-package BigQuery site with the default settings, on the fake at the real table's scale.

Each stored event stands for about a million real ones, so one day with every breakdown has a
guaranteed ceiling of ~200 GiB and three small packages bill ~7 GiB a day, as the cost model puts
the public table (tests/fakes/scale.py). The runs happen on consecutive mornings and then next
month, with one clock for the tool, its ledger and the fake: the first run holds the 30 newest
days and exits 0, the next runs go on further back at the month budget's pace, and the pages say
how far the backfill is until it is complete. No run bills more than its budgets; a held day is
billed again only when its partition changed (PyPI's late rows for an old day, landed before run 3).
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
RELOADED = dt.date(2026, 9, 25)
"""An old day, held after the first run, whose partition gets late rows before the third run."""
LATE_ROWS = [{"timestamp": "2026-09-25 12:00:00 UTC", "project": "p20", "details": {"installer": {"name": "pip"}}}] * 5


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
    plan: str = ""
    """What `plan` says after the first run (the others: not asked)."""

    @property
    def as_of(self) -> dt.date:
        return self.when.date() - dt.timedelta(days=1)

    @property
    def data_jobs(self) -> list[ReceivedJob]:
        return [j for j in self.jobs if "INFORMATION_SCHEMA" not in j.query]

    @property
    def billed(self) -> int:
        return sum(j.billed_bytes for j in self.jobs)

    @property
    def fetched(self) -> Counter[dt.date]:
        """Days the run's successful data jobs billed, with how many times."""
        days: Counter[dt.date] = Counter()
        for job in self.data_jobs:
            if job.error_reason is None:
                days.update(Window(job.param_values["start"], job.param_values["end"]))
        return days


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
            block_rows=48,  # coarse cluster blocks: three small packages bill ~7 GiB a day (the figure)
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
            if when == MORNINGS[2]:
                now["t"] = when - dt.timedelta(hours=12)
                assert fake.append_events(LATE_ROWS) == [RELOADED]
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
            plan = io.StringIO()
            if not out:
                with contextlib.redirect_stdout(plan), contextlib.redirect_stderr(io.StringIO()):
                    cli.main(["plan", "--config", str(config)])
            out.append(
                Run(when, code, text.getvalue(), held, fake.billable_jobs[before:], index, lists, plan.getvalue())
            )
        yield out


def test_the_first_run_holds_the_30_newest_days_and_exits_0(runs: list[Run]) -> None:
    first = runs[0]
    assert first.code == 0, first.output
    assert 30 <= len(first.held) < HISTORY, len(first.held)  # at least the headline's 30 newest days
    window = last_days(first.as_of, HISTORY)
    newest = Window(window.end - dt.timedelta(days=len(first.held) - 1), window.end)
    assert first.held == set(newest)  # newest day first, no gap
    assert f"backfill in progress: {len(first.held)} of {HISTORY} days held" in first.output.lower()
    page = " ".join("".join(parse(first.index).text).split())
    assert f"Partial history. Backfill in progress: {len(first.held)} of {HISTORY} days held, the rest over" in page


def test_the_second_run_holds_more_and_bills_no_held_day_again(runs: list[Run]) -> None:
    first, second = runs[0], runs[1]
    assert second.code == 0, second.output
    assert len(second.held) > len(first.held)
    assert not set(second.fetched) & first.held, sorted(set(second.fetched) & first.held)
    assert first.billed + second.billed <= DEFAULTS.max_bytes_per_month


def test_the_steady_state_daily_run_bills_one_new_day(runs: list[Run]) -> None:
    """Run 3, with November's pace used up: its daily job bills yesterday only, not two days."""
    third = runs[2]
    assert third.code == 0, third.output
    assert dict(third.fetched) == {third.as_of: 1}
    assert third.data_jobs[0].param_values["start"] == third.as_of


def test_a_changed_old_partition_is_refetched_and_no_other_held_day(runs: list[Run]) -> None:
    """PyPI's late rows for an old held day change its partition before run 3; a refetch of an old day is
    a backfill job and keeps the month's pace, so December's first run fetches it again, with the rows."""
    third, december = runs[2], runs[3]
    assert RELOADED in third.held
    assert set(december.fetched) & third.held == {RELOADED}


def test_the_following_runs_go_on_further_back_until_the_history_is_complete(runs: list[Run]) -> None:
    assert [r.code for r in runs] == [0] * len(runs)
    held = [len(r.held) for r in runs]
    assert held == sorted(held)
    assert held[0] < HISTORY, held
    assert held[-1] == HISTORY, held
    for run in runs:  # the pages and the summary say so exactly while days are missing
        partial = len(run.held) < HISTORY
        assert ("backfill in progress" in run.index.lower()) == partial
        assert ("backfill in progress" in run.output.lower()) == partial


def test_no_run_bills_more_than_its_budget_nor_a_month_more_than_the_monthly_budget(runs: list[Run]) -> None:
    for run in runs:
        assert run.billed <= DEFAULTS.max_bytes_per_run
        capped = [j.maximum_bytes_billed or 0 for j in run.jobs]
        assert [c for c in capped if c > DEFAULTS.max_bytes_per_query] == []
        assert re.search(rf"billed {re.escape(cost.format_bytes(run.billed, 2))} this run", run.output), run.output
    months = Counter()
    for run in runs:
        months[run.when.strftime("%Y-%m")] += run.billed
    assert {m: b for m, b in months.items() if b > DEFAULTS.max_bytes_per_month} == {}
    # What makes it work: the ceilings of one run add up to far more than the run budget.
    assert sum(j.maximum_bytes_billed or 0 for j in runs[0].jobs) > 4 * DEFAULTS.max_bytes_per_run


def test_no_held_day_is_billed_again_unless_its_partition_changed(runs: list[Run]) -> None:
    fetched: Counter[dt.date] = Counter()
    for run in runs:
        fetched.update(run.fetched)
    assert {day for day, n in fetched.items() if n > 1} <= {RELOADED}


def test_only_the_first_run_reads_the_job_history_and_it_bills_nothing(runs: list[Run]) -> None:
    assert [r.history_lists for r in runs] == [1, 0, 0, 0]  # jobs.list: free, no query job
    assert not [j for r in runs for j in r.jobs if "JOBS_BY_USER" in j.query]


def test_every_run_reads_partition_metadata_once_at_its_minimum_bill(runs: list[Run]) -> None:
    partitions = [[j for j in r.jobs if "INFORMATION_SCHEMA.PARTITIONS" in j.query] for r in runs]
    assert [len(p) for p in partitions] == [1] * len(runs)
    assert [p[0].billed_bytes for p in partitions] == [cost.MIN_BILLED_PER_TABLE] * len(runs)


def test_the_month_budget_paces_the_backfill_and_keeps_room_for_the_daily_runs_to_come(runs: list[Run]) -> None:
    paced = [r for r in runs if "paced by [budget].max_bytes_per_month" in r.output]
    assert paced, [r.output for r in runs]  # the month, not only the run, set the pace
    # The newest job is a daily run's job: every later run of the month could still start it.
    daily_ceiling = runs[1].data_jobs[0].maximum_bytes_billed or 0
    november = sum(r.billed for r in runs if r.when.month == 11)
    assert november + daily_ceiling <= DEFAULTS.max_bytes_per_month


def test_plan_says_how_many_runs_and_months_the_rest_takes(runs: list[Run]) -> None:
    text = " ".join(runs[0].plan.split())
    found = re.search(
        r"Runs needed for the whole history at this budget: about (\d+), over about (\d+) calendar months", text
    )
    assert found, text
    # The runs below take November's pace, then December; the plan, pricing each day at the ledger's
    # ratio so far, is on the safe side: never fewer months than the runs take, at most one more.
    assert int(found.group(2)) in (2, 3)
    assert "held days are fetched again only when their partition changed" in text
