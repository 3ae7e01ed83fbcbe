"""BigQuery cost arithmetic: guaranteed ceilings, dollars, a model of the table, job sizing, plan
estimates, and the figures of the cost page. Pure functions: no network, no store. The rule that
admits a job against the budgets is generator.budget's.

Two numbers for every job, never mixed up:
- the *guaranteed ceiling*: the dry-run estimate rounded up the way BigQuery bills. The job runs
  with `maximum_bytes_billed` set to it, so BigQuery itself refuses to bill a byte more;
- the *expected actual* bill: far smaller, because the dry run ignores cluster pruning on
  `project`. It comes from the ledger of past jobs (billed / ceiling), else from the model below.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from generator import dimensions
from generator.config import BREAKDOWNS, Config
from generator.dates import Window
from generator.plan import Job, Plan
from generator.store import LedgerEntry

MB = 10**6
MIB = 1024**2
GIB = 1024**3
TIB = 1024**4
MIN_BILLED_PER_TABLE = 10 * MIB
"""On-demand queries are billed at least 10 MB per table referenced (we use MiB: the larger)."""
FREE_TIER_BYTES_PER_MONTH = TIB
"""On-demand: the first 1 TiB billed each month is free (per billing account, shared with other use)."""
SOURCE = "bigquery"


# -- rounding and dollars -------------------------------------------------------------------
def billed_ceiling(scan_bytes: int, tables: int = 1) -> int:
    """The most BigQuery can bill for a query whose dry run reads `scan_bytes`.

    BigQuery rounds bytes up to the next MB and bills at least 10 MB per table referenced.
    Its docs do not settle whether that MB is 10**6 or 2**20 bytes, so take the larger of both
    roundings (they differ by under 1 MiB): a ceiling a little high only costs headroom, a
    ceiling a little low makes BigQuery refuse the job (bytesBilledLimitExceeded).
    """
    if scan_bytes < 0:
        raise ValueError("scan_bytes must not be negative")
    rounded = max(_round_up(scan_bytes, MIB), _round_up(scan_bytes, MB))
    return max(rounded, MIN_BILLED_PER_TABLE * max(1, tables))


def _round_up(n: int, unit: int) -> int:
    return -(-n // unit) * unit


def dollars(n_bytes: int, price_per_tib: float) -> float:
    """On-demand dollars for `n_bytes` billed (the monthly free TiB is not subtracted)."""
    return n_bytes / TIB * price_per_tib


def format_bytes(n: float, digits: int = 1) -> str:
    """Binary units, as BigQuery's console shows them: `22.3 GiB`."""
    for unit, size in (("TiB", TIB), ("GiB", GIB), ("MiB", MIB)):
        if abs(n) >= size:
            return f"{n / size:.{digits}f} {unit}"
    return f"{int(n)} B"


def format_dollars(x: float) -> str:
    return f"${x:,.2f}" if x >= 0.01 or x == 0 else f"${x:.4f}"


def format_exact(n: int) -> str:
    """Bytes to put in a config file, and the same in GiB: `1099511627776 bytes (1024.00 GiB)`."""
    return f"{n} bytes ({n / GIB:,.2f} GiB)"


def format_apart(a: int, b: int) -> tuple[str, str]:
    """Two sizes written with enough digits to differ (never "1.0 TiB do not fit 1.0 TiB")."""
    for digits in (1, 2, 3):
        left, right = format_bytes(a, digits), format_bytes(b, digits)
        if left != right or a == b:
            return left, right
    return f"{a:,} bytes", f"{b:,} bytes"


# -- the model of bigquery-public-data.pypi.file_downloads ----------------------------------
# Columns the canonical query reads whatever the breakdowns (see daily_aggregates.sql): the
# partition and cluster columns, the installer and CI flag every row is keyed by, and
# details.python, which python_malformed (pypistats' filter) needs even without python_minor.
BASE_COLUMNS: tuple[str, ...] = ("timestamp", "project", "details.installer.name", "details.ci", "details.python")
BREAKDOWN_SOURCE_COLUMNS: dict[str, tuple[str, ...]] = {d.name: d.reads for d in dimensions.DIMENSIONS}


