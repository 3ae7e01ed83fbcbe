"""What our plan costs on BigQuery, against the per-package, per-question queries a pypinfo-style
tool runs to fill the same page. Not a timed test: it prints bytes and dollars.

    python -m bench.bigquery_cost [--rows-per-day 20000] [--block-rows 128]

Everything is measured with the byte accounting of the local BigQuery fake
(tests/fakes/bigquery_server.py), over synthetic events at the public table's scale:
- each stored event stands for `row_weight` real ones, so a day holds ~1.6 billion rows;
- project popularity is log-uniform over 2,000 projects; the 100 packages priced are spread from
  rank 20 to rank 1,901 (a popular package to a small one);
- value lengths follow the real table's (short project names, "pip", "3.11.4", "bdist_wheel"...).

"Ours" is the real path: BigQuerySource.fetch, through google-cloud-bigquery, over
HTTP, against the fake: one job for all packages and days, ceiling = maximum_bytes_billed.
"pypinfo-style" is what `pypinfo <pkg> <field>` runs: one query per package and question,
filtered on `file.project` (not the clustering column, so it prunes nothing) over the same days;
its ceiling is the rounded dry-run figure and its bill the fake's, from the same accounting.

The second table is the first backfill of a new site (3 and 100 packages, 181 days, every breakdown,
the default [budget]) run as the build runs it, one run a morning: runs needed, what each run was
billed, and its guaranteed worst case (the most any of its jobs could have taken the run to: billed
before it + its ceiling) divided by max_bytes_per_run, which must stay <= 1.0. Against it, the
rule before: the sum of every job's ceiling had to fit max_bytes_per_run, or nothing ran at all.

The third table (`--only month`) is the first month of a new site of 3, 30 and 300 small packages,
paced by the month (generator/cost.py, "pacing the month"): days held and bill of the first two
runs, November's bill, the runs and months the 181 days take; then a steady daily run that checks
the held days by partition metadata (it bills yesterday only) beside one without it, which
refetches [source].refetch_days = 2 days.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from generator import config as config_mod  # noqa: E402
from generator import cost  # noqa: E402
from generator.dates import Window  # noqa: E402
from generator.errors import NewestDayDoesNotFit  # noqa: E402
from generator.plan import Job  # noqa: E402
from generator.sources.bigquery import BigQuerySource, RetryPolicy  # noqa: E402
from generator.store import open_store  # noqa: E402
from tests.fakes import scale  # noqa: E402
from tests.fakes.bigquery_server import EventsQuery, FakeBigQuery  # noqa: E402

LAST_DAY = dt.date(2026, 10, 30)
HISTORY = 30
PACKAGE_COUNTS = (1, 10, 100)
DAY_COUNTS = (1, 30)
ROWS_PER_REAL_DAY = scale.ROWS_PER_REAL_DAY
PRICE = 6.25

# One pypinfo-style question per breakdown of the page, each by installer, plus the total.
QUESTIONS: dict[str, str | None] = {
    "total": None,
    "installer_version": "details.installer.version",
    "python_minor": r"REGEXP_EXTRACT(details.python, r'^([0-9]+\.[0-9]+)')",
    "implementation": "details.implementation.name",
    "system": "details.system.name",
    "distro": "details.distro.name",
    "country": "country_code",
    "file_type": "file.type",
    "version": "file.version",
}


def pypinfo_sql(expression: str | None) -> str:
    """A pypinfo-shaped query: filtered on file.project; bound parameters, as we require."""
    column = f"{expression} AS value, " if expression else ""
    group = ", value" if expression else ""
    return (
        f"SELECT details.installer.name AS installer_name, {column}COUNT(*) AS download_count\n"  # noqa: S608
        "FROM `bigquery-public-data.pypi.file_downloads`\n"
        "WHERE timestamp BETWEEN TIMESTAMP(@start) AND TIMESTAMP_ADD(TIMESTAMP(@end), INTERVAL 1 DAY)\n"
        "  AND file.project = @project\n"
        f"GROUP BY installer_name{group}"
    )


def events_sql(rows_per_day: int) -> str:
    """`rows_per_day` events a day for HISTORY days (tests/fakes/scale.py)."""
    return scale.events_sql(LAST_DAY - dt.timedelta(days=HISTORY - 1), LAST_DAY, rows_per_day)


packages = scale.packages


# -- measuring ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cost:
    queries: int
    ceiling: int
    billed: int


def ours(fake: FakeBigQuery, cfg: config_mod.Config, projects: tuple[str, ...], days: int) -> Cost:
    """Our plan: one job for all packages and days, through the real client and the cost guard."""
    job = Job(Window(LAST_DAY - dt.timedelta(days=days - 1), LAST_DAY), projects, config_mod.BREAKDOWNS)
    source = BigQuerySource(
        cfg,
        client=fake.client(),
        run_id="bench",
        retry=RetryPolicy(sleep=lambda s: None),
        today=lambda: LAST_DAY + dt.timedelta(days=1),
    )
    try:
        result = source.fetch(job)
    finally:
        source.close()
    return Cost(1, result.ceiling_bytes, result.bytes_billed)


def pypinfo_style(fake: FakeBigQuery, projects: tuple[str, ...], days: int) -> Cost:
    """One query per package and question, priced by the fake's accounting (what it would bill)."""
    start = LAST_DAY - dt.timedelta(days=days - 1)
    ceiling = billed = queries = 0
    for project in projects:
        for expression in QUESTIONS.values():
            acct = fake.account(pypinfo_sql(expression), {"project": project, "start": start, "end": LAST_DAY})
            ceiling += cost.billed_ceiling(acct.estimate_bytes)
            billed += acct.billed_bytes
            queries += 1
    return Cost(queries, ceiling, billed)


