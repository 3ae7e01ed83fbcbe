"""A local fake of the BigQuery REST v2 API, the part google-cloud-bigquery uses for queries.

Point the real client at it; nothing in the client is mocked:

    with FakeBigQuery(events_dir) as fake:
        client = fake.client()   # bigquery.Client(client_options={"api_endpoint": fake.url}, AnonymousCredentials)

Endpoints, under /bigquery/v2/projects/{project}:
    POST jobs              jobs.insert (query jobs; configuration.dryRun included)
    GET  jobs              jobs.list (the caller's jobs, minCreationTime, pageToken)
    GET  jobs/{id}         jobs.get
    POST jobs/{id}/cancel  jobs.cancel
    GET  queries/{id}      jobs.getQueryResults (maxResults, pageToken, startIndex)
    POST queries           jobs.query
Errors always carry a reason (a bare 500 makes the client retry for 10 minutes).

IAM: the fake is started with the calling identity's roles (or single permissions) and refuses, with
BigQuery's 403 accessDenied naming the permission, every call IAM_RULES says needs one it lacks;
each rule cites Google's page. Default identity: roles/bigquery.jobUser, the README's role.

The SQL received is first analyzed by ZetaSQL, GoogleSQL's reference analyzer, against the table's
schema and the parameter types sent (a statement it rejects is an invalidQuery, as on BigQuery), then
run on DuckDB (sqlglot, `generator.sql.to_duckdb`) over an event table in the `file_downloads`
schema, with the job's queryParameters bound as DuckDB parameters (NAMED mode).

Byte accounting, by BigQuery's documented data-size rules: STRING = 2 bytes + UTF-8 length,
BOOL 1, INT64 / FLOAT64 / TIMESTAMP / DATE 8, NULL 0, a RECORD is the sum of its leaves.
- Columns read: the leaf columns the query references in each scope that selects from the
  table (found with sqlglot); `SELECT *` or a bare RECORD reads every leaf beneath it.
- Partitions read: the days whose timestamps can pass the scope's WHERE conjuncts that involve
  only `timestamp` (evaluated on a one-minute grid of each day plus its last microsecond). No
  such conjunct: every partition.
- Block model (clustering): each day's rows are sorted by `project` and cut into blocks of
  `block_rows` rows. A real job reads only the blocks holding a row that passes the scope's
  conjuncts on `project` alone (the clustering column); a filter on `file.project` prunes nothing.
- The dry run (and the `maximumBytesBilled` check) counts every block of the partitions read:
  it ignores clustering, like BigQuery's estimate most of the time. The job's bill counts only the
  blocks read. Both are rounded up to the MiB, at least 10 MiB per table reference. BigQuery has
  also been seen pricing dry runs after pruning, and checking the cap against another figure than
  the dry run's: `dry_run_mode=` picks one of DRY_RUN_MODES.
- `row_weight` scales bytes, as if every stored row stood for that many real ones (benchmarks).
`maximumBytesBilled` below the rounded estimate fails the job with `bytesBilledLimitExceeded`.

Partition metadata: `bigquery-public-data.pypi.INFORMATION_SCHEMA.PARTITIONS` answers one row per
day of the event table (partition_id 'YYYYMMDD', total_rows = the day's rows x `row_weight`,
last_modified_time), billed 10 MiB like any INFORMATION_SCHEMA query. `append_events` adds rows to
some days, as PyPI's late or reloaded rows do: their last_modified_time becomes the fake's clock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import decimal
import functools
import json
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from generator.sql import to_duckdb
from generator.sqlrewrite import PUBLIC_TABLE

from .loopback import LoopbackFake, LoopbackHandler

MIB = 1024**2
MIN_BILLED_PER_TABLE = 10 * MIB

# -- the file_downloads schema, as BigQuery types --------------------------------------------------
# Written out here from Google's published table, not derived from generator.sources.local.SCHEMA:
# the fake stands for the service, so a drift in what the generator expects must fail a test.
Schema = Mapping[str, Any]
"""name -> BigQuery type name, or a nested Schema for a RECORD."""

FILE_DOWNLOADS: Schema = {
    "timestamp": "TIMESTAMP",
    "country_code": "STRING",
    "url": "STRING",
    "project": "STRING",
    "file": {"filename": "STRING", "project": "STRING", "version": "STRING", "type": "STRING"},
    "details": {
        "installer": {"name": "STRING", "version": "STRING"},
        "python": "STRING",
        "implementation": {"name": "STRING", "version": "STRING"},
        "distro": {
            "name": "STRING",
            "version": "STRING",
            "id": "STRING",
            "libc": {"lib": "STRING", "version": "STRING"},
        },
        "system": {"name": "STRING", "release": "STRING"},
        "cpu": "STRING",
        "openssl_version": "STRING",
        "setuptools_version": "STRING",
        "rustc_version": "STRING",
        "ci": "BOOL",
    },
    "tls_protocol": "STRING",
    "tls_cipher": "STRING",
}
_DUCK_TYPES = {"STRING": "VARCHAR", "BOOL": "BOOLEAN", "TIMESTAMP": "TIMESTAMPTZ", "INT64": "BIGINT"}
_FIXED_SIZE = {"BOOL": 1, "INT64": 8, "FLOAT64": 8, "TIMESTAMP": 8, "DATE": 8}


def duck_type(spec: Any) -> str:
    if isinstance(spec, Mapping):
        return "STRUCT(" + ", ".join(f'"{k}" {duck_type(v)}' for k, v in spec.items()) + ")"
    return _DUCK_TYPES[spec]


def leaves(schema: Schema = FILE_DOWNLOADS, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every leaf column as (path, BigQuery type), in schema order."""
    out: list[tuple[tuple[str, ...], str]] = []
    for name, spec in schema.items():
        path = (*prefix, name)
        if isinstance(spec, Mapping):
            out.extend(leaves(spec, path))
        else:
            out.append((path, spec))
    return out


LEAVES = leaves()


def _leaf_ref(path: tuple[str, ...]) -> str:
    ref = f'"{path[0]}"'
    for part in path[1:]:
        ref = f"struct_extract({ref}, '{part}')"
    return ref


def _size_sql(path: tuple[str, ...], kind: str) -> str:
    """Bytes one row stores in this leaf, by BigQuery's data-size rules."""
    ref = _leaf_ref(path)
    if kind == "STRING":
        return f"COALESCE(2 + strlen({ref}), 0)"
    return f"CASE WHEN {ref} IS NULL THEN 0 ELSE {_FIXED_SIZE[kind]} END"