def columns_read(breakdowns: Iterable[str]) -> tuple[str, ...]:
    """The source columns the (restricted) canonical query reads for these breakdowns."""
    cols = list(BASE_COLUMNS)
    for name in breakdowns:
        for col in BREAKDOWN_SOURCE_COLUMNS[name]:
            if col not in cols:
                cols.append(col)
    return tuple(cols)


# Facts this model is built from, reviewed against the best public figures (all public GitHub threads):
# - Dry run, Feb 2025, `file.project` + `timestamp` (the same sizes as `project` + `timestamp`): 30 days
#   1,125,717,300,161 bytes, 29 days 1,084,266,719,315 bytes, so one day ~ 41.45 GB
#   (hugovk/top-pypi-packages pull #45, 2025-03-01; pull #42 and issue #36 for the months before).
# - Another project's weekly query on those two columns hit a 30 GB cap and then a 400 GB cap in April 2025
#   and went to 750 GB in July 2025, and again in April 2026 (TylerHillery/pypacktrends pulls #137, #139,
#   #149, #164): the table keeps growing.
# - PyPI served ~1e10 downloads a month in 2022 and ~1.3e11 in the 30 days before May 2026, a straight
#   line on a log plot (pypi/infra issue #228): about x1.9 a year, one table row per download.
# - 30 days of the whole table, `project` only, went from ~50 GB to ~225 GB with the 2021 table switch
#   (hugovk/top-pypi-packages issue #19): the older model's 1.6 billion rows a day dates from then.
# - BigQuery's data-size rules: STRING = 2 bytes + UTF-8 length, BOOL 1, TIMESTAMP 8, NULL 0.
# - One package, 30 days, four columns was billed about 4.6 GB (cluster pruning on `project`).
# The model takes the Feb 2025 dry run (41.45 GB a day / 15 bytes a row = 2.76 billion rows a day).
# Defaults in [budget] fit a daily run with every breakdown at 3x this model (late 2026 at that growth).
FACT_PROJECT_TIMESTAMP_BYTES_PER_DAY = 1_125_717_300_161 - 1_084_266_719_315
FACT_ROWS_PER_DAY = 2_760_000_000
FACT_ONE_PACKAGE_BILLED = 4.6e9
FACT_ONE_PACKAGE_DAYS = 30
FACT_ONE_PACKAGE_COLUMNS = ("timestamp", "project", "details.installer.name", "details.python")
GROWTH_MARGIN = 3
"""The defaults fit a daily run with every breakdown on a table this many times the model."""

# Average stored bytes per row (2 + typical length for strings, times the share that is not
# NULL). timestamp + project = 15 bytes x 2.76e9 rows = 41.4 GB a day, the Feb 2025 dry run.
DEFAULT_BYTES_PER_ROW: dict[str, float] = {
    "timestamp": 8.0,  # TIMESTAMP
    "project": 7.0,  # download-weighted names are short: boto3, urllib3, requests...
    "file.project": 7.0,  # same values as project, but not the clustering column
    "details.installer.name": 5.5,  # mostly "pip"; uv, poetry, bandersnatch, some NULL
    "details.installer.version": 6.5,  # "24.0", "0.4.18"
    "details.python": 7.0,  # "3.11.4"
    "details.implementation.name": 8.0,  # "CPython"
    "details.system.name": 7.0,  # "Linux"
    "details.distro.name": 6.4,  # "Ubuntu", often NULL
    "details.ci": 0.3,  # BOOL, NULL unless a CI variable was seen
    "country_code": 4.0,  # "US"
    "file.type": 12.5,  # "bdist_wheel" dominates "sdist"
    "file.version": 8.0,  # "1.26.18"
}


