"""Cost arithmetic: ceilings as BigQuery bills them, the table model, plan estimates, the budget
check, and the cost page's figures. Pure functions, no BigQuery."""

from __future__ import annotations

import datetime as dt

import pytest

from generator import budget, cost, planview
from generator.config import BREAKDOWNS, BudgetConfig
from generator.dates import Window
from generator.plan import Job, make_plan
from generator.store import LedgerEntry

GIB, MIB, TIB = cost.GIB, cost.MIB, cost.TIB
DAY = dt.date(2026, 10, 1)


def job(days: int = 1, packages: int = 3, breakdowns: tuple[str, ...] = BREAKDOWNS) -> Job:
    return Job(Window(DAY, DAY + dt.timedelta(days=days - 1)), tuple(f"p{i}" for i in range(packages)), breakdowns)


def entry(
    run_id: str,
    *,
    day: dt.date = DAY,
    days: int = 1,
    projects: tuple[str, ...] = ("a", "b"),
    ceiling: int = 100 * GIB,
    billed: int = GIB,
    finished: dt.datetime | None = None,
    source: str = "bigquery",
) -> LedgerEntry:
    return LedgerEntry(
        run_id=run_id,
        job_id=f"job-{run_id}-{day}",
        source=source,
        start_day=day,
        end_day=day + dt.timedelta(days=days - 1),
        projects=projects,
        ceiling_bytes=ceiling,
        bytes_processed=billed,
        bytes_billed=billed,
        dollars=billed / TIB * 6.25,
        finished_at=finished or dt.datetime(2026, 10, 2, 6, 0),
    )


# -- rounding and dollars --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scan", "ceiling"),
    [
        (0, 10 * MIB),  # at least 10 MB per table
        (1, 10 * MIB),
        (9_000_000, 10 * MIB),
        (10 * MIB + 1, 11 * MIB),  # rounded up to the next MiB
        (20_000_001, 21_000_000),  # ... or to the next 10**6 bytes, whichever is larger
        (5 * GIB, 5_369_000_000),  # whole MiB, but not whole 10**6: the MB reading is larger
    ],
)
def test_billed_ceiling_rounds_up_as_bigquery_bills(scan: int, ceiling: int) -> None:
    assert cost.billed_ceiling(scan) == ceiling
    assert cost.billed_ceiling(scan) >= scan


def test_billed_ceiling_counts_the_minimum_per_table() -> None:
    assert cost.billed_ceiling(0, tables=3) == 30 * MIB