def check_dry_run_agrees(fake: FakeBigQuery, project: str) -> None:
    """The accounting used for pypinfo-style queries is exactly what a dry run through the client says."""
    from google.cloud import bigquery

    sql = pypinfo_sql(QUESTIONS["country"])
    params = [
        bigquery.ScalarQueryParameter("project", "STRING", project),
        bigquery.ScalarQueryParameter("start", "DATE", LAST_DAY),
        bigquery.ScalarQueryParameter("end", "DATE", LAST_DAY),
    ]
    client = fake.client()
    job = client.query(sql, job_config=bigquery.QueryJobConfig(dry_run=True, query_parameters=params))
    client.close()
    direct = fake.account(sql, {"project": project, "start": LAST_DAY, "end": LAST_DAY}).estimate_bytes
    assert job.total_bytes_processed == direct, (job.total_bytes_processed, direct)


# -- the first backfill, run after run ------------------------------------------------------------------
BACKFILL_HISTORY = 181
BACKFILL_START = dt.datetime(2026, 11, 5, 6, 43, tzinfo=dt.UTC)
MAX_RUNS = 40


@dataclass
class BackfillRun:
    day: dt.date
    held: int
    jobs: int
    billed: int
    worst: int
    """max over its jobs of (billed before the job + the job's ceiling): what the run could have reached."""


def first_backfill(n: int, *, rows_per_day: int, block_rows: int) -> tuple[list[BackfillRun], int]:
    """Morning runs of a new n-package site until its history is held (or MAX_RUNS); and the sum of
    the plan's ceilings, which the old all-or-nothing rule required to fit max_bytes_per_run."""
    last = BACKFILL_START.date() + dt.timedelta(days=MAX_RUNS)
    first = BACKFILL_START.date() - dt.timedelta(days=BACKFILL_HISTORY + 1)
    runs: list[BackfillRun] = []
    plan_ceiling = 0
    with _new_site(packages(n), BACKFILL_START, first, last, rows_per_day=rows_per_day, block_rows=block_rows) as (
        fake,
        cfg,
        clock,
    ):
        for i in range(MAX_RUNS):
            clock.now = BACKFILL_START + dt.timedelta(days=i)
            morning = _morning(fake, cfg, plan_ceiling=i == 0)
            plan_ceiling = plan_ceiling or morning.plan_ceiling
            billed = worst = 0
            for job in morning.jobs:
                worst = max(worst, billed + (job.maximum_bytes_billed or 0))
                billed += job.billed_bytes
            runs.append(BackfillRun(clock.now.date(), morning.held, len(morning.jobs), billed, worst))
            if morning.held == BACKFILL_HISTORY:
                break
    return runs, plan_ceiling