def billed_bytes(n: int, tables: int = 1) -> int:
    """BigQuery's on-demand rounding: up to the MiB, at least 10 MiB per table reference."""
    return max(-(-n // MIB) * MIB, MIN_BILLED_PER_TABLE * max(1, tables))


# -- recorded requests and jobs ---------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    route: str


@dataclass
class ReceivedJob:
    """A query job as the fake received it (jobs.insert or jobs.query)."""

    job_id: str
    api: str
    dry_run: bool
    query: str
    parameters: list[dict[str, Any]]
    """queryParameters exactly as sent (REST form)."""
    maximum_bytes_billed: int | None
    labels: dict[str, str]
    use_legacy_sql: bool | None
    use_query_cache: bool | None
    estimate_bytes: int = 0
    """The dry-run estimate in bytes, before rounding (what a dry run's totalBytesProcessed says)."""
    processed_bytes: int = 0
    billed_bytes: int = 0
    error_reason: str | None = None

    @property
    def param_types(self) -> dict[str, str]:
        """name -> type as BigQuery writes it, e.g. {"projects": "ARRAY<STRING>", "start": "DATE"}."""
        return {p["name"]: _type_name(p["parameterType"]) for p in self.parameters}

    @property
    def param_values(self) -> dict[str, Any]:
        return {p["name"]: _param_value(p["parameterType"], p.get("parameterValue") or {}) for p in self.parameters}


@dataclass(frozen=True)
class Accounting:
    """What a query reads and costs under the fake's byte model (see the module docstring)."""

    tables: int
    columns: tuple[str, ...]
    partitions: tuple[dt.date, ...]
    estimate_bytes: int
    """Dry run: every block of the partitions read (no cluster pruning)."""
    processed_bytes: int
    """Real job: only the blocks holding the filtered projects."""

    @property
    def estimate_billed_bytes(self) -> int:
        """The least maximumBytesBilled that lets the job start."""
        return billed_bytes(self.estimate_bytes, self.tables)

    @property
    def billed_bytes(self) -> int:
        return billed_bytes(self.processed_bytes, self.tables)


@dataclass(frozen=True)
class EventsQuery:
    """Events given as a DuckDB SELECT yielding the file_downloads columns (benchmarks)."""

    sql: str


class QueryError(Exception):
    """The fake cannot run this SQL: reported to the client as invalidQuery."""


@dataclass
class _Failure:
    status: int
    reason: str
    message: str
    route: str | None
    after_processing: bool
    dry_run: bool | None = None


@dataclass
class _Job:
    record: ReceivedJob
    project: str
    location: str
    configuration: dict[str, Any]
    created_ms: int
    accounting: Accounting | None = None
    schema: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    arrow: pa.Table | None = None
    error: tuple[str, str] | None = None


# -- parameters -------------------------------------------------------------------------------------
def _type_name(ptype: Mapping[str, Any]) -> str:
    kind = ptype["type"]
    if kind == "ARRAY":
        return f"ARRAY<{_type_name(ptype['arrayType'])}>"
    if kind == "STRUCT":
        inner = ", ".join(f"{t.get('name', '')} {_type_name(t['type'])}".strip() for t in ptype["structTypes"])
        return f"STRUCT<{inner}>"
    return str(kind)


def _param_value(ptype: Mapping[str, Any], pvalue: Mapping[str, Any]) -> Any:
    kind = ptype["type"]
    if kind == "ARRAY":
        return [_param_value(ptype["arrayType"], v) for v in pvalue.get("arrayValues", [])]
    if kind == "STRUCT":
        values = pvalue.get("structValues", {})
        return {t["name"]: _param_value(t["type"], values.get(t["name"], {})) for t in ptype["structTypes"]}
    value = pvalue.get("value")
    if value is None:
        return None
    converters: dict[str, Callable[[Any], Any]] = {
        "STRING": str,
        "INT64": int,
        "FLOAT64": float,
        "NUMERIC": decimal.Decimal,
        "BIGNUMERIC": decimal.Decimal,
        "BOOL": lambda v: str(v).lower() == "true",
        "DATE": dt.date.fromisoformat,
        "TIMESTAMP": _parse_timestamp,
        "DATETIME": dt.datetime.fromisoformat,
    }
    if kind not in converters:
        raise QueryError(f"parameter type {kind} is not supported by this fake")
    return converters[kind](value)


def _parse_timestamp(text: str) -> dt.datetime:
    text = text.replace(" UTC", "+00:00").replace("Z", "+00:00")
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# -- results as REST JSON ---------------------------------------------------------------------------
def _bq_field(name: str, kind: pa.DataType) -> dict[str, Any]:
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        inner = _bq_field(name, kind.value_type)
        return {**inner, "mode": "REPEATED"}
    if pa.types.is_struct(kind):
        fields = [_bq_field(kind.field(i).name, kind.field(i).type) for i in range(kind.num_fields)]
        return {"name": name, "type": "RECORD", "mode": "NULLABLE", "fields": fields}
    checks: list[tuple[Callable[[pa.DataType], bool], str]] = [
        (pa.types.is_boolean, "BOOLEAN"),
        (pa.types.is_integer, "INTEGER"),
        (pa.types.is_floating, "FLOAT"),
        (pa.types.is_date, "DATE"),
        (pa.types.is_timestamp, "TIMESTAMP"),
        (pa.types.is_time, "TIME"),
        (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t), "STRING"),
        (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t), "BYTES"),
    ]
    for check, name_ in checks:
        if check(kind):
            return {"name": name, "type": name_, "mode": "NULLABLE"}
    if pa.types.is_decimal(kind):
        # DuckDB's HUGEINT sums arrive as decimal(38, 0): whole numbers, INTEGER to BigQuery.
        return {"name": name, "type": "INTEGER" if kind.scale == 0 else "NUMERIC", "mode": "NULLABLE"}
    raise QueryError(f"result type {kind} is not supported by this fake")


def _encode(value: Any, fld: Mapping[str, Any], int64_timestamps: bool) -> Any:
    if value is None:
        return None
    if fld.get("mode") == "REPEATED":
        scalar = {**fld, "mode": "NULLABLE"}
        return [{"v": _encode(v, scalar, int64_timestamps)} for v in value]
    kind = fld["type"]
    if kind == "RECORD":
        return {"f": [{"v": _encode(value.get(f["name"]), f, int64_timestamps)} for f in fld["fields"]]}
    if kind == "BOOLEAN":
        return "true" if value else "false"
    if kind == "TIMESTAMP":
        micros = int(value.timestamp() * 1_000_000) if isinstance(value, dt.datetime) else int(value)
        return str(micros) if int64_timestamps else str(micros / 1_000_000)
    if kind in ("DATE", "TIME"):
        return value.isoformat()
    if kind == "BYTES":
        import base64

        return base64.b64encode(value).decode()
    return str(value)