@pytest.mark.parametrize(("billed", "price_per_tib", "dollars"), [(TIB, 6.25, 6.25), (TIB // 2, 5.0, 2.5)])
def test_dollars_use_the_configured_price_per_tib(billed: int, price_per_tib: float, dollars: float) -> None:
    assert cost.dollars(billed, price_per_tib) == pytest.approx(dollars)


@pytest.mark.parametrize(
    ("cap", "per_day", "days"),
    [
        (200 * GIB + 10 * MIB, 50 * GIB, 4),
        (200 * GIB, 50 * GIB, 3),  # 4 x 50 GiB rounds up past 200 GiB
        (200 * GIB, 250 * GIB, 1),
        (200 * GIB, 0, 10_000),
        (100 * GIB, 30 * GIB, 3),
    ],
)
def test_max_days_per_job_keeps_each_ceiling_under_the_cap(cap: int, per_day: int, days: int) -> None:
    assert cost.max_days_per_job(cap, per_day) == days
    if per_day and days > 1:
        assert cost.billed_ceiling(days * per_day) <= cap < cost.billed_ceiling((days + 1) * per_day)


def test_plan_splits_a_backfill_so_every_job_fits_the_cap() -> None:
    per_day = cost.model_scan_bytes(job(1))
    cap = 3 * per_day + 10 * MIB
    plan = make_plan(
        ("a", "b"),
        {},
        DAY + dt.timedelta(days=9),
        history_days=10,
        refetch_days=2,
        breakdowns=BREAKDOWNS,
        max_days_per_job=cost.max_days_per_job(cap, per_day),
    )
    estimates = cost.estimate_plan(plan)
    assert [e.days for e in estimates] == [3, 3, 3, 1]
    assert [e.ceiling_bytes for e in estimates if e.ceiling_bytes > cap] == []


# -- the model of the table ----------------------------------------------------------------------
def test_the_model_matches_the_published_facts_and_the_defaults_fit_three_times_it() -> None:
    model = cost.DEFAULT_MODEL
    base = model.column_bytes_per_day("timestamp") + model.column_bytes_per_day("project")
    assert base == pytest.approx(cost.FACT_PROJECT_TIMESTAMP_BYTES_PER_DAY, rel=0.01)  # the Feb 2025 dry run
    one_package = model.scan_bytes(cost.FACT_ONE_PACKAGE_COLUMNS, 30) * model.package_share
    assert one_package == pytest.approx(4.6e9)  # one package, 30 days, four columns ~ 4.6 GB billed
    # A daily run with every breakdown: one day per job fits the per-query cap, and the run and month
    # budgets, even on a table GROWTH_MARGIN times the model.
    day = cost.billed_ceiling(cost.model_scan_bytes(job(1)) * cost.GROWTH_MARGIN)
    limits = BudgetConfig()
    assert budget.budget_refusal(day, limits, budget.Spending()) is None
    assert cost.max_days_per_job(limits.max_bytes_per_query, cost.model_scan_bytes(job(1))) >= 2  # 2 days at 1x


def test_the_ceiling_of_one_scan_does_not_depend_on_the_number_of_packages() -> None:
    one, many = cost.estimate_jobs([job(30, 1), job(30, 100)])
    assert one.ceiling_bytes == many.ceiling_bytes
    assert one.expected_bytes < many.expected_bytes <= many.ceiling_bytes
    assert one.scan_basis == "model"
    assert "model" in one.expected_basis


def test_dropping_a_breakdown_cuts_the_modelled_ceiling_by_its_column() -> None:
    full = cost.model_scan_bytes(job(1))
    without_country = cost.model_scan_bytes(job(1, breakdowns=tuple(b for b in BREAKDOWNS if b != "country")))
    assert full - without_country == cost.DEFAULT_MODEL.column_bytes_per_day("country_code")
    without_python = cost.model_scan_bytes(job(1, breakdowns=tuple(b for b in BREAKDOWNS if b != "python_minor")))
    assert without_python == full  # details.python is read for the malformed-python flag anyway


@pytest.mark.parametrize(
    ("breakdowns", "os_column_read"),
    [
        (("distro",), True),  # distro rows carry the OS: the OS column is read without the OS breakdown
        (("system",), True),
        (("system", "distro"), True),
        (("country",), False),
    ],
)
def test_the_os_column_is_priced_whenever_distro_rows_need_it(
    breakdowns: tuple[str, ...], os_column_read: bool
) -> None:
    assert ("details.system.name" in cost.columns_read(breakdowns)) is os_column_read
    alone = cost.model_scan_bytes(job(1, breakdowns=breakdowns))
    without = cost.model_scan_bytes(job(1, breakdowns=()))
    os_bytes = cost.DEFAULT_MODEL.column_bytes_per_day("details.system.name")
    assert (alone - without >= os_bytes) is os_column_read


def test_distro_is_priced_with_the_os_it_reads_and_says_the_os_is_billed_once() -> None:
    costs = {c.name: c for c in cost.column_costs(("distro",), price_per_tib=6.25)}
    model = cost.DEFAULT_MODEL
    assert costs["distro"].bytes_per_day == model.column_bytes_per_day("details.distro.name") + (
        model.column_bytes_per_day("details.system.name")
    )
    assert "details.system.name also read by system" in costs["distro"].note
    assert "details.system.name also read by distro" in costs["system"].note


def test_column_costs_say_what_each_breakdown_adds() -> None:
    costs = {c.name: c for c in cost.column_costs(("country", "version"), price_per_tib=6.25)}
    assert costs["base"].selected
    assert costs["base"].bytes_per_day == cost.model_column_bytes()["base"]
    assert costs["country"].selected
    assert not costs["system"].selected
    assert costs["country"].columns == ("country_code",)
    assert costs["python_minor"].bytes_per_day == 0
    assert "malformed" in costs["python_minor"].note
    assert costs["file_type"].dollars_per_day == pytest.approx(cost.dollars(costs["file_type"].bytes_per_day, 6.25))
    measured = {"base": 100, **{b: 7 for b in BREAKDOWNS}}
    assert cost.column_costs((), price_per_tib=1, measured=measured)[1].bytes_per_day == 7


# -- expected bill from the ledger ------------------------------------------------------------------
def test_the_expected_bill_comes_from_the_ledger_when_there_is_one() -> None:
    ledger = [entry("r1", projects=("a", "b"), ceiling=100 * GIB, billed=2 * GIB)]
    share, basis = cost.expected_share(ledger, 2)
    assert share == pytest.approx(0.02)
    assert "ledger" in basis
    assert cost.expected_share(ledger, 4)[0] == pytest.approx(0.04)  # scaled per package
    assert cost.expected_share(ledger, 1000)[0] == 1.0  # never above the ceiling
    (estimate,) = cost.estimate_jobs([job(1, 2)], [100 * GIB], ledger)
    assert estimate.scan_basis == "dry run"
    assert estimate.expected_bytes == cost.billed_ceiling(2 * GIB)
    assert cost.expected_share([entry("x", source="local")], 2)[1].startswith("model")


# -- the budget ---------------------------------------------------------------------------------------
BUDGET = BudgetConfig(max_bytes_per_query=100 * GIB, max_bytes_per_run=300 * GIB, max_bytes_per_month=TIB)


@pytest.mark.parametrize(
    ("ceiling", "spending", "setting", "needed"),
    [
        (100 * GIB, budget.Spending(), None, 0),  # exactly the per-query cap fits
        (100 * GIB + 1, budget.Spending(), budget.SETTING_PER_QUERY, 100 * GIB + 1),
        (100 * GIB, budget.Spending(run_billed=200 * GIB), None, 0),  # billed + ceiling = the run budget
        (100 * GIB, budget.Spending(run_billed=150 * GIB, run_unknown=60 * GIB), budget.SETTING_PER_RUN, 310 * GIB),
        (50 * GIB, budget.Spending(month_billed=TIB - 40 * GIB), budget.SETTING_PER_MONTH, TIB + 10 * GIB),
        (
            50 * GIB,
            budget.Spending(month_billed=500 * GIB, month_unknown=500 * GIB),
            budget.SETTING_PER_MONTH,
            1050 * GIB,
        ),
    ],
)
def test_a_job_may_start_when_what_is_counted_plus_its_ceiling_fits_every_budget(
    ceiling: int, spending: budget.Spending, setting: str | None, needed: int
) -> None:
    refusal = budget.budget_refusal(ceiling, BUDGET, spending)
    assert (refusal.setting, refusal.needed) == (setting, needed) if refusal else setting is None


# -- pacing the month --------------------------------------------------------------------------------
# Three small packages at the real table's scale: a daily run's ceiling ~200 GiB, its bill ~7 GiB.
DAILY = budget.MonthPace(daily_ceiling=200 * GIB, daily_expected=7 * GIB, today=dt.date(2026, 11, 5))


@pytest.mark.parametrize(
    ("today", "runs_left", "reserve"),
    [
        (dt.date(2026, 11, 5), 25, 375 * GIB),  # one daily ceiling + 25 daily bills still to come
        (dt.date(2026, 11, 1), 29, 403 * GIB),
        (dt.date(2026, 11, 30), 0, 200 * GIB),  # the month's last day: one ceiling, no daily run to come
        (dt.date(2026, 12, 31), 0, 200 * GIB),
    ],
)
def test_the_pace_keeps_room_for_each_daily_run_still_to_come_and_one_daily_ceiling(
    today: dt.date, runs_left: int, reserve: int
) -> None:
    pace = budget.MonthPace(200 * GIB, 7 * GIB, today)
    assert (pace.runs_left, pace.reserve) == (runs_left, reserve)


@pytest.mark.parametrize(
    ("month_billed", "expected", "paced"),
    [
        (100 * GIB, 21 * GIB, False),  # 100 + 21 + 375 fit 1 TiB
        (628 * GIB, 21 * GIB, False),  # 628 + 21 + 375 = 1024: exactly fits
        (629 * GIB, 21 * GIB, True),  # one GiB more and the job waits for next month
    ],
)
def test_a_backfill_job_keeps_the_months_pace_on_its_expected_bill(
    month_billed: int, expected: int, paced: bool
) -> None:
    refusal = budget.pace_refusal(expected, BudgetConfig(), budget.Spending(month_billed=month_billed), DAILY)
    assert (refusal is not None) == paced
    if refusal is not None:
        assert refusal.paced
        assert refusal.setting == budget.SETTING_PER_MONTH
        assert "remaining daily run" in budget.pace_message(refusal, "job X", DAILY)


def test_the_pace_never_counts_a_backfill_ceiling_and_a_daily_ceiling_together() -> None:
    """A 3-day backfill job (ceiling ~600 GiB, bill ~21 GiB) 400 GiB into the month: the guarantee checks
    its own ceiling (1000 GiB fit 1 TiB), the pace its expected bill beside one daily ceiling. Counting
    both ceilings (400 + 375 + 600 GiB) would refuse it, as the rule before did."""
    spending = budget.Spending(month_billed=400 * GIB)
    assert budget.budget_refusal(600 * GIB, BudgetConfig(), spending) is None
    assert budget.pace_refusal(21 * GIB, BudgetConfig(), spending, DAILY) is None
    assert spending.month + DAILY.reserve + 600 * GIB > BudgetConfig().max_bytes_per_month


@pytest.mark.parametrize(("as_of_back", "paced"), [(0, False), (1, True), (40, True)])
def test_only_the_daily_job_that_holds_the_newest_day_is_not_paced(as_of_back: int, paced: bool) -> None:
    as_of = dt.date(2026, 11, 4)
    assert budget.is_paced(as_of - dt.timedelta(days=as_of_back), as_of) is paced


def play_november(bill_factor: float) -> tuple[int, list[dt.date]]:
    """One run each morning from 5 November, by the build's rules: the daily job (headline, unpaced),
    then 3-day backfill jobs while they fit the budgets and the month's pace. Every job bills
    `bill_factor` x what the tool expects. Returns the month's bill and the days whose daily run was refused."""
    limits = BudgetConfig()
    spending = budget.Spending()
    refused: list[dt.date] = []
    backfill_left = 50
    for day in (dt.date(2026, 11, 5) + dt.timedelta(days=i) for i in range(26)):
        spending.run_billed = spending.run_unknown = 0  # a new run
        pace = budget.MonthPace(200 * GIB, 7 * GIB, day)
        if budget.budget_refusal(pace.daily_ceiling, limits, spending) is not None:
            refused.append(day)  # not even the newest day fits: exit 3, nothing billed
            continue
        spending.started(pace.daily_ceiling)
        spending.settled(pace.daily_ceiling, round(7 * GIB * bill_factor))
        while backfill_left:
            if budget.budget_refusal(600 * GIB, limits, spending) or budget.pace_refusal(
                21 * GIB, limits, spending, pace
            ):
                break
            spending.started(600 * GIB)
            spending.settled(600 * GIB, round(21 * GIB * bill_factor))
            backfill_left -= 1
        assert spending.month <= limits.max_bytes_per_month  # the guarantee, whatever the bills
    return spending.month_billed, refused


def test_when_bills_match_expectations_every_daily_run_of_the_month_runs() -> None:
    billed, refused = play_november(1.0)
    assert refused == []
    assert billed <= BudgetConfig().max_bytes_per_month


def test_when_jobs_bill_more_than_expected_the_months_last_daily_runs_are_refused_never_overspent() -> None:
    """What the README says: the guarantee holds, and the room runs out early; the last daily runs of the
    month find not even the newest day's ceiling fits, are refused before billing, and the next month's
    first run fetches the days they missed."""
    billed, refused = play_november(3.0)  # every job bills three times what the tool expects
    assert billed <= BudgetConfig().max_bytes_per_month
    assert refused[-1:] == [dt.date(2026, 11, 30)]  # the month's last days
    assert refused == [refused[0] + dt.timedelta(days=i) for i in range(len(refused))]


def test_a_started_job_counts_at_its_ceiling_until_its_bill_is_known() -> None:
    spending = budget.Spending()
    spending.started(100 * GIB)
    assert (spending.run, spending.month) == (100 * GIB, 100 * GIB)
    spending.settled(100 * GIB, 2 * GIB)
    assert (spending.run, spending.month, spending.run_unknown) == (2 * GIB, 2 * GIB, 0)


def test_the_refusal_when_not_even_the_newest_day_fits_gives_the_exact_value() -> None:
    refusal = budget.budget_refusal(TIB + 1, BudgetConfig(max_bytes_per_query=2 * TIB), budget.Spending())
    assert refusal is not None
    text = budget.refusal_message(refusal, "The newest day", expected=GIB, price_per_tib=6.25, first=True)
    assert f"Set [budget].max_bytes_per_run = {TIB + 1} or more ({TIB + 1} bytes (1,024.00 GiB))" in text
    assert "1.0 TiB, which does not fit [budget].max_bytes_per_run = 1.0 TiB" not in text  # no rounding to equal


def test_runs_needed_counts_expected_bills_against_the_run_budget() -> None:
    estimates = cost.estimate_jobs([job(1)] * 10, [90 * GIB] * 10, [entry("r", ceiling=100 * GIB, billed=10 * GIB)])
    assert estimates[0].expected_bytes < 90 * GIB
    assert budget.backfill_pace(estimates, BUDGET) == budget.Pace(1, 1)  # ten ceilings of 90 GiB, but bills are small
    assert budget.backfill_pace(estimates, BudgetConfig(max_bytes_per_query=80 * GIB)).runs is None


LAST_DAY_OF_MONTH = dt.date(2026, 11, 30)


@pytest.mark.parametrize(
    ("per_month", "pace", "as_of", "expected"),
    [
        (TIB, None, None, budget.Pace(1, 1)),  # the month has room for every job
        (
            140 * GIB,
            None,
            None,
            budget.Pace(3, 3),
        ),  # 4 jobs a month: 3 bills of 13.5 GiB + a 90 GiB ceiling fit, 4 do not
        # Backfill jobs (60 days back) keep the pace: 13.5 GiB + 90 GiB kept for a daily ceiling: 3 jobs a month.
        (140 * GIB, budget.MonthPace(90 * GIB, 0, LAST_DAY_OF_MONTH), DAY + dt.timedelta(days=60), budget.Pace(4, 4)),
        # The daily job (it holds the newest day) is not paced: the guarantee alone, as without a pace.
        (140 * GIB, budget.MonthPace(90 * GIB, 0, LAST_DAY_OF_MONTH), DAY, budget.Pace(3, 3)),
        # A month of daily runs (30 x 2 GiB) + one daily ceiling leaves a fresh month no room: never done.
        (
            140 * GIB,
            budget.MonthPace(90 * GIB, 2 * GIB, LAST_DAY_OF_MONTH),
            DAY + dt.timedelta(days=60),
            budget.Pace(None, 1),
        ),
    ],
)
def test_the_monthly_budget_paces_the_backfill(
    per_month: int, pace: budget.MonthPace | None, as_of: dt.date | None, expected: budget.Pace
) -> None:
    """Expected bills alone fit one month (10 x 13.5 GiB); the next job's ceiling, or the month's pace, is
    what waits for the next month."""
    estimates = cost.estimate_jobs([job(1)] * 10, [90 * GIB] * 10, [entry("r", ceiling=100 * GIB, billed=10 * GIB)])
    off = [e.expected_bytes for e in estimates if not 13.5 * GIB <= e.expected_bytes < 13.6 * GIB]
    assert off == []  # the bill rounded up to MB
    limits = BudgetConfig(max_bytes_per_month=per_month)
    assert budget.backfill_pace(estimates, limits, pace=pace, as_of=as_of) == expected


def test_describe_plan_groups_identical_jobs_and_says_the_runs_needed() -> None:
    limits = BudgetConfig()
    estimates = cost.estimate_jobs([job(1)] * 5 + [job(2)])
    verdict = budget.plan_verdict(estimates, limits, budget.Spending())
    lines = planview.describe_plan(estimates, cost.column_costs(BREAKDOWNS, price_per_tib=6.25), limits, verdict)
    text = "\n".join(lines)
    assert "model of the table" in text
    assert "estimate" in text
    assert "country_code" in text
    assert sum(line.lstrip().startswith("5x") for line in lines) == 1
    assert "Runs needed for the whole history at this budget: about" in text
    assert "REFUSED" not in text
    tight = BudgetConfig(max_bytes_per_run=GIB)
    refused = planview.describe_plan(estimates, [], tight, budget.plan_verdict(estimates, tight, budget.Spending()))
    assert any(line.startswith("REFUSED:") and "Not even the newest day fits" in line for line in refused)
    nothing = planview.describe_plan([], [], limits, verdict)
    assert nothing == ["Nothing to fetch: the store already holds every day and package."]


# -- the cost page ------------------------------------------------------------------------------------
def test_cost_summary_per_run_month_cumulative_and_daily_run_per_package() -> None:
    backfill = [
        entry("backfill", day=DAY + dt.timedelta(days=3 * i), days=3, ceiling=300 * GIB, billed=3 * GIB)
        for i in range(3)
    ]
    daily = [
        entry(f"daily-{i}", day=dt.date(2026, 11, i), days=2, finished=dt.datetime(2026, 11, i, 6), billed=GIB)
        for i in (1, 2)
    ]
    other = [entry("local", source="local", billed=0)]
    summary = cost.cost_summary(backfill + daily + other, 6.25)
    assert [r.label for r in summary.runs] == ["daily-2", "daily-1", "backfill"]
    assert [m.label for m in summary.months] == ["2026-11", "2026-10"]
    assert (summary.cumulative.jobs, summary.cumulative.billed_bytes) == (5, 11 * GIB)
    assert summary.cumulative.days == 9 + 3  # distinct days: 9 backfilled, 11-01..11-03
    assert summary.cumulative.ceiling_dollars == pytest.approx(cost.dollars(1100 * GIB, 6.25))
    assert summary.daily_run is not None
    assert summary.daily_run.runs == 2
    assert summary.daily_run.per_package("billed_bytes") == pytest.approx(GIB / 2)
    assert summary.daily_run.per_package("ceiling_bytes") == pytest.approx(50 * GIB)
    assert summary.daily_run.per_package("dollars") == pytest.approx(cost.dollars(GIB, 6.25) / 2)
    assert any("free" in note for note in summary.notes)


def test_package_cost_splits_each_job_evenly_and_says_so() -> None:
    ledger = [
        entry("r1", projects=("a", "b"), billed=2 * GIB, ceiling=10 * GIB),
        entry("r2", projects=("a", "b", "c", "d"), billed=4 * GIB, ceiling=20 * GIB),
    ]
    a, c, z = (cost.package_cost(ledger, p) for p in ("a", "c", "z"))
    assert (a.jobs, a.billed_bytes, a.ceiling_bytes) == (2, 2 * GIB, 10 * GIB)
    assert (c.jobs, c.billed_bytes) == (1, GIB)
    assert (z.jobs, z.dollars) == (0, 0)
    assert "split evenly" in a.note


def test_format_helpers() -> None:
    assert cost.format_bytes(22.4 * GIB) == "22.4 GiB"
    assert cost.format_bytes(3 * TIB) == "3.0 TiB"
    assert cost.format_bytes(512) == "512 B"
    assert cost.format_dollars(1234.5) == "$1,234.50"
    assert cost.format_dollars(0.0012) == "$0.0012"
