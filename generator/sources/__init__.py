"""Data sources. Each runs the canonical queries for a set of projects and days, and returns
aggregate rows in the one schema (generator.store.AGGREGATE_COLUMNS) as an Arrow table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeGuard

import pyarrow as pa

from generator import dimensions
from generator.dates import Window
from generator.plan import Job
from generator.store import AGGREGATE_COLUMNS

if TYPE_CHECKING:  # for annotations only: bigquery imports this module
    from generator.budget import MonthPace, Spending
    from generator.cost import JobEstimate
    from generator.sources.bigquery import JobLog, Settled
    from generator.store import LedgerEntry, PartitionState

_DUCK_TO_ARROW: dict[str, pa.DataType] = {
    "DATE": pa.date32(),
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
    "BIGINT": pa.int64(),
}
STORE_SCHEMA = pa.schema([(name, _DUCK_TO_ARROW[kind]) for name, kind in AGGREGATE_COLUMNS])
"""The Arrow form of the store's aggregate schema: what a network source casts its answer to."""


@dataclass
class FetchResult:
    rows: pa.Table
    """Aggregate rows in the store's schema."""
    available_days: list[dt.date]
    """Days of the job's window that the source holds complete data for; others stay missing."""
    job_id: str = ""
    ceiling_bytes: int = 0
    bytes_processed: int = 0
    bytes_billed: int = 0


class Source(Protocol):
    name: str
    """Stored with every row ("local", "bigquery", "clickpy")."""
    synthetic: bool
    """True when the events are generated demo data; every page then says so."""
    # Optional: `capabilities: frozenset[str]` (see ALL_CAPABILITIES below; read it with
    # capabilities_of(source), which defaults to every capability).

    def fetch(self, job: Job) -> FetchResult: ...

    def close(self) -> None: ...


class BillingSource(Source, Protocol):
    """A source that bills (BigQuery): it keeps the budgets, writes the cost ledger, and has jobs a
    killed run may leave with an unknown outcome. What the build reads and sets on one."""

    spending: Spending
    """Billed bytes and unknown outcomes, this run and this month (the build counts the month in)."""
    ledger: list[LedgerEntry]
    """Past jobs, for the expected bill in estimates and refusals (the build sets it)."""
    log: JobLog | None
    """Where each job's ledger row goes the moment the job exists (the build sets it)."""
    price_per_tib: float

    def today(self) -> dt.date: ...

    def fetch(self, job: Job, *, pace: MonthPace | None = None) -> FetchResult: ...

    def partition_metadata(self, window: Window) -> dict[dt.date, PartitionState]: ...

    def estimate(self, jobs: Sequence[Job], ledger: Sequence[LedgerEntry] | None = None) -> list[JobEstimate]: ...

    def month_spend(self, since: dt.date) -> int: ...

    def ledger_entry(self, job: Job, result: FetchResult) -> LedgerEntry: ...

    def settle(self, entry: LedgerEntry) -> Settled | None: ...


def is_billing(source: Source) -> TypeGuard[BillingSource]:
    """The source bills for its jobs (BigQuery); the others (local files, ClickPy) cost nothing."""
    return hasattr(source, "spending")


# -- capabilities (what a source's data can support) -------------------------------------------
# A page shows "not available from this source" wherever a capability it needs is missing,
# never a number computed from a column the source does not have. Capabilities are strings:
#   "ci"                  the CI flag (details.ci): the honest number can leave CI installs out;
#   "python_malformed"    pypistats.org's malformed-Python flag: its figures drop those rows;
#   "<breakdown>"         the breakdown exists at all (a name in generator.dimensions.NAMES);
#   "<breakdown>.by_installer"  its rows carry the installer, so it can be restricted to
#                         package-manager installs; without it, its rows have installer NULL and
#                         mean "all downloads" (analysis must not filter them as package managers).
ALL_CAPABILITIES: frozenset[str] = frozenset(
    {"ci", "python_malformed", *dimensions.NAMES, *(f"{b}.by_installer" for b in dimensions.NAMES)}
)
"""What the canonical SQL over file_downloads gives (local and BigQuery): everything."""

SOURCE_TITLES: dict[str, str] = {
    "local": "local event files in the file_downloads schema (the canonical SQL on DuckDB)",
    "bigquery": "BigQuery: bigquery-public-data.pypi.file_downloads",
    "clickpy": "ClickPy: ClickHouse's public daily PyPI aggregates (sql-clickhouse.clickhouse.com)",
}


def capabilities_of(source: object) -> frozenset[str]:
    """A source's capabilities; sources that do not declare any have them all."""
    return frozenset(getattr(source, "capabilities", ALL_CAPABILITIES))


def source_title(name: str) -> str:
    """A plain description of a source by its stored name."""
    return SOURCE_TITLES.get(name, name)