@dataclass(frozen=True)
class TableModel:
    """What a dry run of the public table would report, without credentials: bytes per day per
    column before cluster pruning, and the share of that a typical package is actually billed."""

    rows_per_day: int = FACT_ROWS_PER_DAY
    bytes_per_row: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_BYTES_PER_ROW))

    def column_bytes_per_day(self, column: str) -> int:
        return int(self.rows_per_day * self.bytes_per_row[column])

    def scan_bytes(self, columns: Iterable[str], days: int) -> int:
        """The dry-run estimate (upper bound) for reading `columns` over `days` daily partitions."""
        return sum(self.column_bytes_per_day(c) for c in set(columns)) * days

    @property
    def package_share(self) -> float:
        """Billed / ceiling for one typical package, calibrated on the 4.6 GB fact. Busy packages
        (boto3, urllib3) cost more; the ledger replaces this after the first real run."""
        ceiling = self.scan_bytes(FACT_ONE_PACKAGE_COLUMNS, FACT_ONE_PACKAGE_DAYS)
        return FACT_ONE_PACKAGE_BILLED / ceiling


DEFAULT_MODEL = TableModel()


def model_scan_bytes(job: Job, model: TableModel = DEFAULT_MODEL) -> int:
    """The model's dry-run estimate for one job: the same whatever the number of packages."""
    return model.scan_bytes(columns_read(job.breakdowns), job.window.days)