def print_backfills(rows_per_day: int, block_rows: int) -> None:
    budget = config_mod.BudgetConfig()
    print(
        f"\nFirst backfill of a new site: {BACKFILL_HISTORY} days, every breakdown, default [budget] (per query "
        f"{cost.format_bytes(budget.max_bytes_per_query)}, per run {cost.format_bytes(budget.max_bytes_per_run)}, per"
        f" month {cost.format_bytes(budget.max_bytes_per_month)}); one run each morning from {BACKFILL_START:%Y-%m-%d}."
    )
    header = (
        f"{'pkgs':>4} | {'runs needed':>11} | {'days held after runs 1, 2, 3':>28} | {'bill per run (1, 2, 3)':>32} | "
        f"{'worst case / budget (max)':>25} | {'old rule: plan ceiling vs per-run budget':>44}"
    )
    print(header)
    print("-" * len(header))
    for n in (3, 100):
        runs, plan_ceiling = first_backfill(n, rows_per_day=rows_per_day, block_rows=block_rows)
        done = runs[-1].held == BACKFILL_HISTORY
        needed = f"{len(runs)}" if done else f"> {len(runs)}"
        held = ", ".join(str(r.held) for r in runs[:3])
        bills = ", ".join(cost.format_bytes(r.billed) for r in runs[:3])
        ratio = max(r.worst for r in runs) / budget.max_bytes_per_run
        old = (
            f"{cost.format_bytes(plan_ceiling)} > {cost.format_bytes(budget.max_bytes_per_run)}: refused, 0 days"
            if plan_ceiling > budget.max_bytes_per_run
            else "fits: 1 run"
        )
        print(f"{n:>4} | {needed:>11} | {held:>28} | {bills:>32} | {ratio:>25.3f} | {old:>44}")
        if not done:
            print(
                f"     ({runs[-1].held} of {BACKFILL_HISTORY} days held after {len(runs)} runs, the most this measures)"
            )


# -- the first month of a new site, and the steady daily run -----------------------------------------------
MONTH_START = dt.datetime(2026, 11, 5, 6, 43, tzinfo=dt.UTC)
MONTH_RUNS = 45
STEADY_MORNINGS = 7
"""Mornings from 5 November to 31 December at most: until the whole history is held."""
MONTH_BLOCK_ROWS = 48
"""Coarse cluster blocks over 3,000 stored rows a day: three small packages bill ~7 GiB a day, the issue's figure."""


