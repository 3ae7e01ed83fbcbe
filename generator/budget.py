"""The budget rule: whether a BigQuery job may start, and the month's pace for a backfill.

`budget_refusal` is the guarantee (billed so far + unknown outcomes at their ceiling + this job's ceiling
fit each budget); `pace_refusal` is the softer rule that keeps the month's room for its daily runs;
`backfill_pace` plays the same rules over a whole plan (runs and months), `refusal_message` and
`pace_message` say in one line what was refused and what to set. Pure functions on generator.cost's
figures: no network, no store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from generator import cost
from generator.config import BudgetConfig, Config
from generator.cost import (
    JobEstimate,
    billed_ceiling,
    dollars,
    format_apart,
    format_bytes,
    format_dollars,
    format_exact,
)
from generator.dates import Window
from generator.plan import Job
from generator.store import LedgerEntry

# -- the budget rule -----------------------------------------------------------------------------
SETTING_PER_QUERY = "[budget].max_bytes_per_query"
SETTING_PER_RUN = "[budget].max_bytes_per_run"
SETTING_PER_MONTH = "[budget].max_bytes_per_month"


@dataclass
class Spending:
    """What counts against the budgets: bytes billed, plus the full ceiling of every job whose
    outcome is not known (its result was lost, or a run was killed while it ran)."""

    run_billed: int = 0
    run_unknown: int = 0
    month_billed: int = 0
    month_unknown: int = 0
    month_counted: bool = False
    """The month's spend before this run has been counted in (the build does it once, before the first job)."""

    @property
    def run(self) -> int:
        return self.run_billed + self.run_unknown

    @property
    def month(self) -> int:
        return self.month_billed + self.month_unknown

    def started(self, ceiling: int) -> None:
        """A job was started: until its bill is known it counts at its ceiling."""
        self.run_unknown += ceiling
        self.month_unknown += ceiling

    def settled(self, ceiling: int, billed: int) -> None:
        """A started job's bill is known."""
        self.run_unknown -= ceiling
        self.month_unknown -= ceiling
        self.run_billed += billed
        self.month_billed += billed


@dataclass(frozen=True)
class Refusal:
    """A job that does not fit one budget, and the exact value that budget would need."""

    setting: str
    limit: int
    counted: int
    """Already counted against this budget: billed, unknown outcomes at their ceiling (and, when paced,
    the room kept for the month's remaining daily runs)."""
    ceiling: int
    """The job's guaranteed ceiling; when paced, its expected bill (what the pace counts)."""
    paced: bool = False
    """Refused by the month's pace, not by a budget: the job would fit, but would take the room kept
    for the month's remaining daily runs. A backfill stops there cleanly; it is never an error."""

    @property
    def needed(self) -> int:
        """The least value of `setting` that lets this job run now."""
        return self.counted + self.ceiling


def budget_refusal(ceiling: int, budget: BudgetConfig, spending: Spending) -> Refusal | None:
    """The one budget rule: the first budget a job with this guaranteed ceiling does not fit (None: it may run).

    Counted so far + this job's ceiling must fit each budget. BigQuery refuses, at no charge, a job
    whose estimate is above its maximum_bytes_billed (= the ceiling), so this is a true guarantee;
    the sum of every ceiling of a plan need not fit. Pacing (`pace_refusal`) is a separate, softer
    rule on top of it for backfill jobs; the guarantee itself never counts two ceilings at once.
    """
    for setting, limit, counted in (
        (SETTING_PER_QUERY, budget.max_bytes_per_query, 0),
        (SETTING_PER_RUN, budget.max_bytes_per_run, spending.run),
        (SETTING_PER_MONTH, budget.max_bytes_per_month, spending.month),
    ):
        if counted + ceiling > limit:
            return Refusal(setting, limit, counted, ceiling)
    return None