def max_days_per_job(cap_bytes: int, per_day_scan_bytes: int) -> int:
    """The most days one job may cover so its guaranteed ceiling stays under `cap_bytes`.

    At least 1: when a single day does not fit, the budget check refuses the job with a message
    that says which setting to change (splitting further cannot help).
    """
    if per_day_scan_bytes <= 0:
        return 10_000
    days = max(1, cap_bytes // per_day_scan_bytes)
    while days > 1 and billed_ceiling(days * per_day_scan_bytes) > cap_bytes:
        days -= 1
    return int(days)


@runtime_checkable
class DryRunPricing(Protocol):
    """A source that prices jobs with free dry runs (BigQuery): what sizing and pacing ask of it.
    Without one (local files, ClickPy, or no credentials) they use the table model."""

    def per_day_scan_bytes(self, projects: Sequence[str], breakdowns: Sequence[str], day: dt.date) -> int: ...

    def estimate(self, jobs: Sequence[Job], ledger: Sequence[LedgerEntry] | None = None) -> list[JobEstimate]: ...


def days_per_job(cfg: Config, source: object | None, as_of: dt.date) -> int | None:
    """For BigQuery, the longest day range whose guaranteed ceiling fits the per-query cap.

    Sized by the dearest day: free dry runs of each of the week ending on the as-of date (weekends
    are ~70% of a weekday), else the table model. A job whose own dry run is still over the cap
    (a heavier day further back) is split again when it runs.
    """
    if cfg.source.kind != "bigquery":
        return None
    if isinstance(source, DryRunPricing):
        week = min(SIZING_DAYS, cfg.source.history_days)
        per_day = max(
            source.per_day_scan_bytes(cfg.packages, cfg.source.breakdowns, as_of - dt.timedelta(days=back))
            for back in range(week)
        )
    else:
        per_day = model_scan_bytes(Job(Window(as_of, as_of), cfg.packages, cfg.source.breakdowns))
    return max_days_per_job(cfg.budget.max_bytes_per_query, per_day)


SIZING_DAYS = 7
"""Jobs are sized by the dearest of this many days ending on the as-of date (a week: weekday and weekend)."""


# -- what each breakdown adds -----------------------------------------------------------------
@dataclass(frozen=True)
class ColumnCost:
    name: str
    """A breakdown name, or "base" for what every job reads."""
    columns: tuple[str, ...]
    bytes_per_day: int
    """What it adds to the guaranteed ceiling for each day fetched."""
    dollars_per_day: float
    selected: bool
    """In [source].breakdowns (always True for "base")."""
    note: str = ""


def model_column_bytes(model: TableModel = DEFAULT_MODEL) -> dict[str, int]:
    """Per-day bytes of the base columns ("base") and what each breakdown adds, from the model."""
    out = {"base": sum(model.column_bytes_per_day(c) for c in BASE_COLUMNS)}
    for name, cols in BREAKDOWN_SOURCE_COLUMNS.items():
        out[name] = sum(model.column_bytes_per_day(c) for c in cols if c not in BASE_COLUMNS)
    return out


def column_costs(
    selected: Iterable[str],
    *,
    price_per_tib: float,
    measured: Mapping[str, int] | None = None,
    model: TableModel = DEFAULT_MODEL,
) -> list[ColumnCost]:
    """What each breakdown adds to the ceiling per day, from dry runs (`measured`, see
    BigQuerySource.measure_column_bytes) or else the model. Drop one in [source].breakdowns to save it."""
    per_day = dict(measured) if measured is not None else model_column_bytes(model)
    chosen = set(selected)
    out = [
        ColumnCost(
            "base",
            BASE_COLUMNS,
            per_day["base"],
            dollars(per_day["base"], price_per_tib),
            True,
            "read by every job: partition and cluster columns, installer, CI flag, python string",
        )
    ]
    for name in BREAKDOWNS:
        cols = BREAKDOWN_SOURCE_COLUMNS[name]
        added = per_day.get(name, 0)
        note = "read anyway for pypistats' malformed-python filter" if set(cols) <= set(BASE_COLUMNS) else ""
        note = ", ".join(n for n in (note, _shared_note(name)) if n)
        out.append(ColumnCost(name, cols, added, dollars(added, price_per_tib), name in chosen, note))
    return out


def _shared_note(name: str) -> str:
    """Columns a breakdown reads with another (the OS: for its own table and for distro rows), read once for both."""
    mine = set(BREAKDOWN_SOURCE_COLUMNS[name]) - set(BASE_COLUMNS)
    parts = []
    for other in BREAKDOWNS:
        shared = [c for c in BREAKDOWN_SOURCE_COLUMNS[other] if c in mine] if other != name else []
        if shared:
            parts.append(f"{', '.join(shared)} also read by {other}: one bill while either is on")
    return "; ".join(parts)


# -- plan estimates -----------------------------------------------------------------------------
@dataclass(frozen=True)
class JobEstimate:
    job: Job
    scan_bytes: int
    """The dry-run estimate: an upper bound (columns x partitions, no cluster pruning)."""
    ceiling_bytes: int
    """The guaranteed ceiling: the job runs with maximum_bytes_billed set to this."""
    expected_bytes: int
    """The expected actual bill."""
    price_per_tib: float
    scan_basis: str
    """"dry run" or "model" (no credentials: an estimate, not BigQuery's own figure)."""
    expected_basis: str

    @property
    def ceiling_dollars(self) -> float:
        return dollars(self.ceiling_bytes, self.price_per_tib)

    @property
    def expected_dollars(self) -> float:
        return dollars(self.expected_bytes, self.price_per_tib)

    @property
    def days(self) -> int:
        return self.job.window.days

    @property
    def packages(self) -> int:
        return len(self.job.projects)


def expected_share(
    ledger: Sequence[LedgerEntry], packages: int, model: TableModel = DEFAULT_MODEL
) -> tuple[float, str]:
    """Expected billed / ceiling for a job over `packages` packages, and where the figure comes from.

    Under cluster pruning the bill grows with the packages' data, the ceiling does not; so the
    ledger's ratio is taken per package (sum billed / sum of ceiling x packages) and scaled.
    """
    past = [e for e in ledger if e.source == SOURCE and e.ceiling_bytes > 0 and e.projects]
    if past:
        weight = sum(e.ceiling_bytes * len(e.projects) for e in past)
        per_package = sum(e.bytes_billed for e in past) / weight
        return min(1.0, per_package * packages), f"ledger of {len(past)} past job(s)"
    return min(1.0, model.package_share * packages), "model (one typical package ~ 4.6 GB per 30 days)"


def estimate_job(
    job: Job,
    scan_bytes: int,
    *,
    share: float,
    price_per_tib: float,
    scan_basis: str,
    expected_basis: str,
) -> JobEstimate:
    ceiling = billed_ceiling(scan_bytes)
    expected = min(ceiling, billed_ceiling(math.ceil(scan_bytes * share)))
    return JobEstimate(job, scan_bytes, ceiling, expected, price_per_tib, scan_basis, expected_basis)


def estimate_jobs(
    jobs: Sequence[Job],
    scan_bytes: Sequence[int] | None = None,
    ledger: Sequence[LedgerEntry] = (),
    *,
    price_per_tib: float = 6.25,
    model: TableModel = DEFAULT_MODEL,
) -> list[JobEstimate]:
    """Ceiling and expected bill for each job, from dry-run bytes or (None) the model."""
    if scan_bytes is not None and len(scan_bytes) != len(jobs):
        raise ValueError("one dry-run figure per job")
    out = []
    for i, job in enumerate(jobs):
        scan = scan_bytes[i] if scan_bytes is not None else model_scan_bytes(job, model)
        share, basis = expected_share(ledger, len(job.projects), model)
        out.append(
            estimate_job(
                job,
                scan,
                share=share,
                price_per_tib=price_per_tib,
                scan_basis="dry run" if scan_bytes is not None else "model",
                expected_basis=basis,
            )
        )
    return out


def estimate_plan(
    plan: Plan,
    scan_bytes: Sequence[int] | None = None,
    ledger: Sequence[LedgerEntry] = (),
    *,
    price_per_tib: float = 6.25,
    model: TableModel = DEFAULT_MODEL,
) -> list[JobEstimate]:
    """`estimate_jobs` for a generator.plan.Plan."""
    return estimate_jobs(plan.jobs, scan_bytes, ledger, price_per_tib=price_per_tib, model=model)


# -- the cost page ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CostLine:
    """One row of the cost page: a run, a month, or all time."""

    label: str
    jobs: int
    days: int
    """Distinct UTC days fetched."""
    packages: int
    ceiling_bytes: int
    processed_bytes: int
    billed_bytes: int
    dollars: float
    """As recorded when each job ran."""
    ceiling_dollars: float
    """The guaranteed ceilings, at today's price."""
    first: dt.datetime | None = None
    last: dt.datetime | None = None


@dataclass(frozen=True)
class DailyRunCost:
    """What one incremental (daily) run costs, per run and per package, ceiling vs actual."""

    runs: int
    """How many past daily runs this averages."""
    packages: float
    ceiling_bytes: float
    billed_bytes: float
    ceiling_dollars: float
    dollars: float

    def per_package(self, figure: str) -> float:
        """One of this run's figures (ceiling_bytes, billed_bytes, dollars, ceiling_dollars) per package."""
        return float(getattr(self, figure)) / self.packages if self.packages else 0.0


@dataclass(frozen=True)
class CostSummary:
    price_per_tib: float
    runs: list[CostLine]
    """Newest first."""
    months: list[CostLine]
    """Newest first; each says whether it stayed within the free TiB."""
    cumulative: CostLine
    daily_run: DailyRunCost | None
    notes: list[str]


DAILY_RUN_MAX_DAYS = 3
"""A run that fetched at most this many distinct days is a daily (incremental) run."""


def _line(label: str, entries: Sequence[LedgerEntry], price: float) -> CostLine:
    days = {d for e in entries for d in _days(e)}
    packages = {p for e in entries for p in e.projects}
    stamps = [e.finished_at for e in entries if e.finished_at is not None]
    return CostLine(
        label=label,
        jobs=len(entries),
        days=len(days),
        packages=len(packages),
        ceiling_bytes=sum(e.ceiling_bytes for e in entries),
        processed_bytes=sum(e.bytes_processed for e in entries),
        billed_bytes=sum(e.bytes_billed for e in entries),
        dollars=sum(e.dollars for e in entries),
        ceiling_dollars=dollars(sum(e.ceiling_bytes for e in entries), price),
        first=min(stamps) if stamps else None,
        last=max(stamps) if stamps else None,
    )


def _days(entry: LedgerEntry) -> list[dt.date]:
    if not entry.projects:  # a query about the account (its job history), not about days of data
        return []
    n = (entry.end_day - entry.start_day).days + 1
    return [entry.start_day + dt.timedelta(days=i) for i in range(max(0, n))]


def _group(entries: Iterable[LedgerEntry], key: Callable[[LedgerEntry], str]) -> dict[str, list[LedgerEntry]]:
    out: dict[str, list[LedgerEntry]] = {}
    for e in entries:
        out.setdefault(key(e), []).append(e)
    return out


def _month(entry: LedgerEntry) -> str:
    return entry.finished_at.strftime("%Y-%m") if entry.finished_at else "unknown"


def cost_summary(ledger: Sequence[LedgerEntry], price_per_tib: float, *, source: str | None = SOURCE) -> CostSummary:
    """Per run, per month, cumulative, and a daily run per package: the cost page's figures."""
    entries = [e for e in ledger if source is None or e.source == source]
    runs = [_line(run_id, es, price_per_tib) for run_id, es in _group(entries, lambda e: e.run_id).items()]
    runs.sort(key=lambda r: r.last or dt.datetime.min, reverse=True)
    months = [_line(m, es, price_per_tib) for m, es in sorted(_group(entries, _month).items(), reverse=True)]
    daily = [r for r in runs if 0 < r.days <= DAILY_RUN_MAX_DAYS][:30]
    daily_run = None
    if daily:
        n = len(daily)
        daily_run = DailyRunCost(
            runs=n,
            packages=sum(r.packages for r in daily) / n,
            ceiling_bytes=sum(r.ceiling_bytes for r in daily) / n,
            billed_bytes=sum(r.billed_bytes for r in daily) / n,
            ceiling_dollars=sum(r.ceiling_dollars for r in daily) / n,
            dollars=sum(r.dollars for r in daily) / n,
        )
    notes = [
        f"Dollars at ${price_per_tib}/TiB on-demand, before the free first TiB each month "
        "(shared with any other BigQuery use on the billing account).",
        "The ceiling is what BigQuery was allowed to bill (maximum_bytes_billed); the actual bill is "
        "smaller because the table is clustered by project.",
    ]
    notes.extend(
        f"{m.label}: {format_bytes(m.billed_bytes)} billed, within the free TiB if nothing else used it."
        for m in months
        if m.billed_bytes <= FREE_TIER_BYTES_PER_MONTH
    )
    return CostSummary(price_per_tib, runs, months, _line("all time", entries, price_per_tib), daily_run, notes)


@dataclass(frozen=True)
class PackageCost:
    project: str
    jobs: int
    ceiling_bytes: float
    billed_bytes: float
    dollars: float
    note: str = "Each job fetched several packages at once; its cost is split evenly among them."


def package_cost(ledger: Sequence[LedgerEntry], project: str, *, source: str | None = SOURCE) -> PackageCost:
    """What this package's data cost: its even share of every job that fetched it."""
    mine = [e for e in ledger if project in e.projects and (source is None or e.source == source)]
    return PackageCost(
        project=project,
        jobs=len(mine),
        ceiling_bytes=sum(e.ceiling_bytes / len(e.projects) for e in mine),
        billed_bytes=sum(e.bytes_billed / len(e.projects) for e in mine),
        dollars=sum(e.dollars / len(e.projects) for e in mine),
    )