def small_packages(n: int) -> tuple[str, ...]:
    """`n` small packages: ranks spread over the less popular half of the synthetic table (rank 1,000 and on)."""
    step = max(1, (scale.N_PROJECTS - 1000) // n)
    return tuple(f"p{1000 + step * k}" for k in range(n))


@dataclass
class MonthReport:
    packages: int
    held: list[int]
    """Days held after each run."""
    billed: list[int]
    """Each run's bill."""
    months: dict[str, int]
    """Billed per calendar month."""
    daily_one_day: int
    """A steady daily run's bill (a week's average), held days checked by partition metadata: yesterday only."""
    daily_two_days: int
    """The same, without partition metadata: yesterday and the day before ([source].refetch_days = 2)."""

    @property
    def runs_needed(self) -> int | None:
        return next((i + 1 for i, h in enumerate(self.held) if h == BACKFILL_HISTORY), None)


@dataclass
class Clock:
    """The fake's and the generator's now (dates.utc_now), moved by the scenario."""

    now: dt.datetime


@contextlib.contextmanager
def _new_site(
    names: Iterable[str], start: dt.datetime, first: dt.date, last: dt.date, *, rows_per_day: int, block_rows: int
) -> Iterator[tuple[FakeBigQuery, config_mod.Config, Clock]]:
    """A new site of `names` on the default settings, its store in a temporary folder, against the fake at
    the real table's scale holding `first`..`last`; the clock starts at `start` and is the generator's too."""
    from generator import dates

    clock = Clock(start)
    fake = scale.real_scale_fake(
        first, last, rows_per_day=rows_per_day, block_rows=block_rows, weekend_share=0.7, now=lambda: clock.now
    ).start()
    old_now = dates.utc_now
    dates.utc_now = lambda: clock.now
    try:
        with tempfile.TemporaryDirectory() as tmp:
            raw = {
                "packages": {"names": list(names)},
                "source": {"kind": "bigquery", "billing_project": "bench"},
                "store": {"path": str(Path(tmp) / "store.duckdb")},
            }
            yield fake, config_mod.parse(raw, Path(tmp) / "stats.toml"), clock
    finally:
        dates.utc_now = old_now
        fake.stop()


@dataclass
class Morning:
    held: int
    """Days of the history every package holds after the run."""
    jobs: list[Any]
    """The fake's billable jobs the run sent."""
    plan_ceiling: int
    """The sum of its plan's job ceilings, when asked for (else 0)."""

    @property
    def billed(self) -> int:
        return sum(j.billed_bytes for j in self.jobs)


def _morning(
    fake: FakeBigQuery, cfg: config_mod.Config, *, metadata: bool = True, plan_ceiling: bool = False
) -> Morning:
    """One scheduled run as `build` runs it (rendering aside)."""
    from generator import dates, fetch
    from generator.plan import plan_for

    as_of = dates.utc_today() - dt.timedelta(days=1)
    before = len(fake.billable_jobs)
    ceiling = 0
    source = BigQuerySource(cfg, client=fake.client(), retry=RetryPolicy(sleep=lambda s: None))
    try:
        with open_store(cfg.store.path) as store:
            fetch.settle_unknown_jobs(store, source)
            partitions = fetch.read_partitions(cfg, store, source, as_of) if metadata else None
            days = cost.days_per_job(cfg, source, as_of)
            plan = plan_for(cfg, store, "bigquery", as_of, max_days_per_job=days, partitions=partitions)
            if plan_ceiling:
                ceiling = sum(e.ceiling_bytes for e in source.estimate(plan.jobs))
            # When the month's room ran out, the run is refused (exit 3) before anything more is billed.
            with contextlib.suppress(NewestDayDoesNotFit):
                fetch.fetch(cfg, store, source, plan, partitions=partitions)
            held = set.intersection(*store.covered_days("bigquery", cfg.packages, plan.window).values())
    finally:
        source.close()
    return Morning(len(held), fake.billable_jobs[before:], ceiling)


def first_month(n: int, *, rows_per_day: int) -> MonthReport:
    """A new site of `n` small packages with the default settings, one run each morning from 5 November."""
    import logging

    logging.getLogger("generator.build").setLevel(logging.ERROR)
    last = (MONTH_START + dt.timedelta(days=MONTH_RUNS + 2 * STEADY_MORNINGS + 3)).date()
    first = MONTH_START.date() - dt.timedelta(days=BACKFILL_HISTORY + 2)
    report = MonthReport(n, [], [], {}, 0, 0)
    with _new_site(
        small_packages(n), MONTH_START, first, last, rows_per_day=rows_per_day, block_rows=MONTH_BLOCK_ROWS
    ) as (
        fake,
        cfg,
        clock,
    ):
        for i in range(MONTH_RUNS):
            clock.now = MONTH_START + dt.timedelta(days=i)
            morning = _morning(fake, cfg)
            report.held.append(morning.held)
            report.billed.append(morning.billed)
            month = clock.now.strftime("%Y-%m")
            report.months[month] = report.months.get(month, 0) + morning.billed
            if morning.held == BACKFILL_HISTORY:
                break
        # The steady state, averaged over a week each (days differ): mornings with partition metadata,
        # then mornings without it (refetch_days = 2).
        for metadata in (True, False):
            bills = []
            for _ in range(STEADY_MORNINGS):
                clock.now += dt.timedelta(days=1)
                bills.append(_morning(fake, cfg, metadata=metadata).billed)
            average = sum(bills) // len(bills)
            if metadata:
                report.daily_one_day = average
            else:
                report.daily_two_days = average
    return report


def print_first_months(rows_per_day: int) -> None:
    budget = config_mod.BudgetConfig()
    print(
        f"\nThe first month of a new site of small packages: {BACKFILL_HISTORY} days, every breakdown, default [budget]"
        f" ({cost.format_bytes(budget.max_bytes_per_month)} a month); one run each morning from {MONTH_START:%Y-%m-%d}."
        " A steady daily run, then, with and without partition metadata."
    )
    header = (
        f"{'pkgs':>4} | {'held after runs 1, 2':>20} | {'bill of runs 1, 2':>22} | {'November bill':>14} | "
        f"{'runs to 181 days':>16} | {'months':>6} | {'daily run: 1 day':>16} | {'refetch_days = 2':>16}"
    )
    print(header)
    print("-" * len(header))
    for n in (3, 30, 300):
        r = first_month(n, rows_per_day=rows_per_day)
        needed = str(r.runs_needed) if r.runs_needed else f"> {len(r.held)}"
        months = len([m for m, b in r.months.items() if b]) if r.runs_needed else "-"

        def steady(n: int, done: bool = r.runs_needed is not None) -> str:
            return cost.format_bytes(n) if done else "-"  # while the backfill goes on, runs also fetch old days

        held = ", ".join(str(h) for h in r.held[:2])
        bills = ", ".join(cost.format_bytes(b) for b in r.billed[:2])
        print(
            f"{n:>4} | {held:>20} | {bills:>22} | {cost.format_bytes(r.months.get('2026-11', 0)):>14} | "
            f"{needed:>16} | {months:>6} | {steady(r.daily_one_day):>16} | {steady(r.daily_two_days):>16}"
        )


def money(n: int) -> str:
    return f"{cost.format_bytes(n):>10} {cost.format_dollars(cost.dollars(n, PRICE)):>9}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=20_000, help="stored events per day")
    parser.add_argument("--block-rows", type=int, default=128, help="stored rows per cluster block")
    parser.add_argument(
        "--backfill-rows-per-day", type=int, default=3000, help="stored events per day for the backfill table"
    )
    parser.add_argument("--only", choices=("queries", "backfill", "month"), help="one of the tables")
    args = parser.parse_args(argv)
    if args.only == "backfill":
        print_backfills(args.backfill_rows_per_day, max(1, args.backfill_rows_per_day // 500))
        return 0
    if args.only == "month":
        print_first_months(args.backfill_rows_per_day)
        return 0

    t0 = time.perf_counter()
    weight = ROWS_PER_REAL_DAY / args.rows_per_day
    fake = FakeBigQuery(
        EventsQuery(events_sql(args.rows_per_day)), block_rows=args.block_rows, row_weight=weight, page_rows=20_000
    ).start()
    with tempfile.TemporaryDirectory() as tmp:
        budget = {"max_bytes_per_query": 1000 * cost.TIB, "max_bytes_per_run": 1000 * cost.TIB}
        raw = {
            "packages": {"names": ["p20"]},
            "source": {"kind": "bigquery", "billing_project": "bench"},
            "budget": budget,
        }
        cfg = config_mod.parse(raw, Path(tmp) / "stats.toml")
        try:
            check_dry_run_agrees(fake, "p20")
            print(
                f"Synthetic table: {HISTORY} days x {args.rows_per_day:,} stored rows a day, each standing for "
                f"{weight:,.0f} (~{ROWS_PER_REAL_DAY / 1e9:.1f} billion rows a day); blocks of {args.block_rows} "
                f"stored rows. ${PRICE}/TiB on-demand.\n"
            )
            header = (
                f"{'pkgs':>4} {'days':>4} | {'ours: jobs':>10} {'ceiling':>20} {'bill':>20} | "
                f"{'pypinfo-style: queries':>22} {'ceiling':>20} {'bill':>20} | {'x ceiling':>9} {'x bill':>7}"
            )
            print(header)
            print("-" * len(header))
            for n in PACKAGE_COUNTS:
                for days in DAY_COUNTS:
                    a = ours(fake, cfg, packages(n), days)
                    b = pypinfo_style(fake, packages(n), days)
                    print(
                        f"{n:>4} {days:>4} | {a.queries:>10} {money(a.ceiling)} {money(a.billed)} | "
                        f"{b.queries:>22} {money(b.ceiling)} {money(b.billed)} | "
                        f"{b.ceiling / a.ceiling:>9.1f} {b.billed / a.billed:>7.1f}"
                    )
        finally:
            fake.stop()
    print(
        "\nceiling = maximum_bytes_billed (rounded dry run: what BigQuery may bill at most); bill = what the "
        "fake's block model bills after cluster pruning (10 MiB minimum per query). x = pypinfo-style / ours."
    )
    if args.only != "queries":
        print_backfills(args.backfill_rows_per_day, max(1, args.backfill_rows_per_day // 500))
        print_first_months(args.backfill_rows_per_day)
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
