"""Data sources. Each runs the canonical queries for a set of projects and days, and returns
aggregate rows in the one schema (generator.store.AGGREGATE_COLUMNS) as an Arrow table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

from generator.dates import Window


@dataclass(frozen=True)
class Job:
    """One scan: every listed project over one contiguous range of UTC days."""

    window: Window
    projects: tuple[str, ...]
    breakdowns: tuple[str, ...] = ()


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
    extra: dict[str, object] = field(default_factory=dict)


class Source(Protocol):
    name: str
    """Stored with every row ("local", "bigquery", "clickpy")."""
    synthetic: bool
    """True when the events are generated demo data; every page then says so."""

    def fetch(self, job: Job) -> FetchResult: ...

    def close(self) -> None: ...
