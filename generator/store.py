"""The aggregate store: one DuckDB file with daily aggregates, day coverage and the cost ledger.

Writes are idempotent per (source, project, day): a job's rows replace those days in one
transaction, so a crash or failed job leaves the store as it was before that job.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import functools
import json
import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from generator import dates, dimensions
from generator.dates import Window
from generator.errors import StoreError
from generator.leaderboard import RankedProject, Ranking

SCHEMA_VERSION = "1"

# The one aggregate schema every source produces (contract). `breakdown` names the grouping
# set (a dimension's name, or "total"); the dimension columns outside it are NULL.
AGGREGATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("day", "DATE"),
    ("project", "VARCHAR"),
    ("installer", "VARCHAR"),
    ("ci", "BOOLEAN"),
    ("python_malformed", "BOOLEAN"),
    ("breakdown", "VARCHAR"),
    *((column, "VARCHAR") for column in dimensions.COLUMNS),
    ("downloads", "BIGINT"),
)

_DDL = f"""
CREATE TABLE IF NOT EXISTS aggregates (
  source VARCHAR NOT NULL,
  {", ".join(f"{name} {kind}" for name, kind in AGGREGATE_COLUMNS)}
);
CREATE TABLE IF NOT EXISTS coverage (
  source VARCHAR NOT NULL,
  project VARCHAR NOT NULL,
  day DATE NOT NULL,
  fetched_at TIMESTAMP NOT NULL,
  shape INTEGER,
  partition_rows BIGINT,
  partition_modified TIMESTAMP,
  PRIMARY KEY (source, project, day)
);
CREATE TABLE IF NOT EXISTS ledger (
  run_id VARCHAR NOT NULL,
  job_id VARCHAR NOT NULL,
  source VARCHAR NOT NULL,
  finished_at TIMESTAMP NOT NULL,
  start_day DATE NOT NULL,
  end_day DATE NOT NULL,
  projects VARCHAR[] NOT NULL,
  ceiling_bytes BIGINT NOT NULL,
  bytes_processed BIGINT NOT NULL,
  bytes_billed BIGINT NOT NULL,
  dollars DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS before_store (
  project VARCHAR PRIMARY KEY,
  first_day DATE NOT NULL,
  downloads BIGINT NOT NULL,
  fetched_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS leaderboard_rankings (
  as_of DATE PRIMARY KEY,
  window_start DATE NOT NULL,
  data_through DATE NOT NULL,
  source VARCHAR NOT NULL,
  top INTEGER NOT NULL,
  made_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS leaderboard_rows (
  as_of DATE NOT NULL,
  rank INTEGER NOT NULL,
  project VARCHAR NOT NULL,
  installs BIGINT NOT NULL,
  downloads BIGINT NOT NULL,
  downloads_rank INTEGER NOT NULL,
  mirrors BIGINT NOT NULL,
  scripts BIGINT NOT NULL,
  unknown BIGINT NOT NULL,
  peak_days BIGINT NOT NULL,
  PRIMARY KEY (as_of, rank)
);
CREATE TABLE IF NOT EXISTS releases (
  project VARCHAR NOT NULL,
  version VARCHAR NOT NULL,
  uploaded TIMESTAMP,
  fetched_at TIMESTAMP NOT NULL,
  PRIMARY KEY (project, version)
);
"""
# coverage.shape: the shape of the day's rows (generator.dimensions.ROWS_SHAPE); NULL in a store from before
# it was recorded, read as 1 (`build --refresh` fetches those days again in this code's shape).
# coverage.partition_rows / partition_modified: the source's partition of that day when it was read
# (BigQuery's INFORMATION_SCHEMA.PARTITIONS: total_rows, last_modified_time); NULL when not known. A held
# day is fetched again when its partition no longer matches (generator.plan.changed_days).
# leaderboard_rankings / leaderboard_rows: the PyPI leaderboard of each as-of day (generator.leaderboard), kept
# compactly (ranks and counts, one row per ranked project) so rank changes survive a new runner via the export.
# releases: each version's upload time from PyPI's JSON API (its first file), asked once per release.
# `uploaded` NULL: PyPI had no file for that version (or no such project) when it was asked.


PAGE_COLUMNS = ("source", "day", "installer", "ci", "python_malformed", "breakdown", "value", "downloads", "within")
"""The columns `Store.page_rows` gives after `project`: an AggRow's, with the source first."""
# Sorted by package only: a sort on the whole key costs twice as much (pagerows orders each package's rows).
_PAGE_ROWS = f"""
SELECT project, source, day, installer, ci, python_malformed, breakdown,
  {dimensions.value_sql()} AS value, downloads, {dimensions.within_sql()} AS within
FROM aggregates
WHERE project IN (SELECT UNNEST($projects)) AND day <= $as_of
  AND (breakdown = $total OR (source = $source AND (breakdown IN (SELECT UNNEST($all_days)) OR day >= $month_start
       OR (breakdown IN (SELECT UNNEST($retained)) AND day >= $retained_start))))
ORDER BY project
"""  # noqa: S608 (the dimension names are constants)
_AGGREGATE_DIGEST = f"""
SELECT project, source, count(*),
  sum(hash({", ".join(name for name, _ in AGGREGATE_COLUMNS if name != "project")})::HUGEINT)
FROM aggregates
WHERE project IN (SELECT UNNEST($projects)) AND day <= $as_of
GROUP BY project, source
"""  # noqa: S608 (the store's column names are constants)
_COVERAGE_DIGEST = """
SELECT project, source, count(*), sum(hash(day, {shape})::HUGEINT)
FROM coverage
WHERE project IN (SELECT UNNEST($projects)) AND day <= $as_of
GROUP BY project, source
"""
_MEMORY = re.compile(r"\d+(\.\d+)?\s*[KMGT]?i?B", re.IGNORECASE)


def _memory_size(size: str) -> str:
    """`size` ('512MB'), checked to be digits and a unit only: it is formatted into a SET statement, which
    takes no parameters."""
    if not _MEMORY.fullmatch(size):
        raise ValueError(f"not a memory size: {size!r}")
    return size


@dataclass(frozen=True, slots=True)
class AggRow:
    """One aggregate row as the analysis reads it: the breakdown's own column is `value`."""

    day: dt.date
    installer: str | None
    ci: bool | None
    python_malformed: bool
    breakdown: str
    value: str | None
    downloads: int
    within: str | None = None
    """On a row of a breakdown counted within another dimension (dimensions.Within), that dimension's value
    (the OS of a distro row); None on every other row."""


@dataclass(frozen=True)
class LedgerEntry:
    run_id: str
    job_id: str
    source: str
    start_day: dt.date
    end_day: dt.date
    projects: tuple[str, ...]
    ceiling_bytes: int
    bytes_processed: int
    bytes_billed: int
    dollars: float
    finished_at: dt.datetime | None = None


@dataclass(frozen=True)
class PartitionState:
    """A source's partition of one day, as it was when the day was read: its row count and when data
    was last written to it (UTC, naive). A day whose partition no longer matches has changed."""

    rows: int
    modified: dt.datetime


@dataclass(frozen=True)
class BeforeStore:
    """A package's downloads on every day pepy/ClickPy hold before the store's first day for it.

    Fetched from ClickPy once per first day: past days do not change, so it is fetched again only
    when the store's first day for the package moves.
    """

    first_day: dt.date
    """The store's first day for the package when this was fetched: the count is of the days before it."""
    downloads: int


OLD_SHAPE = 1
"""The shape a day held without a recorded one is read as: fetched before distro rows carried the OS."""

UNKNOWN_BILL = -1
"""bytes_billed of a ledger row whose job's outcome is not known yet."""


def empty_aggregates() -> pa.Table:
    """An empty Arrow table in the aggregate schema."""
    con = duckdb.connect()
    cols = ", ".join(f"NULL::{kind} AS {name}" for name, kind in AGGREGATE_COLUMNS)
    return con.sql(f"SELECT {cols} LIMIT 0").to_arrow_table()


EXPORT_TABLES = ("aggregates", "coverage", "ledger", "meta")
"""The tables every data export holds."""
OPTIONAL_EXPORT_TABLES = ("before_store", "releases", "leaderboard_rankings", "leaderboard_rows")
"""Tables added later: exported, and loaded when the export has them (keyed, so INSERT OR REPLACE)."""


class Store:
    """An open store. Use `open_store()`; it holds an exclusive lock for writers."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path
        columns = {row[1] for row in con.execute("PRAGMA table_info('coverage')").fetchall()}
        # A store from before shapes were recorded, opened read-only (so not upgraded), has no column for it.
        self._shape = f"COALESCE(shape, {OLD_SHAPE})" if "shape" in columns else str(OLD_SHAPE)

    # -- coverage -----------------------------------------------------------------------
    def covered_days(self, source: str, projects: Iterable[str], window: Window) -> dict[str, set[dt.date]]:
        """For each project, the days in `window` the store holds complete data for."""
        out: dict[str, set[dt.date]] = {p: set() for p in projects}
        rows = self.con.execute(
            "SELECT project, day FROM coverage WHERE source = $source AND project IN (SELECT UNNEST($projects))"
            " AND day BETWEEN $start AND $end",
            {"source": source, "projects": list(out), "start": window.start, "end": window.end},
        ).fetchall()
        for project, day in rows:
            out[project].add(day)
        return out

    def partition_states(
        self, source: str, projects: Iterable[str], window: Window
    ) -> dict[dt.date, set[PartitionState | None]]:
        """For each day in `window` the store holds for any of `projects`: the partition states recorded
        when it was read, one per distinct state (None: a package whose day was read without one)."""
        rows = self.con.execute(
            "SELECT DISTINCT day, partition_rows, partition_modified FROM coverage WHERE source = $source"
            " AND project IN (SELECT UNNEST($projects)) AND day BETWEEN $start AND $end",
            {"source": source, "projects": list(projects), "start": window.start, "end": window.end},
        ).fetchall()
        out: dict[dt.date, set[PartitionState | None]] = {}
        for day, count, modified in rows:
            state = None if count is None or modified is None else PartitionState(int(count), modified)
            out.setdefault(day, set()).add(state)
        return out

    def sources_for(self, project: str) -> list[str]:
        """The sources the store holds days for, for one project (for the cross-check)."""
        rows = self.con.execute(
            "SELECT DISTINCT source FROM coverage WHERE project = $project ORDER BY source", {"project": project}
        ).fetchall()
        return [r[0] for r in rows]

    def day_range(self, source: str, project: str) -> tuple[dt.date, dt.date] | None:
        row = self.con.execute(
            "SELECT min(day), max(day) FROM coverage WHERE source = $source AND project = $project",
            {"source": source, "project": project},
        ).fetchone()
        return None if row is None or row[0] is None else (row[0], row[1])

    # -- writes -------------------------------------------------------------------------
    def replace_days(
        self,
        source: str,
        projects: Iterable[str],
        days: Iterable[dt.date],
        rows: pa.Table,
        ledger: LedgerEntry | None = None,
        shape: int = dimensions.ROWS_SHAPE,
        partitions: Mapping[dt.date, PartitionState] | None = None,
    ) -> None:
        """Replace (project, day) data for `days` with `rows`, and mark those days complete in `shape`.

        `days` are the days the source says are available; rows outside them are ignored. `shape`
        is that of `rows`: this code's queries give dimensions.ROWS_SHAPE. `partitions`: each day's
        source partition as it was read before the job (recorded with the day; a day without is NULL).
        One transaction, with the job's ledger row: all of it lands, or none of it.
        """
        projects = list(projects)
        day_list = sorted(set(days))
        if not day_list or not projects:
            if ledger is not None:
                self.record_job(ledger)
            return
        names = [n for n, _ in AGGREGATE_COLUMNS]
        self.con.register("incoming_rows", rows.select(names))
        try:
            self.con.execute("BEGIN TRANSACTION")
            params: dict[str, Any] = {"source": source, "projects": projects, "days": day_list}
            self.con.execute(
                "DELETE FROM aggregates WHERE source = $source AND project IN (SELECT UNNEST($projects))"
                " AND day IN (SELECT UNNEST($days))",
                params,
            )
            self.con.execute(
                f"INSERT INTO aggregates (source, {', '.join(names)})"  # noqa: S608
                f" SELECT $source, {', '.join(names)} FROM incoming_rows"
                " WHERE project IN (SELECT UNNEST($projects)) AND day IN (SELECT UNNEST($days))",
                params,
            )
            self.con.execute(
                "INSERT OR REPLACE INTO coverage (source, project, day, fetched_at, shape)"
                " SELECT $source, p.project, d.day, now()::TIMESTAMP, $shape"
                " FROM (SELECT UNNEST($projects) AS project) p, (SELECT UNNEST($days) AS day) d",
                {**params, "shape": shape},
            )
            for day, state in sorted((partitions or {}).items()):
                if day in day_list:
                    self.con.execute(
                        "UPDATE coverage SET partition_rows = $rows, partition_modified = $modified"
                        " WHERE source = $source AND project IN (SELECT UNNEST($projects)) AND day = $day",
                        {
                            "source": source,
                            "projects": projects,
                            "day": day,
                            "rows": state.rows,
                            "modified": _naive_utc(state.modified),
                        },
                    )
            if ledger is not None:
                self.record_job(ledger)
            self.con.execute("COMMIT")
        except BaseException:
            _rollback(self.con)
            raise
        finally:
            self.con.unregister("incoming_rows")

    def record_job(self, entry: LedgerEntry) -> None:
        """Write a job's ledger row; it replaces the row of the same job (outcome unknown until now)."""
        self.con.execute("DELETE FROM ledger WHERE job_id = $job_id", {"job_id": entry.job_id})
        self.con.execute(
            "INSERT INTO ledger VALUES ($run_id, $job_id, $source, $finished_at, $start_day, $end_day,"
            " $projects, $ceiling_bytes, $bytes_processed, $bytes_billed, $dollars)",
            {
                "run_id": entry.run_id,
                "job_id": entry.job_id,
                "source": entry.source,
                "finished_at": entry.finished_at or dates.utc_now().replace(tzinfo=None),
                "start_day": entry.start_day,
                "end_day": entry.end_day,
                "projects": list(entry.projects),
                "ceiling_bytes": entry.ceiling_bytes,
                "bytes_processed": entry.bytes_processed,
                "bytes_billed": entry.bytes_billed,
                "dollars": entry.dollars,
            },
        )

    def set_meta(self, key: str, value: Any) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES ($key, $value)", {"key": key, "value": json.dumps(value)})

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.con.execute("SELECT value FROM meta WHERE key = $key", {"key": key}).fetchone()
        return default if row is None else json.loads(row[0])

    def record_downloads_before_store(self, first_days: Mapping[str, dt.date], downloads: Mapping[str, int]) -> None:
        """Keep each package's downloads before its first day in the store (replacing an older first day's)."""
        for project, first_day in first_days.items():
            self.con.execute(
                "INSERT OR REPLACE INTO before_store VALUES ($project, $first_day, $downloads, now()::TIMESTAMP)",
                {"project": project, "first_day": first_day, "downloads": int(downloads.get(project, 0))},
            )

    # -- reads --------------------------------------------------------------------------
    def downloads_before_store(self, projects: Iterable[str]) -> dict[str, BeforeStore]:
        """The kept downloads before the store's first day, for the projects that have them."""
        rows = self.con.execute(
            "SELECT project, first_day, downloads FROM before_store WHERE project IN (SELECT UNNEST($projects))",
            {"projects": list(projects)},
        ).fetchall()
        return {project: BeforeStore(first_day, downloads) for project, first_day, downloads in rows}

    def rows(
        self,
        source: str,
        project: str,
        breakdowns: Iterable[str] = (dimensions.TOTAL,),
        window: Window | None = None,
    ) -> list[AggRow]:
        """Aggregate rows for one project, in the compact form the analysis reads."""
        sql = (
            f"SELECT day, installer, ci, python_malformed, breakdown, {dimensions.value_sql()}, downloads,"  # noqa: S608
            f" {dimensions.within_sql()} FROM aggregates WHERE source = $source AND project = $project"
            " AND breakdown IN (SELECT UNNEST($breakdowns))"
        )
        params: dict[str, Any] = {"source": source, "project": project, "breakdowns": list(breakdowns)}
        if window is not None:
            sql += " AND day BETWEEN $start AND $end"
            params.update(start=window.start, end=window.end)
        sql += " ORDER BY day, breakdown"
        return [AggRow(*r) for r in self.con.execute(sql, params).fetchall()]

    def held_days(self, projects: Iterable[str]) -> dict[str, dict[str, dict[dt.date, int]]]:
        """project → source → the days the store holds for it, oldest first, each with its rows' shape
        (dimensions.ROWS_SHAPE; OLD_SHAPE where none was recorded), for every source it has."""
        out: dict[str, dict[str, dict[dt.date, int]]] = {p: {} for p in projects}
        rows = self.con.execute(
            f"SELECT project, source, day, {self._shape} FROM coverage"  # noqa: S608 (a constant expression)
            " WHERE project IN (SELECT UNNEST($projects)) ORDER BY project, source, day",
            {"projects": list(out)},
        ).fetchall()
        for project, source, day, shape in rows:
            out[project].setdefault(source, {})[day] = shape
        return out

    def page_rows(
        self,
        source: str,
        projects: Sequence[str],
        as_of: dt.date,
        *,
        month_start: dt.date,
        all_days: Sequence[str],
        retained: Sequence[str],
        retained_start: dt.date,
        batch_rows: int,
        memory_limit: str,
    ) -> Generator[pa.RecordBatch, None, None]:
        """The rows package pages read, for many packages in one pass sorted by package, in Arrow batches.

        Total rows of every source, every day up to `as_of`; of `source` only: the `all_days`
        breakdowns every day, every breakdown from `month_start`, the `retained` ones from
        `retained_start`. Columns: project, then PAGE_COLUMNS. DuckDB sorts within `memory_limit`
        (spilling beyond it); the connection's own settings are put back when the stream ends.
        """
        params = {
            "projects": list(projects),
            "as_of": as_of,
            "source": source,
            "total": dimensions.TOTAL,
            "all_days": list(all_days),
            "month_start": month_start,
            "retained": list(retained),
            "retained_start": retained_start,
        }
        reader = None
        before = None
        try:
            before = self.con.execute(
                "SELECT current_setting('memory_limit'), current_setting('enable_progress_bar')"
            ).fetchone()
            self.limit_memory(memory_limit)
            self.con.execute("SET enable_progress_bar = false")
            reader = self.con.sql(_PAGE_ROWS, params=params).to_arrow_reader(batch_rows)
            yield from reader
        except duckdb.Error as exc:
            raise StoreError(
                f"{self.path}: the store cannot be read ({_first_line(exc)}); it may be corrupt: move it away and"
                " run build again to refetch, or restore it from the site's data export"
            ) from None
        finally:
            if reader is not None:
                reader.close()
            if before is not None:
                with suppress(duckdb.Error):
                    self.limit_memory(before[0])
                    self.con.execute(f"SET enable_progress_bar = {bool(before[1])}")

    def digests(self, projects: Iterable[str], as_of: dt.date) -> list[tuple[str, str, str, int, int]]:
        """(table, project, source, rows, sum of row hashes) of aggregates and coverage up to `as_of`.

        Two grouped scans, not a read of the rows: a cheap fingerprint of what each package's page reads.
        """
        params = {"projects": list(projects), "as_of": as_of}
        out = []
        coverage = _COVERAGE_DIGEST.format(shape=self._shape)
        for table, sql in (("rows", _AGGREGATE_DIGEST), ("days", coverage)):
            out += [(table, *row) for row in self.con.execute(sql, params).fetchall()]
        return out

    def versions_seen(self, projects: Iterable[str]) -> dict[str, set[str]]:
        """project → the package versions the data shows (any source, any day)."""
        out: dict[str, set[str]] = {p: set() for p in projects}
        rows = self.con.execute(
            "SELECT DISTINCT project, version FROM aggregates"
            " WHERE project IN (SELECT UNNEST($projects)) AND breakdown = $version AND version IS NOT NULL",
            {"projects": list(out), "version": dimensions.VERSION.name},
        ).fetchall()
        for project, version in rows:
            out[project].add(version)
        return out

    def release_uploads(self, projects: Iterable[str]) -> dict[str, dict[str, dt.datetime | None]]:
        """project → version → its upload time on PyPI (UTC; None where PyPI had none). Versions never asked: absent."""
        out: dict[str, dict[str, dt.datetime | None]] = {p: {} for p in projects}
        rows = self.con.execute(
            "SELECT project, version, uploaded FROM releases WHERE project IN (SELECT UNNEST($projects))",
            {"projects": list(out)},
        ).fetchall()
        for project, version, uploaded in rows:
            out[project][version] = uploaded
        return out

    def record_releases(self, project: str, uploads: Mapping[str, dt.datetime | None]) -> None:
        """Keep each version's upload time (None: PyPI has none), so it is never asked for again."""
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        self.con.executemany(
            "INSERT OR REPLACE INTO releases VALUES ($project, $version, $uploaded, $now)",
            [
                {"project": project, "version": v, "uploaded": None if t is None else _naive_utc(t), "now": now}
                for v, t in uploads.items()
            ],
        )

    # -- the leaderboard --------------------------------------------------------------------
    def record_ranking(self, ranking: Ranking, *, keep_from: dt.date | None = None) -> None:
        """Keep one as-of day's leaderboard (replacing a ranking of that day), in one transaction; with
        `keep_from`, the rankings of earlier as-of days go in the same transaction."""
        try:
            self.con.execute("BEGIN TRANSACTION")
            self.con.execute("DELETE FROM leaderboard_rows WHERE as_of = $as_of", {"as_of": ranking.as_of})
            if keep_from is not None:
                self.con.execute("DELETE FROM leaderboard_rows WHERE as_of < $day", {"day": keep_from})
                self.con.execute("DELETE FROM leaderboard_rankings WHERE as_of < $day", {"day": keep_from})
            self.con.execute(
                "INSERT OR REPLACE INTO leaderboard_rankings VALUES ($as_of, $start, $through, $source, $top,"
                " now()::TIMESTAMP)",
                {
                    "as_of": ranking.as_of,
                    "start": ranking.window_start,
                    "through": ranking.data_through,
                    "source": ranking.source,
                    "top": ranking.top,
                },
            )
            if ranking.rows:
                self.con.executemany(
                    "INSERT INTO leaderboard_rows VALUES ($as_of, $rank, $project, $installs, $downloads,"
                    " $downloads_rank, $mirrors, $scripts, $unknown, $peak_days)",
                    [{"as_of": ranking.as_of, **dataclasses.asdict(r)} for r in ranking.rows],
                )
            self.con.execute("COMMIT")
        except BaseException:
            _rollback(self.con)
            raise

    def ranking_days(self) -> list[dt.date]:
        """The as-of days the store keeps a leaderboard for, oldest first."""
        rows = self.con.execute("SELECT as_of FROM leaderboard_rankings ORDER BY as_of").fetchall()
        return [r[0] for r in rows]

    def ranking(self, as_of: dt.date) -> Ranking | None:
        """The kept leaderboard of one as-of day, if any."""
        head = self.con.execute(
            "SELECT as_of, window_start, data_through, source, top FROM leaderboard_rankings WHERE as_of = $as_of",
            {"as_of": as_of},
        ).fetchone()
        if head is None:
            return None
        rows = self.con.execute(
            "SELECT rank, project, installs, downloads, downloads_rank, mirrors, scripts, unknown, peak_days"
            " FROM leaderboard_rows WHERE as_of = $as_of ORDER BY rank",
            {"as_of": as_of},
        ).fetchall()
        return Ranking(head[0], head[1], head[2], head[3], head[4], tuple(RankedProject(*r) for r in rows))

    def latest_ranking(self, on_or_before: dt.date) -> Ranking | None:
        """The newest kept leaderboard whose as-of day is not after `on_or_before`."""
        row = self.con.execute(
            "SELECT max(as_of) FROM leaderboard_rankings WHERE as_of <= $day", {"day": on_or_before}
        ).fetchone()
        return None if row is None or row[0] is None else self.ranking(row[0])

    def category_days(
        self, source: str, window: Window, package_managers: Sequence[str], mirrors: Sequence[str]
    ) -> list[tuple[str, dt.date, int, int, int, int]]:
        """(project, day, downloads, installs, mirrors, unknown) per project and day of `window`, over every
        project the store holds for `source`: the leaderboard's categories from the store's own rows
        (installs = installers in `package_managers`, unknown = no installer name)."""
        return self.con.execute(
            "SELECT project, day, sum(downloads)::BIGINT,"
            " COALESCE(sum(downloads) FILTER (WHERE installer IN (SELECT UNNEST($pm))), 0)::BIGINT,"
            " COALESCE(sum(downloads) FILTER (WHERE installer IN (SELECT UNNEST($mirrors))), 0)::BIGINT,"
            " COALESCE(sum(downloads) FILTER (WHERE installer IS NULL OR installer = ''), 0)::BIGINT"
            " FROM aggregates WHERE source = $source AND breakdown = $total AND day BETWEEN $start AND $end"
            " GROUP BY project, day ORDER BY project, day",
            {
                "source": source,
                "total": dimensions.TOTAL,
                "start": window.start,
                "end": window.end,
                "pm": list(package_managers),
                "mirrors": list(mirrors),
            },
        ).fetchall()

    def limit_memory(self, limit: str) -> None:
        """Bound DuckDB's memory for this connection (a size such as '512MB'); it spills to disk beyond it."""
        self.con.execute(f"SET memory_limit = '{_memory_size(limit)}'")

    def keep_blocks(self, size: str) -> None:
        """Let DuckDB keep up to `size` of the memory blocks it has used, instead of handing each back to the
        system after a query and faulting fresh pages in for the next.

        DuckDB's export and row stream caused about 1.6 M of a 1,000-package build's 2.28 M page faults,
        for a store of 0.1 GB; with the blocks kept the build faulted 1.76 M. (The 10 to 42 s of system
        CPU that identical builds once spent were mostly the bench removing the previous build's files
        just before: see README's bench section.) Only blocks DuckDB used are kept, within what `limit_memory` lets it
        use at once.
        DuckDB cannot lower the setting, so a size smaller than the current one keeps the current one.
        """
        with suppress(duckdb.InvalidInputException):  # smaller than the current setting
            self.con.execute(f"SET block_allocator_memory = '{_memory_size(size)}'")

    def limit_threads(self, threads: int) -> None:
        """Let DuckDB work on this store with at most `threads` threads (the database's, every connection's).

        While pages render, the page workers have the machine's cores: a full build's export and row
        stream running in two threads beside them cost more CPU than in one (at 1,000 packages the export
        11.5 s against 7.9, faulting 690 k fresh pages against 115 k); in two threads, two exports of the
        same store also came out with files of different sizes.
        """
        if threads < 1:
            raise ValueError(f"DuckDB needs at least one thread, not {threads}")
        self.con.execute(f"SET threads = {int(threads)}")

    def holdings(self) -> tuple[int, int, dt.date | None, dt.date | None]:
        """(packages, distinct days, first day, last day) the coverage table holds."""
        row = self.con.execute(
            "SELECT count(DISTINCT project), count(DISTINCT day), min(day), max(day) FROM coverage"
        ).fetchone()
        assert row is not None
        return row[0], row[1], row[2], row[3]

    def reader(self) -> Store:
        """A second connection to this store's database, for one other thread to read from (a DuckDB
        connection serves one thread at a time); close it when done."""
        return Store(self.con.cursor(), self.path)

    def close(self) -> None:
        self.con.close()

    def interrupt(self) -> None:
        """Stop this connection's running query (from another thread); it raises there."""
        self.con.interrupt()

    def ledger(self) -> list[LedgerEntry]:
        """Every job whose outcome is known, oldest first."""
        return self._ledger("bytes_billed >= 0")

    def unknown_jobs(self, source: str) -> list[LedgerEntry]:
        """Jobs a past run started but never learned the outcome of (killed, or polling gave up)."""
        return [e for e in self._ledger("bytes_billed < 0") if e.source == source]

    def has_ledger(self, source: str) -> bool:
        row = self.con.execute("SELECT count(*) FROM ledger WHERE source = $source", {"source": source}).fetchone()
        return bool(row and row[0])

    def month_spend(self, source: str, since: dt.date) -> tuple[int, int]:
        """Since `since` (UTC): bytes billed by jobs whose outcome is known, and the ceilings of those
        whose outcome is not (they count in full until looked up)."""
        row = self.con.execute(
            "SELECT COALESCE(SUM(bytes_billed) FILTER (WHERE bytes_billed >= 0), 0),"
            " COALESCE(SUM(ceiling_bytes) FILTER (WHERE bytes_billed < 0), 0)"
            " FROM ledger WHERE source = $source AND finished_at >= $since",
            {"source": source, "since": since},
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _ledger(self, condition: str) -> list[LedgerEntry]:
        rows = self.con.execute(
            "SELECT run_id, job_id, source, start_day, end_day, projects, ceiling_bytes, bytes_processed,"  # noqa: S608
            f" bytes_billed, dollars, finished_at FROM ledger WHERE {condition} ORDER BY finished_at, job_id"
        ).fetchall()
        return [LedgerEntry(r[0], r[1], r[2], r[3], r[4], tuple(r[5]), r[6], r[7], r[8], r[9], r[10]) for r in rows]

    def export_parquet(self, directory: Path, tables: Iterable[str] | None = None) -> tuple[str, ...]:
        """Write every table (or those of `tables`) but the aggregates as Parquet: the site's data export,
        from which CI can restore (the aggregates, a file a month: `export_month`).

        Returns the tables written: a store made before an optional table existed, opened read-only
        (`export-store`) and so not upgraded, has none of it to export.
        """
        directory.mkdir(parents=True, exist_ok=True)
        present = {row[0] for row in self.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        wanted = set(EXPORT_TABLES + OPTIONAL_EXPORT_TABLES if tables is None else tables) - {"aggregates"}
        tables = tuple(t for t in (*EXPORT_TABLES, *(t for t in OPTIONAL_EXPORT_TABLES if t in present)) if t in wanted)
        for table in tables:
            # The relational API takes the path as a value: nothing is formatted into SQL.
            self.con.table(table).to_parquet(str(directory / f"{table}.parquet"))
        return tables

    def aggregate_months(self) -> dict[str, str]:
        """Per calendar month of the aggregates ("2026-10"): a digest of its rows (their count and the sum
        of each row's hash), which changes when any row of the month does. One scan, no row read out."""
        columns = [row[1] for row in self.con.execute("PRAGMA table_info('aggregates')").fetchall()]
        hashed = ", ".join(f'"{c}"' for c in columns)  # the table's own column names, quoted
        # Grouped by the month's first day, named in Python: strftime per row cost a fifth of the scan.
        rows = self.con.execute(
            f"SELECT date_trunc('month', day) AS month, count(*), sum(hash({hashed}))"  # noqa: S608
            " FROM aggregates GROUP BY month ORDER BY month"
        ).fetchall()
        return {month.strftime("%Y-%m"): f"{count}:{total}" for month, count, total in rows}

    def export_month(self, month: str, path: Path) -> None:
        """Write one calendar month of the aggregates ("2026-10") as Parquet."""
        start = dt.date.fromisoformat(f"{month}-01")
        end = (start + dt.timedelta(days=31)).replace(day=1)
        # A range of days, not a month name: DuckDB skips the row groups outside it by their min and max.
        self.con.sql(
            "SELECT * FROM aggregates WHERE day >= $start AND day < $end", params={"start": start, "end": end}
        ).to_parquet(str(path))

    def load_export(self, directory: Path) -> None:
        """Merge a data export written by `export_parquet` into this store, in one transaction.

        Tables without a key (aggregates, ledger) cannot take INSERT OR REPLACE: the export's
        (source, project, day) rows replace the store's, and ledger rows are added once per job.
        """
        paths = {t: directory / f"{t}.parquet" for t in EXPORT_TABLES if t != "aggregates"}
        # The aggregates are a file a month (aggregates-2026-10.parquet); an older export has one file.
        months = sorted(str(path) for path in directory.glob("aggregates-*.parquet"))
        single = directory / "aggregates.parquet"
        aggregates = months or ([str(single)] if single.is_file() else [])
        for path in paths.values():
            if not path.is_file():
                raise StoreError(f"{path}: missing from the data export")
        p = {t: str(path) for t, path in paths.items()}
        try:
            self.con.execute("BEGIN TRANSACTION")
            if aggregates:
                self.con.execute(
                    "DELETE FROM aggregates WHERE (source, project, day) IN"
                    " (SELECT DISTINCT source, project, day FROM read_parquet($p))",
                    {"p": aggregates},
                )
                # By name: an export from before a dimension was added lacks its column (NULL here).
                self.con.execute("INSERT INTO aggregates BY NAME SELECT * FROM read_parquet($p)", {"p": aggregates})
            # By name: an export from before shapes were recorded has none (NULL: read as OLD_SHAPE).
            self.con.execute(
                "INSERT OR REPLACE INTO coverage BY NAME SELECT * FROM read_parquet($p)", {"p": p["coverage"]}
            )
            # A job the store knows the outcome of keeps its row; the export's row wins over an unknown one.
            self.con.execute(
                "DELETE FROM ledger WHERE bytes_billed < 0 AND job_id IN (SELECT job_id FROM read_parquet($p))",
                {"p": p["ledger"]},
            )
            self.con.execute(
                "INSERT INTO ledger SELECT * FROM read_parquet($p) WHERE job_id NOT IN (SELECT job_id FROM ledger)",
                {"p": p["ledger"]},
            )
            self.con.execute("INSERT OR REPLACE INTO meta SELECT * FROM read_parquet($p)", {"p": p["meta"]})
            rows_path = directory / "leaderboard_rows.parquet"
            if rows_path.is_file():  # an exported day's ranking replaces the store's whole ranking of that day
                self.con.execute(
                    "DELETE FROM leaderboard_rows WHERE as_of IN (SELECT DISTINCT as_of FROM read_parquet($p))",
                    {"p": str(rows_path)},
                )
            for table in OPTIONAL_EXPORT_TABLES:  # an export from before the table existed has no file for it
                path = directory / f"{table}.parquet"
                if path.is_file():
                    self.con.execute(
                        f"INSERT OR REPLACE INTO {table} BY NAME SELECT * FROM read_parquet($p)",  # noqa: S608
                        {"p": str(path)},
                    )
            self.con.execute("COMMIT")
        except BaseException:
            _rollback(self.con)
            raise


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path), read_only=read_only)
        con.execute("SET TimeZone = 'UTC'")
        if not read_only:
            con.execute(_DDL)
            _add_new_columns(con)
            con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', $v)", {"v": json.dumps(SCHEMA_VERSION)})
        return con
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreError(f"{path}: the store is in use by another build; wait for it to finish") from None
        raise StoreError(
            f"{path}: the store cannot be opened ({_first_line(exc)}); it may be corrupt: move it away"
            " and run build again to refetch, or restore it from the site's data export"
        ) from None
    except duckdb.Error as exc:
        raise StoreError(
            f"{path}: the store is corrupt or not a DuckDB file ({_first_line(exc)}); move it away and run"
            " build again to refetch, or restore it from the site's data export"
        ) from None


def _add_new_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Give a store made before a dimension joined the registry that dimension's column, and one made
    before row shapes were recorded the coverage column for it.

    Its rows from before have NULL there, and no rows of the new breakdown; its days have no shape
    (read as OLD_SHAPE). Days already fetched get both with `build --refresh`. Writes name their
    columns, so a column's place does not matter.
    """
    have = {row[1] for row in con.execute("PRAGMA table_info('aggregates')").fetchall()}
    for name, kind in AGGREGATE_COLUMNS:
        if name not in have:
            con.execute(f"ALTER TABLE aggregates ADD COLUMN {name} {kind}")  # the registry's constant names
    coverage = {row[1] for row in con.execute("PRAGMA table_info('coverage')").fetchall()}
    for name, kind in (("shape", "INTEGER"), ("partition_rows", "BIGINT"), ("partition_modified", "TIMESTAMP")):
        if name not in coverage:
            con.execute(f"ALTER TABLE coverage ADD COLUMN {name} {kind}")  # constant names


def _naive_utc(t: dt.datetime) -> dt.datetime:
    """A TIMESTAMP column holds UTC without a zone."""
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # A COMMIT that failed (e.g. disk full while writing the WAL) has already ended the transaction;
    # the ROLLBACK's "no transaction is active" must not hide the error that says why.
    with suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _store_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """Turn DuckDB's I/O and corruption errors inside a store method into one StoreError line.

    A damaged block is often only found when a query reads it, long after the store opened, and a
    full disk only when a job's rows are written (that job's transaction is rolled back).
    """

    @functools.wraps(method)
    def guarded(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except duckdb.Error as exc:
            text = _first_line(exc)
            if "no space left" in text.lower():
                raise StoreError(
                    f"{self.path}: cannot write the store, the disk is full ({text}); free some space and run"
                    " build again (the store keeps what it held before this job)"
                ) from None
            damaged = isinstance(exc, duckdb.FatalException | duckdb.InternalException) or "corrupt" in text.lower()
            if not (damaged or isinstance(exc, duckdb.IOException)):
                raise
            raise StoreError(
                f"{self.path}: the store cannot be read or written ({text}); it may be corrupt: move it away and"
                " run build again to refetch, or restore it from the site's data export"
            ) from None

    return guarded


_GUARDED = (
    "covered_days",
    "sources_for",
    "day_range",
    "replace_days",
    "record_job",
    "set_meta",
    "get_meta",
    "record_downloads_before_store",
    "downloads_before_store",
    "rows",
    "held_days",
    "digests",
    "holdings",
    "record_ranking",
    "ranking_days",
    "ranking",
    "latest_ranking",
    "category_days",
)
for _name in (*_GUARDED, "ledger", "unknown_jobs", "has_ledger", "month_spend", "load_export"):
    if hasattr(Store, _name):
        setattr(Store, _name, _store_errors(getattr(Store, _name)))


_HELD_LOCKS: set[str] = set()
"""Store lock files this process holds (`store_lock` is re-entrant within a process)."""


@contextmanager
def store_lock(path: Path) -> Iterator[None]:
    """The writers' exclusive lock on a store (flock on `<store>.lock`), refused at once if another process has it.

    A build holds it from its first read to its last page (`build.build`), while its one connection streams
    the packages' rows to the page workers: a second build must not open the store for writing in between.
    """
    key = os.path.abspath(str(path) + ".lock")
    if key in _HELD_LOCKS:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreError(f"{path}: another build holds the store lock; wait for it to finish, then run again") from None
    _HELD_LOCKS.add(key)
    try:
        yield
    finally:
        _HELD_LOCKS.discard(key)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def open_store(path: Path, *, read_only: bool = False) -> Iterator[Store]:
    """Open the store; writers take an exclusive lock so two builds never write at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if read_only and not path.exists():
        raise StoreError(f"{path}: no store yet; run build first")
    with nullcontext() if read_only else store_lock(path):
        con = _connect(path, read_only)
        try:
            yield Store(con, path)
        finally:
            con.close()