def _first_write(day: dt.date) -> dt.datetime:
    """A partition's last write when the fake starts: its day's last rows land within the next hours."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(3), dt.UTC)


# -- the event table and the byte model ---------------------------------------------------------------
class EventTable:
    """Events in DuckDB under `bigquery-public-data`.pypi.file_downloads, with per-block byte sizes."""

    def __init__(self, events: Any, *, block_rows: int, row_weight: float) -> None:
        self.block_rows = block_rows
        self.row_weight = row_weight
        self.lock = threading.RLock()
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self._load(events)
        self.con.execute("ATTACH ':memory:' AS \"bigquery-public-data\"")
        self.con.execute('CREATE SCHEMA "bigquery-public-data".pypi')
        cols = ", ".join(f'"{c}"' for c in FILE_DOWNLOADS)
        self.con.execute(
            f'CREATE VIEW "bigquery-public-data".pypi.file_downloads AS SELECT {cols} FROM memory.main.events'  # noqa: S608
        )
        self._blocks = self._block_bytes()
        self._counts = dict(self._day_counts())
        self.modified: dict[dt.date, dt.datetime] = {day: _first_write(day) for day in self._counts}
        """Each partition's last_modified_time (INFORMATION_SCHEMA.PARTITIONS)."""

    def append(self, events: Any, *, at: dt.datetime) -> list[dt.date]:
        """Add events (any form the constructor takes) to the table, as rows landing late in their days'
        partitions at `at`: those partitions' last_modified_time becomes `at`. Returns the days touched."""
        with self.lock:
            self.con.execute("ALTER TABLE events RENAME TO __previous")
            self.con.execute("DROP TABLE __grid")
            self._load(events)
            self.con.execute("DROP TABLE __previous")
            before = set(self.modified)
            counts = dict(self._day_counts())
            self._blocks = self._block_bytes()
            touched = sorted(d for d in counts if d not in before or counts[d] != self._counts.get(d))
            for day in touched:
                self.modified[day] = max(at, self.modified.get(day, at) + dt.timedelta(microseconds=1))
            self._counts = counts
            return touched

    def partitions(self) -> list[tuple[dt.date, int, dt.datetime]]:
        """(day, total_rows, last_modified_time) of every daily partition, as INFORMATION_SCHEMA.PARTITIONS has them."""
        with self.lock:
            return [(day, round(n * self.row_weight), self.modified[day]) for day, n in sorted(self._counts.items())]

    def _day_counts(self) -> list[tuple[dt.date, int]]:
        return [(r[0], int(r[1])) for r in self.con.execute("SELECT __day, count(*) FROM events GROUP BY 1").fetchall()]

    # -- loading ---------------------------------------------------------------------------------
    def _load(self, events: Any) -> None:
        if events is None:
            staging = "SELECT " + ", ".join(f'NULL::{duck_type(v)} AS "{k}"' for k, v in FILE_DOWNLOADS.items())
            self._create(staging + " LIMIT 0")
        elif isinstance(events, EventsQuery):
            self._create(events.sql)
        elif isinstance(events, pa.Table):
            self.con.register("incoming_events", events)
            self._create(self._projection("incoming_events", events.schema))
        elif isinstance(events, str | Path):
            self._load_path(Path(events))
        else:
            self._load_rows(list(events))

    def _load_rows(self, rows: list[Mapping[str, Any]]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "events.ndjson"
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            self._load_path(path)

    def _load_path(self, path: Path) -> None:
        files = sorted(path.iterdir()) if path.is_dir() else [path]
        json_files = [str(p) for p in files if p.suffix in (".jsonl", ".ndjson")]
        parquet = [p for p in files if p.suffix == ".parquet"]
        parts: list[str] = []
        if json_files:
            columns = {k: ("VARCHAR" if k == "timestamp" else duck_type(v)) for k, v in FILE_DOWNLOADS.items()}
            rel = self.con.read_json(json_files, format="newline_delimited", columns=columns)
            rel.create_view("json_events")
            select = ", ".join(
                "CAST(timestamp AS TIMESTAMPTZ) AS timestamp" if k == "timestamp" else f'"{k}"' for k in FILE_DOWNLOADS
            )
            parts.append(f"SELECT {select} FROM json_events")  # noqa: S608
        for i, p in enumerate(parquet):
            table = self.con.read_parquet(str(p)).to_arrow_table()
            self.con.register(f"parquet_events_{i}", table)
            parts.append(self._projection(f"parquet_events_{i}", table.schema))
        if not parts:
            raise ValueError(f"{path}: no *.ndjson, *.jsonl or *.parquet event files")
        self._create(" UNION ALL ".join(parts))

    @staticmethod
    def _projection(relation: str, schema: pa.Schema) -> str:
        present = set(schema.names)
        cols = []
        for k, v in FILE_DOWNLOADS.items():
            cols.append(f'CAST("{k}" AS {duck_type(v)}) AS "{k}"' if k in present else f'NULL::{duck_type(v)} AS "{k}"')
        return f"SELECT {', '.join(cols)} FROM {relation}"  # noqa: S608

    def _create(self, select_sql: str) -> None:
        if self.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '__previous'").fetchone()[0]:
            # Appending (EventTable.append): the table's rows so far, then the new ones.
            cols = ", ".join(f'"{c}"' for c in FILE_DOWNLOADS)
            select_sql = f"SELECT {cols} FROM __previous UNION ALL SELECT {cols} FROM ({select_sql})"  # noqa: S608
        # Clustering: within each day, rows sorted by project, cut into blocks of block_rows rows.
        self.con.execute(
            "CREATE TABLE events AS SELECT *, CAST(timestamp AS DATE) AS __day,"  # noqa: S608
            " (row_number() OVER (PARTITION BY CAST(timestamp AS DATE) ORDER BY project NULLS FIRST, timestamp)"
            f" - 1) // {int(self.block_rows)} AS __block FROM ({select_sql})"
        )
        # A grid of instants in each day, to decide which partitions a timestamp filter can reach.
        self.con.execute(
            "CREATE TABLE __grid AS SELECT d.__day, CAST(d.__day AS TIMESTAMPTZ)"
            " + to_microseconds(LEAST(r.m * 60000000, 86399999999)) AS timestamp"
            " FROM (SELECT DISTINCT __day FROM events) d, range(0, 1441) r(m)"
        )

    def _block_bytes(self) -> dict[tuple[dt.date, int], list[int]]:
        sums = ", ".join(f"SUM({_size_sql(path, kind)})" for path, kind in LEAVES)
        rows = self.con.execute(f"SELECT __day, __block, {sums} FROM events GROUP BY ALL").fetchall()  # noqa: S608
        return {(r[0], int(r[1])): [int(v or 0) for v in r[2:]] for r in rows}

    @property
    def days(self) -> list[dt.date]:
        return sorted({day for day, _ in self._blocks})

    # -- accounting ------------------------------------------------------------------------------
    def account(self, sql: str, params: Mapping[str, Any]) -> Accounting:
        """Bytes the query reads, as a dry run (estimate) and as a real job (after cluster pruning)."""
        scans = analyze(sql)
        columns = {LEAVES[i][0] for scan in scans for i in scan.leaves}
        all_partitions: set[dt.date] = set()
        estimate = processed = 0
        for scan in scans:
            if scan.partition is None:
                # The public table has require_partition_filter: a scan with no filter on timestamp is refused.
                raise QueryError(
                    "Cannot query over table 'bigquery-public-data.pypi.file_downloads' without a filter over"
                    " column(s) 'timestamp' that can be used for partition elimination"
                )
            days = {r[0] for r in self._run(scan.partition, params)}
            blocks = None if scan.cluster is None else {(r[0], int(r[1])) for r in self._run(scan.cluster, params)}
            all_partitions.update(days)
            for (day, block), sizes in self._blocks.items():
                if day not in days:
                    continue
                size = sum(sizes[i] for i in scan.leaves)
                estimate += size
                if blocks is None or (day, block) in blocks:
                    processed += size
        return Accounting(
            tables=len(scans),
            columns=tuple(".".join(p) for p in sorted(columns)),
            partitions=tuple(sorted(all_partitions)),
            estimate_bytes=round(estimate * self.row_weight),
            processed_bytes=round(processed * self.row_weight),
        )

    def _run(self, query: _Probe, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.con.execute(query.sql, {k: params[k] for k in query.params}).fetchall()

    # -- execution -------------------------------------------------------------------------------
    def execute(self, sql: str, params: Mapping[str, Any], *, limit_zero: bool = False) -> pa.Table:
        """Run BigQuery SQL on DuckDB, binding only the parameters the SQL uses."""
        names, duck = _transpile(sql)
        missing = sorted(names - set(params))
        if missing:
            raise QueryError(f"Query parameter '{missing[0]}' not found")
        if limit_zero:
            duck = f"SELECT * FROM ({duck}) LIMIT 0"  # noqa: S608
        try:
            with self.lock:
                return self.con.sql(duck, params={k: params[k] for k in names}).to_arrow_table()
        except duckdb.Error as exc:
            raise QueryError(str(exc).splitlines()[0]) from None

    def close(self) -> None:
        self.con.close()


@dataclass(frozen=True)
class _Probe:
    """A DuckDB query over the fake's internal tables, and the parameters it binds."""

    sql: str
    params: tuple[str, ...]


@dataclass(frozen=True)
class _Scan:
    """One reference to the table in a query: the leaves it reads and its pruning filters."""

    leaves: tuple[int, ...]
    partition: _Probe | None
    """Days of `__grid` whose instants pass the timestamp-only conjuncts; None: every day."""
    cluster: _Probe | None
    """(day, block) of rows passing the project-only conjuncts; None: every block."""


@functools.lru_cache(maxsize=256)
def analyze(sql: str) -> tuple[_Scan, ...]:
    """What a query reads from the table, per scope that selects from it (parsed once per text)."""
    tree = parse_bigquery(sql, functions=False)  # the fake checks functions before (_run_job)
    scans = []
    for scope in traverse_scope(tree):
        for alias, source in scope.sources.items():
            if not (isinstance(source, exp.Table) and _table_id(source) == PUBLIC_TABLE):
                continue
            conjuncts = _conjuncts(scope.expression.args.get("where"))
            by_column = [(c, {_resolve(col, alias) for col in c.find_all(exp.Column)}) for c in conjuncts]
            partition = [_retarget(c, "timestamp") for c, paths in by_column if paths == {("timestamp",)}]
            cluster = [_retarget(c, "project") for c, paths in by_column if paths == {("project",)}]
            scans.append(
                _Scan(
                    leaves=_leaves_read(scope, alias),
                    partition=_probe(exp.select("__day").distinct().from_("__grid"), partition),
                    cluster=_probe(exp.select("__day", "__block").distinct().from_("events"), cluster),
                )
            )
    return tuple(scans)


# Functions sqlglot parses in any dialect but BigQuery does not have (DuckDB's, mostly).
NOT_BIGQUERY: tuple[type[exp.Expression], ...] = (exp.StructExtract,)


def parse_bigquery(sql: str, *, functions: bool = True) -> exp.Expression:
    """Parse GoogleSQL strictly, as BigQuery would: a syntax error, or (`functions`) a function BigQuery
    lacks, is an invalidQuery. Recent sqlglot's BigQuery dialect knows every BigQuery function our SQL
    uses; one it parses as an anonymous call is not BigQuery's (DuckDB's list_sort, strlen...). With
    the ZetaSQL analyzer on, GoogleSQL itself judges the functions and this guess is not needed (older
    sqlglot does not know GROUPING)."""
    try:
        tree = sqlglot.parse_one(sql, read="bigquery", error_level=sqlglot.ErrorLevel.IMMEDIATE)
    except sqlglot.errors.ParseError as exc:
        raise QueryError(f"Syntax error: {str(exc).splitlines()[0]}") from None
    if not functions:
        return tree
    for func in tree.find_all(exp.Func):
        if isinstance(func, (exp.Anonymous, *NOT_BIGQUERY)):
            name = func.name if isinstance(func, exp.Anonymous) else func.key
            raise QueryError(f"Function not found: {name}")
    return tree


def _probe(select: exp.Select, conjuncts: list[exp.Expression]) -> _Probe | None:
    if not conjuncts:
        return None
    query = select.where(*conjuncts)
    names = tuple(sorted({p.name for p in query.find_all(exp.Parameter)}))
    return _Probe(query.sql(dialect="duckdb"), names)


def _leaves_read(scope: Any, alias: str) -> tuple[int, ...]:
    select = scope.expression
    if isinstance(select, exp.Select) and any(isinstance(s, exp.Star) for s in select.expressions):
        return tuple(range(len(LEAVES)))
    out: set[int] = set()
    for col in scope.columns:
        if isinstance(col.this, exp.Star):
            return tuple(range(len(LEAVES)))
        out.update(_leaf_indexes(_resolve(col, alias)))
    return tuple(sorted(out))


@functools.lru_cache(maxsize=256)
def _transpile(sql: str) -> tuple[frozenset[str], str]:
    """The parameter names a query uses, and its DuckDB text."""
    try:
        tree = sqlglot.parse_one(sql, read="bigquery")
        return frozenset(p.name for p in tree.find_all(exp.Parameter)), to_duckdb(sql)
    except sqlglot.errors.SqlglotError as exc:
        raise QueryError(f"Syntax error: {str(exc).splitlines()[0]}") from None


def _table_id(table: exp.Table) -> tuple[str, str, str]:
    return (table.catalog, table.db, table.name)


def _conjuncts(where: exp.Expression | None) -> list[exp.Expression]:
    if where is None:
        return []
    cond = where.this
    return list(cond.flatten()) if isinstance(cond, exp.And) else [cond]


def _resolve(col: exp.Column, alias: str) -> tuple[str, ...]:
    """A column reference as a path in the table schema, without a leading table alias."""
    parts = tuple(p.name for p in col.parts)
    if len(parts) > 1 and parts[0] == alias and parts[0] not in FILE_DOWNLOADS:
        parts = parts[1:]
    return parts


def _leaf_indexes(path: tuple[str, ...]) -> list[int]:
    """Leaves a reference reads: itself, or every leaf of a RECORD. Unknown names (aliases) read nothing."""
    return [i for i, (leaf, _) in enumerate(LEAVES) if leaf[: len(path)] == path or path[: len(leaf)] == leaf]


def _retarget(conjunct: exp.Expression, column: str) -> exp.Expression:
    """The conjunct with its (single) column pointed at our internal table's column."""
    return conjunct.copy().transform(lambda n: exp.column(column) if isinstance(n, exp.Column) else n)


# -- IAM: what each call needs of the calling identity, and Google's page that says so ----------------
_JOBS_OVERVIEW = "https://cloud.google.com/bigquery/docs/jobs-overview#required_permissions"
_DRY_RUN = "https://cloud.google.com/bigquery/docs/running-queries#dry-run"
_JOBS_LIST = "https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/list"
_PUBLIC_DATA = "https://cloud.google.com/bigquery/public-data"
_JOBS_BY_USER = "https://cloud.google.com/bigquery/docs/information-schema-jobs-by-user#required_permissions"
_JOBS_BY_PROJECT = "https://cloud.google.com/bigquery/docs/information-schema-jobs#required_permissions"
_PARTITIONS = "https://cloud.google.com/bigquery/docs/information-schema-partitions#required_permissions"
_ROLES_DOC = "https://cloud.google.com/bigquery/docs/access-control"

IAM_RULES: dict[str, tuple[str | None, str]] = {
    # call: (the permission the caller needs on the billing project, or None; the page that says so).
    # A call is a REST method, a variant of one ("jobs.list:allUsers"), or a table a query reads
    # ("table:<project.dataset.table>", "table:INFORMATION_SCHEMA.<view>"). One line per rule.
    "jobs.insert": ("bigquery.jobs.create", _JOBS_OVERVIEW),  # "To run a BigQuery job, you need bigquery.jobs.create"
    "jobs.insert:dryRun": ("bigquery.jobs.create", _DRY_RUN),  # a dry run is a job insert too
    "jobs.query": ("bigquery.jobs.create", _JOBS_OVERVIEW),
    "jobs.get": (None, _JOBS_OVERVIEW),  # "when you create a job, you are automatically granted bigquery.jobs.get"
    "jobs.getQueryResults": (None, _JOBS_OVERVIEW),  # reading one's own job's results: the same grant
    "jobs.cancel": (None, _JOBS_OVERVIEW),  # "... and bigquery.jobs.update" on one's own job
    "jobs.list": (None, _JOBS_LIST),  # "Requires no specific IAM permission(s)... list the jobs they created"
    "jobs.list:allUsers": ("bigquery.jobs.list", _JOBS_LIST),  # every user's jobs, others' redacted
    "table:bigquery-public-data.pypi.file_downloads": (None, _PUBLIC_DATA),  # public: readable by anyone
    "table:INFORMATION_SCHEMA.JOBS_BY_USER": ("bigquery.jobs.list", _JOBS_BY_USER),
    "table:INFORMATION_SCHEMA.JOBS_BY_PROJECT": ("bigquery.jobs.listAll", _JOBS_BY_PROJECT),
    # The public dataset's partitions: bigquery.tables.get + bigquery.tables.list on *that dataset*, which
    # it grants every authenticated identity (roles/bigquery.dataViewer, as for reading the table itself);
    # nothing on the billing project beyond the query job's bigquery.jobs.create.
    "table:INFORMATION_SCHEMA.PARTITIONS": (None, _PARTITIONS),
}
"""A call with no rule is refused as a bug of the fake (400 invalid): add its line here."""

ROLES: dict[str, frozenset[str]] = {
    # The permissions of each predefined role that IAM_RULES asks about (_ROLES_DOC lists them all).
    "roles/bigquery.jobUser": frozenset({"bigquery.jobs.create"}),
    "roles/bigquery.user": frozenset({"bigquery.jobs.create", "bigquery.jobs.list"}),
    "roles/bigquery.admin": frozenset(
        {"bigquery.jobs.create", "bigquery.jobs.list", "bigquery.jobs.listAll", "bigquery.jobs.get"}
    ),
}
DEFAULT_ROLES = ("roles/bigquery.jobUser",)
"""The identity tests run as unless they say otherwise: the role the README asks for."""


def granted(roles: Iterable[str], permissions: Iterable[str] = ()) -> frozenset[str]:
    """The permissions an identity holds through these roles and these single grants."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"the fake does not know role(s) {', '.join(unknown)}: add them to ROLES")
    return frozenset().union(*(ROLES[r] for r in roles), permissions)


def _denied(permission: str, project: str) -> Response:
    """BigQuery's 403 for a missing project permission, worded as the service words it."""
    return _error(
        403,
        "accessDenied",
        f"Access Denied: Project {project}: User does not have {permission} permission in project {project}.",
    )


def _tables_read(sql: str) -> list[str]:
    """The tables a query reads, as IAM_RULES names them (CTE names left out); [] if it does not parse."""
    try:
        tree = sqlglot.parse_one(sql, read="bigquery")
    except sqlglot.errors.SqlglotError:
        return []  # the query is refused as invalid later, with its own message
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    out = []
    for table in tree.find_all(exp.Table):
        if not table.db and table.name in ctes:
            continue
        if table.name.upper().startswith("INFORMATION_SCHEMA."):
            out.append(f"table:{table.name.upper()}")
        else:
            out.append("table:" + ".".join(p for p in (table.catalog, table.db, table.name) if p))
    return out


def _query_view(
    tree: exp.Expression, params: Mapping[str, Any], create: str, insert: str, rows: Iterable[Mapping[str, Any]]
) -> pa.Table:
    """An INFORMATION_SCHEMA view's answer: `tree` (its view already pointed at the table `create`
    makes) run on DuckDB over `rows`, with the query's parameters bound as BigQuery binds them."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(create)
        for row in rows:
            con.execute(insert, row)
        duck = to_duckdb(tree.sql(dialect="bigquery"))
        names = {p.name for p in tree.find_all(exp.Parameter)}
        missing = sorted(names - set(params))
        if missing:
            raise QueryError(f"Query parameter '{missing[0]}' not found")
        return con.sql(duck, params={k: params[k] for k in names}).to_arrow_table()
    except duckdb.Error as exc:
        raise QueryError(str(exc).splitlines()[0]) from None
    finally:
        con.close()


# -- the HTTP fake -------------------------------------------------------------------------------------
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"^/bigquery/v2/projects/([^/]+)/jobs$"), "jobs.insert"),
    ("GET", re.compile(r"^/bigquery/v2/projects/([^/]+)/jobs$"), "jobs.list"),
    ("GET", re.compile(r"^/bigquery/v2/projects/([^/]+)/jobs/([^/]+)$"), "jobs.get"),
    ("POST", re.compile(r"^/bigquery/v2/projects/([^/]+)/jobs/([^/]+)/cancel$"), "jobs.cancel"),
    ("GET", re.compile(r"^/bigquery/v2/projects/([^/]+)/queries/([^/]+)$"), "jobs.getQueryResults"),
    ("POST", re.compile(r"^/bigquery/v2/projects/([^/]+)/queries$"), "jobs.query"),
]
REASON_STATUS = {
    "accessDenied": 403,
    "billingNotEnabled": 403,
    "quotaExceeded": 403,
    "rateLimitExceeded": 403,
    "invalidQuery": 400,
    "invalid": 400,
    "bytesBilledLimitExceeded": 400,
    "notFound": 404,
    "duplicate": 409,
    "internalError": 500,
    "backendError": 503,
    "badGateway": 502,
}
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
}
Response = tuple[int, dict[str, Any]]


def _match_route(method: str, path: str) -> tuple[str, re.Match[str]] | None:
    for verb, pattern, route in _ROUTES:
        match = pattern.match(path)
        if verb == method and match:
            return route, match
    return None


def _error(status: int, reason: str, message: str) -> Response:
    return status, {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": _STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }


DRY_RUN_MODES: dict[str, str] = {
    # mode: the totalBytesProcessedAccuracy its dry runs report.
    # The dry run counts every block of the partitions read (no cluster pruning) and the job's cap
    # is checked against that same figure: the upper bound most reports show.
    "unpruned": "UPPER_BOUND",
    # The dry run is cluster-pruned, equal to the job's bytes, and the cap is checked against it:
    # ofek/pypinfo#168 (a 1-day dry run of 179.27 MiB, the job processed the same).
    "pruned": "PRECISE",
    # The dry run is pruned but the job is checked against the unpruned figure, so a job capped at
    # the dry run fails with bytesBilledLimitExceeded "... N or higher required."
    # (HTTPArchive/har.fyi#10: 898 MB in one client, 42 TB checked by a custom quota).
    "pruned-checked-unpruned": "UNKNOWN",
}


class FakeBigQuery(LoopbackFake):
    """The fake server. A context manager; `.url` for client_options, `.jobs` for what it received."""

    def __init__(
        self,
        events: Any = None,
        *,
        project: str = "test-project",
        location: str = "US",
        page_rows: int = 1000,
        block_rows: int = 64,
        row_weight: float = 1.0,
        insert_state: str = "RUNNING",
        running_polls: int = 2,
        now: Callable[[], dt.datetime] | None = None,
        dry_run_mode: str = "unpruned",
        analyzer: bool = True,
        roles: Iterable[str] = DEFAULT_ROLES,
        permissions: Iterable[str] = (),
        rules: Mapping[str, str | None] | None = None,
    ) -> None:
        """`events`: a directory or file of NDJSON/Parquet in the file_downloads schema, a list of
        event dicts, a pyarrow Table, an EventsQuery, None (empty table), or a built EventTable
        (then `block_rows` and `row_weight` are the table's own).

        `page_rows` caps rows per results page; `insert_state` is what jobs.insert answers for a
        job that will succeed ("RUNNING" makes the client poll jobs.get, as with real BigQuery).

        `dry_run_mode`: one of DRY_RUN_MODES (BigQuery has been seen doing each). `analyzer`: check each
        statement on the public table with ZetaSQL, GoogleSQL's reference analyzer, as BigQuery would.

        `roles` and `permissions`: what the calling identity holds on the project; a call it lacks a
        permission for (IAM_RULES) is refused with 403 accessDenied. `rules` overrides a call's
        permission, e.g. {"jobs.list": "bigquery.jobs.list"} for a project that refuses listing one's
        own jobs without it (seen in 2019, DataBiosphere/terra-ui#1567, though Google documents none)."""
        if dry_run_mode not in DRY_RUN_MODES:
            raise ValueError(f"dry_run_mode must be one of {', '.join(DRY_RUN_MODES)}")
        self.dry_run_mode = dry_run_mode
        self.analyzer = analyzer
        """Refuse (invalidQuery) a statement GoogleSQL's own analyzer rejects (tests/fakes/zetasql_check.py)."""
        """How dry runs price a query and what maximumBytesBilled is checked against: DRY_RUN_MODES."""
        self.permissions = granted(roles, permissions)
        """What the calling identity may do (the union of its roles' permissions and single grants)."""
        self.rules = {call: rule[0] for call, rule in IAM_RULES.items()} | dict(rules or {})
        self.project = project
        self.location = location
        self.page_rows = page_rows
        self.insert_state = insert_state
        self.running_polls = running_polls
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        """The fake's clock: each job's creation_time (INFORMATION_SCHEMA shows it)."""
        """jobs.get answers RUNNING this many times for each job before DONE, as a real job takes time."""
        # An EventTable may be shared by several fakes (it is read-only once built); it stays open.
        self._owns_table = not isinstance(events, EventTable)
        self.table = (
            events
            if isinstance(events, EventTable)
            else EventTable(events, block_rows=block_rows, row_weight=row_weight)
        )
        self.requests: list[Request] = []
        self._jobs: dict[str, _Job] = {}
        self._received: list[ReceivedJob] = []
        self._failures: list[_Failure] = []
        self._job_failures: dict[int, tuple[str, str]] = {}
        self._billable = 0
        self._validated: set[str] = set()
        self._polls: dict[str, int] = {}
        self._growth: list[float] = []
        self.bill_factor = 1.0
        """Each data job bills the block model's bytes times this, never more than its estimate: a table
        whose clustering prunes worse (> 1) or better (< 1) than the block model (property tests)."""
        self.history: list[dict[str, Any]] = []
        """Every billable job, as INFORMATION_SCHEMA.JOBS_BY_USER shows it (creation_time, labels, bill)."""
        self._lock = threading.RLock()

    # -- lifecycle -----------------------------------------------------------------------------
    thread_name = "fake-bigquery"

    def stop(self) -> None:
        super().stop()
        if self._owns_table:
            self.table.close()

    def client(self, project: str | None = None) -> Any:
        """The real google-cloud-bigquery client, pointed here, with anonymous credentials."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=project or self.project,
            credentials=AnonymousCredentials(),
            location=self.location,
            client_options={"api_endpoint": self.url},
        )

    # -- what was received ---------------------------------------------------------------------
    @property
    def jobs(self) -> list[ReceivedJob]:
        """Every query job received, dry runs included, in order."""
        with self._lock:
            return list(self._received)

    @property
    def billable_jobs(self) -> list[ReceivedJob]:
        return [j for j in self.jobs if not j.dry_run]

    @property
    def dry_runs(self) -> list[ReceivedJob]:
        return [j for j in self.jobs if j.dry_run]

    def clear(self) -> None:
        """Forget received requests and jobs (the event table stays)."""
        with self._lock:
            self.requests.clear()
            self._received.clear()

    # -- failure injection ---------------------------------------------------------------------
    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 503,
        reason: str = "backendError",
        route: str | None = None,
        after_processing: bool = False,
        dry_run: bool | None = None,
        message: str = "The service is currently unavailable (injected).",
    ) -> None:
        """The next `n` requests (to `route`, e.g. "jobs.insert", or any) fail with this error.

        `after_processing`: the request takes effect, but its answer is lost (an ambiguous failure).
        `dry_run`: only job requests that are (True) or are not (False) dry runs."""
        with self._lock:
            self._failures.extend(_Failure(status, reason, message, route, after_processing, dry_run) for _ in range(n))

    def rate_limit_next(self, n: int = 1, *, status: int = 403, route: str | None = None) -> None:
        """The next `n` requests hit a rate limit (BigQuery answers 403 rateLimitExceeded)."""
        self.fail_next(
            n, status=status, reason="rateLimitExceeded", route=route, message="Exceeded rate limits (injected)."
        )

    def fail_on_job(self, k: int, reason: str = "accessDenied", message: str | None = None) -> None:
        """The k-th billable job (1-based, counted from the start) fails with this reason."""
        with self._lock:
            self._job_failures[k] = (reason, message or f"Job failed with {reason} (injected).")

    def grow_table_next(self, factor: float = 1.5, n: int = 1) -> None:
        """A new partition lands between the dry run and the next `n` billable jobs: their estimate is
        `factor` times the dry run's, so a cap set from the dry run fails with bytesBilledLimitExceeded."""
        with self._lock:
            self._growth.extend([factor] * n)

    def append_events(self, events: Any) -> list[dt.date]:
        """Rows land late in their days' partitions, now (the fake's clock): PyPI's late rows, or a day it
        reloads weeks later. Those partitions' total_rows and last_modified_time change. Returns the days."""
        return self.table.append(events, at=self.now())

    # -- accounting and reference runs -----------------------------------------------------------
    def account(self, sql: str, params: Mapping[str, Any] | None = None) -> Accounting:
        return self.table.account(sql, params or {})

    def reference(self, sql: str, params: Mapping[str, Any]) -> pa.Table:
        """The BigQuery SQL run directly on the fake's DuckDB, without HTTP or the client."""
        return self.table.execute(sql, params)

    # -- request handling ----------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> Response:
        found = _match_route(method, path)
        if found is None:
            return _error(404, "notFound", f"Not found: {method} {path}")
        route, match = found
        with self._lock:
            self.requests.append(Request(method, path, query, route))
            failure = self._take_failure(route, body)
        if failure is not None and not failure.after_processing:
            return _error(failure.status, failure.reason, failure.message)
        refused = self._refused(route, match.group(1), query, body)
        if refused is not None:
            return refused
        handler = getattr(self, "_" + route.replace(".", "_"))
        try:
            response: Response = handler(*match.groups(), query=query, body=body)
        except QueryError as exc:
            response = _error(400, "invalidQuery", str(exc))
        if failure is not None:
            return _error(failure.status, failure.reason, failure.message)
        return response

    def _refused(self, route: str, project: str, query: dict[str, str], body: dict[str, Any]) -> Response | None:
        """403 accessDenied for the first call of this request the identity lacks a permission for."""
        calls = [route]
        if route == "jobs.list" and query.get("allUsers", "").lower() == "true":
            calls.append("jobs.list:allUsers")
        if route in ("jobs.insert", "jobs.query"):
            config = body.get("configuration") or body
            if config.get("dryRun"):
                calls.append(f"{route}:dryRun" if route == "jobs.insert" else route)
            sql = (config.get("query") or {}).get("query") if route == "jobs.insert" else body.get("query")
            calls.extend(_tables_read(str(sql or "")))
        for call in calls:
            if call not in self.rules:
                if call.startswith("table:"):
                    name = call.removeprefix("table:")
                    return _error(404, "notFound", f"Not found: Table {name} was not found in location {self.location}")
                return _error(400, "invalid", f"fake BigQuery has no IAM rule for {call}: add one to IAM_RULES")
            needed = self.rules[call]
            if needed is not None and needed not in self.permissions:
                return _denied(needed, project)
        return None

    def _take_failure(self, route: str, body: dict[str, Any]) -> _Failure | None:
        dry = None
        if route in ("jobs.insert", "jobs.query"):
            dry = bool((body.get("configuration") or body).get("dryRun"))
        for i, f in enumerate(self._failures):
            if (f.route is None or f.route == route) and (f.dry_run is None or f.dry_run == dry):
                return self._failures.pop(i)
        return None

    def _jobs_insert(self, project: str, *, query: dict[str, str], body: dict[str, Any]) -> Response:
        ref = body.get("jobReference") or {}
        job_id = ref.get("jobId") or f"job_{uuid.uuid4().hex}"
        location = ref.get("location") or self.location
        config = body.get("configuration") or {}
        if "query" not in config:
            return _error(400, "invalid", "This fake runs query jobs only.")
        if location.upper() != self.location.upper():
            # The dataset lives in one location; a job elsewhere cannot read it.
            return _error(
                404, "notFound", f"Not found: Dataset bigquery-public-data:pypi was not found in location {location}"
            )
        with self._lock:
            if job_id in self._jobs:
                return _error(409, "duplicate", f"Already Exists: Job {project}:{location}.{job_id}")
        job = self._create_job(project, job_id, location, config, api="jobs.insert")
        if job.record.dry_run:
            if job.error:
                return _error(REASON_STATUS.get(job.error[0], 400), *job.error)
            return 200, self._resource(job, "DONE")
        state = "DONE" if job.error else self.insert_state
        return 200, self._resource(job, state)

    def _jobs_get(self, project: str, job_id: str, *, query: dict[str, str], body: dict[str, Any]) -> Response:
        job = self._jobs.get(job_id)
        location = query.get("location")
        if job is None or (location and location.upper() != job.location.upper()):
            return _error(404, "notFound", f"Not found: Job {project}:{location or self.location}.{job_id}")
        with self._lock:
            polls = self._polls[job_id] = self._polls.get(job_id, 0) + 1
        state = "DONE" if job.error or polls > self.running_polls else "RUNNING"
        return 200, self._resource(job, state)

    def _jobs_list(self, project: str, *, query: dict[str, str], body: dict[str, Any]) -> Response:
        """jobs.list: the caller's jobs (every job here is the caller's), newest first, paged."""
        low = int(query.get("minCreationTime") or 0)
        high = int(query["maxCreationTime"]) if query.get("maxCreationTime") else None
        wanted = query.get("stateFilter", "").lower()
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: j.created_ms, reverse=True)
        # The fake computes a job when it is inserted: each is DONE as far as listing goes.
        listed = [
            j for j in jobs if j.created_ms >= low and (high is None or j.created_ms <= high) and wanted in ("", "done")
        ]
        start = int(query.get("pageToken") or 0)
        count = int(query.get("maxResults") or 50)
        page = listed[start : start + count]
        payload: dict[str, Any] = {
            "kind": "bigquery#jobList",
            "etag": uuid.uuid4().hex,
            "jobs": [{**self._resource(j, "DONE"), "state": "DONE"} for j in page],
        }
        if start + count < len(listed):
            payload["nextPageToken"] = str(start + count)
        return 200, payload

    def _jobs_cancel(self, project: str, job_id: str, *, query: dict[str, str], body: dict[str, Any]) -> Response:
        status, payload = self._jobs_get(project, job_id, query=query, body=body)
        return status, ({"kind": "bigquery#jobCancelResponse", "job": payload} if status == 200 else payload)

    def _jobs_getQueryResults(  # noqa: N802 - named after the REST method
        self, project: str, job_id: str, *, query: dict[str, str], body: dict[str, Any]
    ) -> Response:
        job = self._jobs.get(job_id)
        if job is None:
            return _error(404, "notFound", f"Not found: Job {project}:{self.location}.{job_id}")
        if job.error:
            return _error(REASON_STATUS.get(job.error[0], 500), *job.error)
        start = int(query.get("pageToken") or query.get("startIndex") or 0)
        wanted = int(query["maxResults"]) if "maxResults" in query else self.page_rows
        int64_ts = query.get("formatOptions.useInt64Timestamp", "").lower() == "true"
        payload = {"kind": "bigquery#getQueryResultsResponse", "etag": job.record.job_id}
        payload.update(self._page(job, start, wanted, int64_ts))
        return 200, payload

    def _jobs_query(self, project: str, *, query: dict[str, str], body: dict[str, Any]) -> Response:
        job_id = f"job_{uuid.uuid4().hex}"
        location = body.get("location") or self.location
        config: dict[str, Any] = {
            "query": {
                k: body[k]
                for k in (
                    "query",
                    "queryParameters",
                    "parameterMode",
                    "useLegacySql",
                    "useQueryCache",
                    "maximumBytesBilled",
                )
                if k in body
            },
            "dryRun": bool(body.get("dryRun")),
            "labels": body.get("labels") or {},
        }
        job = self._create_job(project, job_id, location, config, api="jobs.query")
        if job.error:
            return _error(REASON_STATUS.get(job.error[0], 400), *job.error)
        payload: dict[str, Any] = {
            "kind": "bigquery#queryResponse",
            "jobReference": self._reference(job),
            "jobComplete": True,
            "totalBytesProcessed": str(job.record.processed_bytes or job.record.estimate_bytes),
            "cacheHit": False,
        }
        if job.record.dry_run:
            return 200, payload
        int64_ts = str(body.get("formatOptions", {}).get("useInt64Timestamp", "")).lower() == "true"
        wanted = int(body["maxResults"]) if "maxResults" in body else self.page_rows
        payload.update(self._page(job, 0, wanted, int64_ts))
        payload["totalBytesBilled"] = str(job.record.billed_bytes)
        payload["queryId"] = job.record.job_id
        return 200, payload

    # -- jobs ------------------------------------------------------------------------------------
    def _create_job(self, project: str, job_id: str, location: str, config: dict[str, Any], *, api: str) -> _Job:
        qcfg = config.get("query") or {}
        max_billed = qcfg.get("maximumBytesBilled")
        record = ReceivedJob(
            job_id=job_id,
            api=api,
            dry_run=bool(config.get("dryRun")),
            query=str(qcfg.get("query", "")),
            parameters=list(qcfg.get("queryParameters") or []),
            maximum_bytes_billed=None if max_billed in (None, "", "0", 0) else int(max_billed),
            labels=dict(config.get("labels") or {}),
            use_legacy_sql=qcfg.get("useLegacySql"),
            use_query_cache=qcfg.get("useQueryCache"),
        )
        job = _Job(record, project, location, config, created_ms=int(self.now().timestamp() * 1000))
        with self._lock:
            self._received.append(record)
            if not record.dry_run:
                self._billable += 1
                job.error = self._job_failures.pop(self._billable, None)
                self._jobs[job_id] = job
        if job.error is None:
            try:
                self._run_job(job)
            except QueryError as exc:
                job.error = ("invalidQuery", str(exc))
        record.error_reason = job.error[0] if job.error else None
        return job

    def _run_job(self, job: _Job) -> None:
        record = job.record
        if record.use_legacy_sql is not False and record.use_legacy_sql is not None:
            raise QueryError("This fake runs GoogleSQL only (useLegacySql must be false).")
        mode = job.configuration.get("query", {}).get("parameterMode")
        if record.parameters and mode not in (None, "NAMED"):
            raise QueryError("This fake binds NAMED query parameters only.")
        params = record.param_values
        jobs_view = (
            "INFORMATION_SCHEMA" in record.query.upper() and "INFORMATION_SCHEMA.PARTITIONS" not in record.query.upper()
        )
        if self.analyzer and not jobs_view:  # the JOBS views are not in zetasql_check's catalog
            from .zetasql_check import analyze

            rejected = analyze(record.query, tuple(sorted(record.param_types.items())))
            if rejected is not None:
                raise QueryError(rejected)
        else:
            parse_bigquery(record.query)  # sqlglot's guess at BigQuery's functions
        if "INFORMATION_SCHEMA.PARTITIONS" in record.query.upper():
            self._run_partitions_query(job, params)
            return
        if jobs_view:
            self._run_jobs_query(job, params)
            return
        acct = self.table.account(record.query, params)
        job.accounting = acct
        # What the dry run says, and what BigQuery checks maximumBytesBilled against (DRY_RUN_MODES).
        pruned_estimate = self.dry_run_mode in ("pruned", "pruned-checked-unpruned")
        record.estimate_bytes = acct.processed_bytes if pruned_estimate else acct.estimate_bytes
        if self.dry_run_mode == "pruned":
            acct = dataclasses.replace(acct, estimate_bytes=acct.processed_bytes)
        if record.dry_run:
            if record.query not in self._validated:  # planning the SQL once is enough to validate it
                self.table.execute(record.query, params, limit_zero=True)
                self._validated.add(record.query)
            return
        cap = record.maximum_bytes_billed
        with self._lock:
            growth = self._growth.pop(0) if self._growth else 1.0
        if growth != 1.0:
            acct = dataclasses.replace(acct, estimate_bytes=round(acct.estimate_bytes * growth))
        if cap is not None and cap < acct.estimate_billed_bytes:
            # BigQuery checks the cap against the (unpruned) estimate before the job runs.
            job.error = (
                "bytesBilledLimitExceeded",
                f"Query exceeded limit for bytes billed: {cap}. {acct.estimate_billed_bytes} or higher required.",
            )
            return
        table = self.table.execute(record.query, params)
        job.arrow = table
        job.schema = [_bq_field(f.name, f.type) for f in table.schema]
        job.rows = table.to_pylist()
        if self.bill_factor != 1.0:
            processed = min(acct.estimate_bytes, round(acct.processed_bytes * self.bill_factor))
            acct = dataclasses.replace(acct, processed_bytes=processed)
        record.processed_bytes = acct.processed_bytes
        record.billed_bytes = acct.billed_bytes
        self._remember(job)

    def _remember(self, job: _Job) -> None:
        with self._lock:
            self.history.append(
                {
                    "creation_time": dt.datetime.fromtimestamp(job.created_ms / 1000, dt.UTC),
                    "job_id": job.record.job_id,
                    "labels": [{"key": k, "value": v} for k, v in job.record.labels.items()],
                    "total_bytes_billed": job.record.billed_bytes,
                }
            )

    def _run_jobs_query(self, job: _Job, params: Mapping[str, Any]) -> None:
        """INFORMATION_SCHEMA.JOBS_BY_USER / JOBS_BY_PROJECT of the job's region, from the jobs run here."""
        tree = parse_bigquery(job.record.query)
        for table in tree.find_all(exp.Table):
            if table.name.upper() not in ("INFORMATION_SCHEMA.JOBS_BY_USER", "INFORMATION_SCHEMA.JOBS_BY_PROJECT"):
                raise QueryError(f"This fake answers INFORMATION_SCHEMA.JOBS_BY_USER/PROJECT only, not {table.name}")
            if table.db.lower() != f"region-{job.location.lower()}":
                raise QueryError(f"Table {table.db}.{table.name} is not in the job's location {job.location}")
            table.replace(exp.to_table("jobs_history"))
        with self._lock:
            rows = list(self.history)
        table = _query_view(
            tree,
            params,
            "CREATE TABLE jobs_history (creation_time TIMESTAMPTZ, job_id VARCHAR,"
            " labels STRUCT(key VARCHAR, value VARCHAR)[], total_bytes_billed BIGINT)",
            "INSERT INTO jobs_history VALUES ($creation_time, $job_id, $labels, $total_bytes_billed)",
            rows,
        )
        self._finish_metadata_job(job, table)

    def _finish_metadata_job(self, job: _Job, table: pa.Table) -> None:
        """An INFORMATION_SCHEMA job's rows and bill: estimated and billed the 10 MB minimum, never cached."""
        job.arrow = table
        job.schema = [_bq_field(f.name, f.type) for f in table.schema]
        job.rows = table.to_pylist()
        job.accounting = Accounting(1, (), (), MIN_BILLED_PER_TABLE, MIN_BILLED_PER_TABLE)
        job.record.estimate_bytes = MIN_BILLED_PER_TABLE
        if not job.record.dry_run:
            job.record.processed_bytes = job.record.billed_bytes = MIN_BILLED_PER_TABLE
            self._remember(job)

    def _run_partitions_query(self, job: _Job, params: Mapping[str, Any]) -> None:
        """`bigquery-public-data.pypi.INFORMATION_SCHEMA.PARTITIONS`, from the event table: one row per
        day, total_rows and last_modified_time as EventTable.partitions has them."""
        tree = parse_bigquery(job.record.query)
        for table in tree.find_all(exp.Table):
            if (table.catalog, table.db, table.name.upper()) != (*PUBLIC_TABLE[:2], "INFORMATION_SCHEMA.PARTITIONS"):
                raise QueryError(f"This fake answers {'.'.join(PUBLIC_TABLE[:2])}.INFORMATION_SCHEMA.PARTITIONS only")
            table.replace(exp.to_table("partitions_view"))
        catalog, schema, name = PUBLIC_TABLE
        table = _query_view(
            tree,
            params,
            "CREATE TABLE partitions_view (table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR,"
            " partition_id VARCHAR, total_rows BIGINT, total_logical_bytes BIGINT,"
            " last_modified_time TIMESTAMPTZ, storage_tier VARCHAR)",
            "INSERT INTO partitions_view VALUES ($c, $s, $n, $p, $rows, NULL, $m, 'ACTIVE')",
            [
                {"c": catalog, "s": schema, "n": name, "p": day.strftime("%Y%m%d"), "rows": rows, "m": modified}
                for day, rows, modified in self.table.partitions()
            ],
        )
        self._finish_metadata_job(job, table)

    def _reference(self, job: _Job) -> dict[str, Any]:
        ref = {"projectId": job.project, "location": job.location}
        if not job.record.dry_run:
            ref["jobId"] = job.record.job_id
        return ref

    def _resource(self, job: _Job, state: str) -> dict[str, Any]:
        record = job.record
        resource: dict[str, Any] = {
            "kind": "bigquery#job",
            "id": f"{job.project}:{job.location}.{record.job_id}",
            "jobReference": self._reference(job),
            "configuration": {**job.configuration, "jobType": "QUERY"},
            "user_email": "fake@example.com",
            "status": {"state": state},
            "statistics": {"creationTime": str(job.created_ms), "startTime": str(job.created_ms)},
        }
        if state != "DONE":
            return resource
        stats = resource["statistics"]
        stats["endTime"] = str(job.created_ms + 1)
        if job.error:
            reason, message = job.error
            resource["status"]["errorResult"] = {"reason": reason, "message": message}
            resource["status"]["errors"] = [{"reason": reason, "message": message}]
            return resource
        processed = record.estimate_bytes if record.dry_run else record.processed_bytes
        stats["totalBytesProcessed"] = str(processed)
        stats["query"] = {
            "totalBytesProcessed": str(processed),
            "estimatedBytesProcessed": str(record.estimate_bytes),
            "cacheHit": False,
            "statementType": "SELECT",
        }
        if record.dry_run:
            stats["query"]["totalBytesProcessedAccuracy"] = DRY_RUN_MODES[self.dry_run_mode]
        else:
            stats["query"]["totalBytesBilled"] = str(record.billed_bytes)
            stats["query"]["billingTier"] = 1
        return resource

    def _page(self, job: _Job, start: int, wanted: int, int64_ts: bool) -> dict[str, Any]:
        count = max(0, min(wanted, self.page_rows))
        end = min(len(job.rows), start + count)
        out: dict[str, Any] = {
            "schema": {"fields": job.schema},
            "jobReference": self._reference(job),
            "totalRows": str(len(job.rows)),
            "jobComplete": True,
            "totalBytesProcessed": str(job.record.processed_bytes),
            "cacheHit": False,
        }
        if count and start < end:
            out["rows"] = [
                {"f": [{"v": _encode(row[f["name"]], f, int64_ts)} for f in job.schema]} for row in job.rows[start:end]
            ]
        if count and end < len(job.rows):
            out["pageToken"] = str(end)
        return out


class _Handler(LoopbackHandler):
    fake: FakeBigQuery

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            status, payload = _error(400, "invalid", "Request body is not JSON")
        else:
            try:
                status, payload = self.fake.handle(method, url.path, query, body)
            except Exception as exc:  # noqa: BLE001 - a bug in the fake must not hang the client
                # A non-retryable reason: the client would retry a bare 500 for ten minutes.
                status, payload = _error(400, "invalid", f"fake BigQuery failed: {type(exc).__name__}: {exc}")
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


FakeBigQuery.handler = _Handler


@contextlib.contextmanager
def running(events: Any = None, **kwargs: Any) -> Iterator[FakeBigQuery]:
    """`with running(events) as fake:` — FakeBigQuery started and stopped."""
    fake = FakeBigQuery(events, **kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()


__all__ = [
    "DRY_RUN_MODES",
    "FILE_DOWNLOADS",
    "Accounting",
    "EventTable",
    "EventsQuery",
    "FakeBigQuery",
    "IAM_RULES",
    "ROLES",
    "ReceivedJob",
    "Request",
    "billed_bytes",
    "running",
]