# -- pacing the month -----------------------------------------------------------------------------
# The guarantee above holds job by job. Pacing keeps a backfill from spending, early in the month,
# the room the month's daily runs will need: a backfill job may start only when
#   the month's bill so far (unknown outcomes at their ceiling) + this job's EXPECTED bill
#   + the EXPECTED bill of each daily run still to come this month + ONE daily run's CEILING
# fit [budget].max_bytes_per_month. It reasons on expected bills plus a single ceiling: a backfill
# job's ceiling and a daily job's ceiling are never counted together, since they never run together
# (the guarantee checks each job's own ceiling when it starts). Only the daily job, the one that holds
# the newest day, is not paced: it runs under the guarantee alone. Jobs run newest day first, so the
# headline's 30 newest days come before older ones.
#
# If jobs bill more than expected, nothing goes over any budget (the guarantee still checks every
# job); the month's room simply runs out early: its last daily runs find that not even the newest
# day's ceiling fits what is left, are refused before anything is billed (NewestDayDoesNotFit, exit
# 3, "or wait for next month"), and the site keeps its last published days until the month turns;
# the first run of the next month fetches the days missed. tests/test_cost.py plays such a month.
def next_month_start(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class MonthPace:
    """What pacing keeps free in the month (UTC) for its daily runs still to come."""

    daily_ceiling: int
    """One daily run's guaranteed ceiling: the next daily run must be allowed to start."""
    daily_expected: int
    """One daily run's expected bill."""
    today: dt.date

    @property
    def runs_left(self) -> int:
        """Daily runs still to come this month: one each day after today."""
        return (next_month_start(self.today) - self.today).days - 1

    @property
    def reserve(self) -> int:
        return self.daily_ceiling + self.runs_left * self.daily_expected

    def next_month(self) -> MonthPace:
        """The same daily run, on the first day of the next month."""
        return MonthPace(self.daily_ceiling, self.daily_expected, next_month_start(self.today))


def pace_refusal(expected: int, budget: BudgetConfig, spending: Spending, pace: MonthPace) -> Refusal | None:
    """The month's pace for a backfill job with this expected bill (None: it may start). See above."""
    counted = spending.month + pace.reserve
    if counted + expected > budget.max_bytes_per_month:
        return Refusal(SETTING_PER_MONTH, budget.max_bytes_per_month, counted, expected, paced=True)
    return None


def is_paced(window_end: dt.date, as_of: dt.date) -> bool:
    """A job is paced unless it is the daily job: the one that holds the newest day (the as-of date)."""
    return window_end < as_of


def pace_message(refusal: Refusal, what: str, pace: MonthPace) -> str:
    """One line: why a backfill job waits (the month's pace), and what would let it run sooner."""
    kept = format_bytes(pace.reserve)
    return (
        f"{what} waits for the month's pace: its expected bill ~ {format_bytes(refusal.ceiling)}, with "
        f"{format_bytes(refusal.counted - pace.reserve, 2)} counted this month and {kept} kept for the month's "
        f"{pace.runs_left} remaining daily run(s) (their expected bills and one daily run's ceiling), does not fit "
        f"{SETTING_PER_MONTH} = {format_bytes(refusal.limit)}; the backfill goes on next month, or raise it"
    )


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def refusal_message(refusal: Refusal, what: str, *, expected: int, price_per_tib: float, first: bool) -> str:
    """One line: which budget the job does not fit, and the exact value to set (when nothing was fetched)."""
    ceiling, limit = format_apart(refusal.ceiling, refusal.limit)
    counted = format_bytes(refusal.counted, 2) if refusal.counted else ""
    head = (
        f"{what} has a guaranteed ceiling of {ceiling} ({format_dollars(dollars(refusal.ceiling, price_per_tib))};"
        f" expected actual bill ~ {format_bytes(expected)}), which does not fit {refusal.setting} = {limit}"
        + (f" with {counted} already counted" if counted else "")
    )
    if not first:
        return head
    advice = f"Set {refusal.setting} = {refusal.needed} or more ({format_exact(refusal.needed)})"
    if refusal.setting == SETTING_PER_MONTH:
        advice += " or wait for next month"
    else:
        advice += ", or drop breakdowns from [source].breakdowns (`plan` shows what each adds)"
    return f"{head}. Not even the newest day fits: {advice}. Nothing was run."


@dataclass(frozen=True)
class Pace:
    """How long fetching a whole plan takes under the budget."""

    runs: int | None
    """Runs needed (None: some job never fits any run)."""
    months: int
    """Calendar months those runs span, paced by the monthly budget."""


def backfill_pace(
    estimates: Sequence[JobEstimate],
    budget: BudgetConfig,
    *,
    pace: MonthPace | None = None,
    as_of: dt.date | None = None,
    month_billed: int = 0,
) -> Pace:
    """Runs and months that fetch every job, newest first, by the rules the build applies.

    A run takes jobs while its expected bill so far plus the next job's ceiling fits the per-run
    budget; a month takes them while its expected bill so far (from `month_billed`) plus the next job's
    ceiling fits the monthly budget and, for a job without the newest day (with `pace` and `as_of`),
    while the month's pace has room for its expected bill. A job the month has no room for
    waits for the next month (and so for a new run): the month, not the run, often sets the pace.
    """
    runs, months = 0, 1
    run_billed: int | None = None
    current = pace
    limit = min(budget.max_bytes_per_query, budget.max_bytes_per_run, budget.max_bytes_per_month)

    def month_fits(e: JobEstimate, billed: int, month: MonthPace | None) -> bool:
        if billed + e.ceiling_bytes > budget.max_bytes_per_month:
            return False
        if month is None or as_of is None or not is_paced(e.job.window.end, as_of):
            return True
        return billed + e.expected_bytes + month.reserve <= budget.max_bytes_per_month

    todo = list(estimates)
    while todo:
        e = todo.pop(0)
        if e.ceiling_bytes > limit:
            return Pace(None, months)
        run_full = run_billed is not None and run_billed + e.ceiling_bytes > budget.max_bytes_per_run
        if e.days > 1 and (run_full or not month_fits(e, month_billed, current)):
            todo[:0] = _per_day(e)  # as the build does: a job that does not fit is split before the run stops
            continue
        if not month_fits(e, month_billed, current):
            upcoming = current.next_month() if current is not None else None
            if not month_fits(e, 0, upcoming):
                return Pace(None, months)  # not even a fresh month has room for it
            months, month_billed, run_billed, current = months + 1, 0, None, upcoming
        if run_billed is None or run_billed + e.ceiling_bytes > budget.max_bytes_per_run:
            runs, run_billed = runs + 1, 0
        run_billed += e.expected_bytes
        month_billed += e.expected_bytes
    return Pace(runs, months)


def _per_day(e: JobEstimate) -> list[JobEstimate]:
    """A job's estimate as one per day, newest first (ceiling and bill shared evenly)."""
    days = e.days
    out = []
    for day in reversed(list(e.job.window)):
        job = dataclasses.replace(e.job, window=Window(day, day))
        out.append(
            dataclasses.replace(
                e,
                job=job,
                scan_bytes=-(-e.scan_bytes // days),
                ceiling_bytes=billed_ceiling(-(-e.scan_bytes // days)),
                expected_bytes=-(-e.expected_bytes // days),
            )
        )
    return out


@dataclass(frozen=True)
class PlanVerdict:
    """What the budget says about a plan before anything runs (the `plan` command's answer)."""

    refusal: Refusal | None
    """Set when not even the newest job fits: the build would run nothing."""
    pace: Pace
    """Runs and months the whole plan takes."""


def plan_verdict(
    estimates: Sequence[JobEstimate],
    budget: BudgetConfig,
    spending: Spending,
    *,
    pace: MonthPace | None = None,
    as_of: dt.date | None = None,
) -> PlanVerdict:
    """Whether the newest job fits now, and how many runs and months the whole plan takes.

    A plan whose newest job is a backfill job (the newest day held) is never refused: a build stops
    cleanly there when the month has no room, and goes on next month."""
    backfill = bool(estimates) and as_of is not None and is_paced(estimates[0].job.window.end, as_of)
    refusal = budget_refusal(estimates[0].ceiling_bytes, budget, spending) if estimates and not backfill else None
    return PlanVerdict(refusal, backfill_pace(estimates, budget, pace=pace, as_of=as_of, month_billed=spending.month))


def daily_pace(
    cfg: Config,
    source: object | None,
    as_of: dt.date,
    today: dt.date,
    ledger: Sequence[LedgerEntry],
    *,
    metadata: bool = True,
) -> MonthPace:
    """What pacing keeps for one daily run this month: the daily job's ceiling (dry runs, or the model
    without a source) and its expected bill (the ledger, else the model), each the dearest of the week
    ending on the as-of date (a weekday's, when the as-of date is a weekend day). The daily run fetches
    the newest day, or with no partition metadata (`metadata` False) the latest [source].refetch_days."""
    days = 1 if metadata else max(1, cfg.source.refetch_days)
    jobs = [
        Job(Window(end - dt.timedelta(days=days - 1), end), cfg.packages, cfg.source.breakdowns)
        for end in (as_of - dt.timedelta(days=back) for back in range(cost.SIZING_DAYS))
    ]
    price = cfg.budget.price_per_tib
    if isinstance(source, cost.DryRunPricing):
        estimates = source.estimate(jobs, ledger)
    else:
        estimates = cost.estimate_jobs(jobs, None, ledger, price_per_tib=price)
    ceiling = max(e.ceiling_bytes for e in estimates)
    return MonthPace(ceiling, max(e.expected_bytes for e in estimates), today)
