"""A local fake of ClickPy's public ClickHouse: ClickPy's tables in chdb (in-process ClickHouse),
behind the subset of ClickHouse's HTTP interface that generator.sources.clickpy uses.

    data = ClickPyData(events_dir)                 # or a list of event dicts
    with FakeClickHouse(data) as fake:             # fake.url for [source].api_endpoint
        ...
        fake.fail_next(201, times=1)               # quota exceeded, as ClickHouse answers it
        fake.delay_next(2.0)                       # a slow answer, for client timeouts

The tables are ClickPy's: the raw `pypi` table and the SummingMergeTree / AggregatingMergeTree
targets with the materialized views that fill them, with the DDL of ClickHouse/clickpy
scripts/create_tables.sh. Events in the file_downloads schema (Parquet or NDJSON, as the local
source reads them) are flattened the way ClickPy's loader does it (README "Importing data",
scripts/load.sh): `timestamp::Date AS date, country_code, project, file.type AS type,
installer.name AS installer, arrayStringConcat(arraySlice(splitByChar('.', python), 1, 2), '.')
AS python_minor, system.name AS system, file.version AS version` with
`input_format_null_as_default = 1`, i.e. NULL becomes ''. They are inserted one day per block, so
the SummingMergeTree tables hold unmerged parts, as in production.

HTTP subset (clickhouse.com/docs/interfaces/http): `POST /?user=...&default_format=...&param_x=...`
with the SQL as the body; `{x:Type}` placeholders are bound from `param_x`. Success is 200 with
`X-ClickHouse-Format`, `X-ClickHouse-Query-Id` and `X-ClickHouse-Summary`; an error is the status
ClickHouse maps the code to (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp), the header
`X-ClickHouse-Exception-Code` and the body `Code: N. DB::Exception: ... (NAME) (version ...)`.

chdb keeps one engine per process: every ClickPyData gets its own database, and the fake points
the SQL's `pypi.` at it (the only rewrite it makes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .loopback import LoopbackFake, LoopbackHandler

VERSION = "25.8.1.1 (fake, chdb)"

# ClickHouse's names for the codes the fake answers (errorCodeToName()).
CODE_NAMES = {
    47: "UNKNOWN_IDENTIFIER",
    60: "UNKNOWN_TABLE",
    62: "SYNTAX_ERROR",
    81: "UNKNOWN_DATABASE",
    159: "TIMEOUT_EXCEEDED",
    201: "QUOTA_EXCEEDED",
    202: "TOO_MANY_SIMULTANEOUS_QUERIES",
    209: "SOCKET_TIMEOUT",
    241: "MEMORY_LIMIT_EXCEEDED",
    439: "CANNOT_SCHEDULE_TASK",
    457: "BAD_QUERY_PARAMETER",
    497: "ACCESS_DENIED",
    516: "AUTHENTICATION_FAILED",
}
# ClickHouse src/Server/HTTP/exceptionCodeToHTTPStatus.cpp, for these codes; anything else is 500.
CODE_STATUS = {
    47: 404,
    60: 404,
    81: 404,
    62: 400,
    457: 400,
    159: 408,
    209: 503,
    439: 503,
    497: 403,
    516: 403,
}
DEFAULT_MESSAGES = {
    201: (
        "Quota for user `demo` for 3600s has been exceeded: queries = 1001/1000. "
        "Interval will end at 2026-11-01 13:00:00. Name of quota template: `demo`"
    ),
    202: "Too many simultaneous queries for user demo. Maximum: 8",
    159: "Timeout exceeded: elapsed 60.0 seconds, maximum: 60",
    241: "Memory limit (for query) exceeded: would use 10.00 GiB, maximum: 10.00 GiB",
    516: "demo: Authentication failed: password is incorrect, or there is no user with such name",
}

# ClickHouse/clickpy scripts/create_tables.sh, for the tables the source reads ({db} for `pypi`).
DDL: tuple[str, ...] = (
    """CREATE TABLE {db}.pypi (
        `date` Date, `country_code` LowCardinality(String), `project` String, `type` LowCardinality(String),
        `installer` LowCardinality(String), `python_minor` LowCardinality(String),
        `system` LowCardinality(String), `version` String
    ) ENGINE = MergeTree ORDER BY (project, date, version, country_code, python_minor, system)""",
    """CREATE TABLE {db}.pypi_downloads_per_day (`date` Date, `project` String, `count` Int64)
    ENGINE = SummingMergeTree ORDER BY (project, date)""",
    """CREATE MATERIALIZED VIEW {db}.pypi_downloads_per_day_mv TO {db}.pypi_downloads_per_day
    (`date` Date, `project` String, `count` Int64)
    AS SELECT date, project, count() AS count FROM {db}.pypi GROUP BY date, project""",
    """CREATE TABLE {db}.pypi_downloads_max_min (
        `project` String, `max_date` SimpleAggregateFunction(max, Date), `min_date` SimpleAggregateFunction(min, Date)
    ) ENGINE = AggregatingMergeTree ORDER BY project""",
    """CREATE MATERIALIZED VIEW {db}.pypi_downloads_max_min_mv TO {db}.pypi_downloads_max_min
    (`project` String, `max_date` SimpleAggregateFunction(max, Date), `min_date` SimpleAggregateFunction(min, Date))
    AS SELECT project, maxSimpleState(date) AS max_date, minSimpleState(date) AS min_date
    FROM {db}.pypi GROUP BY project""",
    """CREATE TABLE {db}.pypi_downloads_per_day_by_version_by_installer_by_type (
        `project` String, `version` String, `date` Date, `installer` String, `type` LowCardinality(String),
        `count` Int64
    ) ENGINE = SummingMergeTree ORDER BY (project, version, date, installer)""",
    """CREATE MATERIALIZED VIEW {db}.pypi_downloads_per_day_by_version_by_installer_by_type_mv
    TO {db}.pypi_downloads_per_day_by_version_by_installer_by_type
    (`project` String, `version` String, `date` Date, `installer` String, `type` LowCardinality(String),
     `count` Int64)
    AS SELECT project, version, date, installer, type, count() AS count
    FROM {db}.pypi GROUP BY project, version, date, installer, type""",
    """CREATE TABLE {db}.pypi_downloads_per_day_by_version_by_installer_by_type_by_country (
        `project` String, `version` String, `date` Date, `installer` String, `type` LowCardinality(String),
        `country_code` LowCardinality(String), `count` Int64
    ) ENGINE = SummingMergeTree ORDER BY (project, version, date, country_code, installer, type)""",
    """CREATE MATERIALIZED VIEW {db}.pypi_downloads_per_day_by_version_by_installer_by_type_by_country_mv
    TO {db}.pypi_downloads_per_day_by_version_by_installer_by_type_by_country
    (`project` String, `version` String, `date` Date, `installer` String, `type` LowCardinality(String),
     `country_code` LowCardinality(String), `count` Int64)
    AS SELECT project, version, date, installer, type, country_code, count() AS count
    FROM {db}.pypi GROUP BY project, version, date, installer, type, country_code""",
    """CREATE TABLE {db}.pypi_downloads_per_day_by_version_by_python (
        `date` Date, `project` String, `version` String, `python_minor` String, `count` Int64
    ) ENGINE = SummingMergeTree ORDER BY (project, version, date, python_minor)""",
    """CREATE MATERIALIZED VIEW {db}.pypi_downloads_per_day_by_version_by_python_mv
    TO {db}.pypi_downloads_per_day_by_version_by_python
    (`date` Date, `project` String, `version` String, `python_minor` String, `count` Int64)
    AS SELECT date, project, version, python_minor, count() AS count
    FROM {db}.pypi GROUP BY date, project, version, python_minor""",
    """CREATE TABLE {db}.pypi_downloads_per_day_by_version_by_system (
        `date` Date, `project` String, `version` String, `system` String, `count` Int64
    ) ENGINE = SummingMergeTree ORDER BY (project, version, date, system)""",
    """CREATE MATERIALIZED VIEW {db}.pypi_downloads_per_day_by_version_by_system_mv
    TO {db}.pypi_downloads_per_day_by_version_by_system
    (`date` Date, `project` String, `version` String, `system` String, `count` Int64)
    AS SELECT date, project, version, system, count() AS count
    FROM {db}.pypi GROUP BY date, project, version, system""",
)

# ClickPy's loader SELECT (README "Importing data"), over our flattened events; ifNull(x, '') is
# what its input_format_null_as_default = 1 does to a NULL.
LOADER_SELECT = """
SELECT
    date,
    ifNull(country_code, '') AS country_code,
    project,
    ifNull(type, '') AS type,
    ifNull(installer, '') AS installer,
    arrayStringConcat(arraySlice(splitByChar('.', ifNull(python, '')), 1, 2), '.') AS python_minor,
    ifNull(system, '') AS system,
    ifNull(version, '') AS version
FROM file('{path}', Parquet)
WHERE n % 2 = {{half:UInt8}} AND date <= {{last:Date}} AND NOT has({{skip:Array(Date)}}, date)
"""

# One day of ClickPy.generated's downloads (our own constants only).
GENERATED_DAY = """
INSERT INTO {db}.pypi
SELECT toDate('{day}') AS date, 'US', project, 'bdist_wheel',
  multiIf(u < 4 + 8 * kind, 'bandersnatch', u < 7 + 8 * kind, 'requests', u < 10 + 8 * kind, '',
          u < 11 + 8 * kind, 'Nexus', u < 30 + 8 * kind, 'uv', 'pip') AS installer,
  '3.12', 'Linux', toString(cityHash64(number, 3) % 5) AS version
FROM (
  SELECT number,
    concat('p', toString(toUInt32(floor(pow({n}, (cityHash64(number, '{day}', 1) % 1000000) / 1000000.0))))) AS project,
    cityHash64(number, '{day}', 2) % 100 AS u,
    cityHash64(project) % 6 AS kind
  FROM numbers({rows})
)
"""

README_IMPORT_FILTER = "python_minor != '' AND system != ''"
"""The WHERE of ClickPy's documented import example: rows without both are dropped on import."""

_LOCK = threading.RLock()
_SESSION: Any = None
_COUNTER = itertools.count(1)


def _session() -> Any:
    global _SESSION
    if _SESSION is None:
        from chdb import session

        _SESSION = session.Session()
    return _SESSION


class ChdbError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def run(sql: str, fmt: str = "JSONEachRow", params: dict[str, str] | None = None) -> str:
    """Run SQL on the process's chdb engine; errors as ChdbError(code, message)."""
    return run_counted(sql, fmt, params)[0]


def run_counted(sql: str, fmt: str = "JSONEachRow", params: dict[str, str] | None = None) -> tuple[str, int, int]:
    """`run`, with the rows and bytes the engine read (what ClickHouse's X-ClickHouse-Summary reports)."""
    with _LOCK:
        try:
            result = _session().query(sql, fmt, params=params or {})
        except Exception as exc:  # noqa: BLE001 - chdb raises its own error type with ClickHouse's text
            text = str(exc)
            match = re.search(r"Code:\s*(\d+)\.\s*(?:DB::Exception:\s*)?(.*)", text, flags=re.S)
            if match:
                raise ChdbError(int(match.group(1)), match.group(2).strip()) from None
            raise ChdbError(1001, text.strip()) from None
    body = result.bytes().decode("utf-8") if hasattr(result, "bytes") else str(result)
    size = int(result.bytes_read()) if hasattr(result, "bytes_read") else len(body)
    return body, _rows_read(sql, params), size


def _rows_read(sql: str, params: dict[str, str] | None) -> int:
    """The table rows the query reads: the rows of the granules its primary-key analysis selects
    (EXPLAIN ESTIMATE), what ClickHouse's read_rows counts for MergeTree reads. chdb's own counter
    reports result rows, not rows read. 0 for a query that reads no table."""
    with _LOCK:
        try:
            text = _session().query("EXPLAIN ESTIMATE " + sql, "JSONEachRow", params=params or {}).bytes()
        except Exception:  # noqa: BLE001 - a query EXPLAIN cannot estimate counts as reading nothing
            return 0
    return sum(int(json.loads(line)["rows"]) for line in text.decode("utf-8").splitlines() if line.strip())


# -- ClickPy's tables ---------------------------------------------------------------------------------
class ClickPyData:
    """ClickPy's database, filled from events in the file_downloads schema by ClickPy's own pipeline."""

    def __init__(
        self,
        events: Any,
        *,
        import_filter: str | None = None,
        skip_days: Sequence[dt.date] = (),
        last_day: dt.date | None = None,
    ) -> None:
        """`events`: a directory of event files (as the local source reads), or a list of event dicts.

        `import_filter`: a WHERE over the loader's output columns; rows failing it are dropped on
        import (README_IMPORT_FILTER is ClickPy's documented example). `skip_days` are never loaded
        (a day missing in the middle); `last_day` is the newest day loaded (a stall)."""
        self.database = f"clickpy_fake_{next(_COUNTER)}"
        self._tmp = tempfile.TemporaryDirectory(prefix="clickpy-fake-")
        flat = Path(self._tmp.name) / "flat.parquet"
        days = _flatten(events, flat, Path(self._tmp.name))
        self.days = sorted(d for d in days if d not in set(skip_days) and (last_day is None or d <= last_day))
        run(f"CREATE DATABASE {self.database}")
        for statement in DDL:
            run(statement.format(db=self.database))
        select = LOADER_SELECT.format(path=str(flat).replace("'", "\\'"))
        where = f" WHERE {import_filter}" if import_filter else ""
        last = (last_day or max(days, default=dt.date(1970, 1, 1))).isoformat()
        skip = "[" + ",".join(f"'{d.isoformat()}'" for d in skip_days) + "]"
        for half in (0, 1):  # two inserts: the same keys in two unmerged parts, as in production
            run(
                f"INSERT INTO {self.database}.pypi SELECT * FROM ({select}){where}",  # noqa: S608
                "TSV",
                {"half": str(half), "last": last, "skip": skip},
            )

    @classmethod
    def generated(cls, projects: int, first: dt.date, last: dt.date, rows_per_day: int) -> ClickPyData:
        """ClickPy's tables filled straight in ClickHouse SQL at scale (benchmarks): `rows_per_day` downloads a
        day from `first` to `last`, over `projects` projects named p1, p2, ... with log-uniform popularity
        (rank r gets a share of about 1 / (r ln N)), five package versions, and an installer mix that
        depends on the project (10% to 50% mirrors, requests and unknown), plus one download a day of each
        probe project (the coverage probe's). One insert per day, so the aggregates hold unmerged parts."""
        from generator.sources.clickpy import PROBE_PROJECTS

        data = cls([])
        probes = "[" + ",".join(f"'{p}'" for p in PROBE_PROJECTS) + "]"
        day = first
        while day <= last:
            run(GENERATED_DAY.format(db=data.database, n=int(projects), rows=int(rows_per_day), day=day.isoformat()))
            run(
                f"INSERT INTO {data.database}.pypi SELECT toDate('{day}'), 'US', arrayJoin({probes}),"  # noqa: S608
                " 'bdist_wheel', 'pip', '3.12', 'Linux', '1.0'"
            )
            day += dt.timedelta(days=1)
        data.days = sorted({first + dt.timedelta(days=i) for i in range((last - first).days + 1)})
        return data

    def sql(self, text: str) -> str:
        """Point `pypi.` at this fake's database."""
        return re.sub(r"(?<![\w.`])pypi\.", f"{self.database}.", text)

    def query(self, text: str, params: dict[str, Any] | None = None, fmt: str = "JSONEachRow") -> list[dict[str, Any]]:
        """Run SQL (ClickPy's table names) with parameters; rows as dicts."""
        from generator.sources.clickpy import format_param

        out = run(self.sql(text), fmt, {k: format_param(v) for k, v in (params or {}).items()})
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def close(self) -> None:
        with contextlib.suppress(ChdbError):
            run(f"DROP DATABASE IF EXISTS {self.database}")
        self._tmp.cleanup()

    def __enter__(self) -> ClickPyData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _flatten(events: Any, target: Path, tmp: Path) -> set[dt.date]:
    """Events (directory or dicts) → one flat Parquet file; returns the UTC days present."""
    from generator.sources.local import LocalSource

    if not isinstance(events, str | Path):
        directory = tmp / "events"
        directory.mkdir()
        with (directory / "events.jsonl").open("w", encoding="utf-8") as fh:
            for e in events:
                fh.write(json.dumps(e) + "\n")
        events = directory
    source = LocalSource(Path(events))
    try:
        source.con.execute(
            f"""COPY (
                SELECT row_number() OVER () AS n, CAST(timestamp AS DATE) AS date, country_code, project,
                       file.type AS type, details.installer.name AS installer, details.python AS python,
                       details.system.name AS system, file.version AS version
                FROM file_downloads
            ) TO '{str(target).replace("'", "''")}' (FORMAT parquet)"""  # noqa: S608 - our own temp path
        )
        found = source.con.execute("SELECT DISTINCT CAST(timestamp AS DATE) FROM file_downloads").fetchall()
        days = {r[0] for r in found}
    finally:
        source.close()
    return days


# -- the HTTP server ----------------------------------------------------------------------------------
@dataclass
class Received:
    """One request as the server saw it."""

    sql: str
    params: dict[str, str]
    settings: dict[str, str]
    headers: dict[str, str]
    status: int = 0

    @property
    def tables(self) -> list[str]:
        return sorted(set(re.findall(r"\bpypi\.(\w+)", self.sql)))


@dataclass
class _Injection:
    kind: str  # "error", "http", "delay", "midstream"
    times: int
    code: int = 0
    status: int = 0
    message: str = ""
    seconds: float = 0.0


@dataclass
class FakeClickHouse(LoopbackFake):
    data: ClickPyData
    user: str = "demo"
    profile: dict[str, str] = field(default_factory=dict)
    """Settings of the user's profile, applied to every query as ClickHouse applies a profile's: e.g.
    {"max_result_rows": "100", "result_overflow_mode": "break"} ends a result after the block that
    crosses 100 rows, WITHOUT an error (ClickHouse docs, "Restrictions on query complexity")."""
    received: list[Received] = field(default_factory=list)
    _injections: list[_Injection] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- injection --------------------------------------------------------------------------------
    def fail_next(self, code: int, *, times: int = 1, message: str = "", status: int | None = None) -> None:
        """The next `times` queries fail with this ClickHouse error code (before any row is sent)."""
        self._add(_Injection("error", times, code=code, status=status or CODE_STATUS.get(code, 500), message=message))

    def http_error_next(self, status: int, *, times: int = 1, body: str = "") -> None:
        """The next `times` queries get a bare HTTP error, as from a proxy (no ClickHouse code)."""
        self._add(_Injection("http", times, status=status, message=body))

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """The next `times` queries wait this long before answering (client timeouts)."""
        self._add(_Injection("delay", times, seconds=seconds))

    def midstream_error_next(self, code: int, *, times: int = 1, message: str = "") -> None:
        """The next `times` queries send 200 and some rows, then ClickHouse's error text in the body."""
        self._add(_Injection("midstream", times, code=code, message=message))

    def _add(self, injection: _Injection) -> None:
        with self._lock:
            self._injections.append(injection)

    def _take(self) -> _Injection | None:
        with self._lock:
            if not self._injections:
                return None
            first = self._injections[0]
            first.times -= 1
            if first.times <= 0:
                self._injections.pop(0)
            return first

    @property
    def queries(self) -> list[Received]:
        """Requests that reached the engine and succeeded."""
        return [r for r in self.received if r.status == 200]

    # -- answering --------------------------------------------------------------------------------
    def handle(self, settings: dict[str, str], sql: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        params = {k[len("param_") :]: v for k, v in settings.items() if k.startswith("param_")}
        plain = {k: v for k, v in settings.items() if not k.startswith("param_")}
        got = Received(sql, params, plain, headers)
        self.received.append(got)
        injection = self._take()
        if injection is not None and injection.kind == "delay":
            time.sleep(injection.seconds)
            injection = None
        if settings.get("user", headers.get("X-ClickHouse-User", "default")) != self.user:
            got.status, answer = _error(516, DEFAULT_MESSAGES[516])
            return answer
        if injection is not None and injection.kind == "http":
            got.status = injection.status
            return injection.status, {"Content-Type": "text/html"}, injection.message.encode()
        if injection is not None and injection.kind == "error":
            got.status, answer = _error(injection.code, injection.message or DEFAULT_MESSAGES.get(injection.code, ""))
            return answer
        fmt = plain.get("default_format", "TabSeparated")
        text = self.data.sql(sql)
        if self.profile:
            text = (
                text.rstrip().rstrip(";")
                + "\nSETTINGS "
                + ", ".join(f"{k} = {_setting(v)}" for k, v in self.profile.items())
            )
        try:
            body, read_rows, read_bytes = run_counted(text, fmt, params)
        except ChdbError as exc:
            got.status, answer = _error(exc.code, exc.message)
            return answer
        got.status = 200
        headers_out = {
            "Content-Type": "application/x-ndjson; charset=UTF-8" if fmt == "JSONEachRow" else "text/plain",
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Query-Id": str(uuid.uuid4()),
            "X-ClickHouse-Summary": json.dumps({"read_rows": str(read_rows), "read_bytes": str(read_bytes)}),
        }
        if injection is not None and injection.kind == "midstream":
            code = injection.code
            lines = body.splitlines(keepends=True)
            text = injection.message or DEFAULT_MESSAGES.get(code, "error")
            tail = f"Code: {code}. DB::Exception: {text}. ({CODE_NAMES.get(code, 'UNKNOWN')}) (version {VERSION})\n"
            return 200, headers_out, ("".join(lines[: max(1, len(lines) // 2)]) + tail).encode()
        return 200, headers_out, body.encode("utf-8")


def _setting(value: str) -> str:
    """A profile setting's value as SQL: a number as it is, anything else quoted."""
    return value if re.fullmatch(r"\d+", value) else "'" + value.replace("'", "\\'") + "'"


def _error(code: int, message: str) -> tuple[int, tuple[int, dict[str, str], bytes]]:
    status = CODE_STATUS.get(code, 500)
    name = CODE_NAMES.get(code, "UNKNOWN_EXCEPTION")
    body = f"Code: {code}. DB::Exception: {message}. ({name}) (version {VERSION})\n"
    headers = {"Content-Type": "text/plain; charset=UTF-8", "X-ClickHouse-Exception-Code": str(code)}
    return status, (status, headers, body.encode())


class _Handler(LoopbackHandler):
    fake: FakeClickHouse

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        settings = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        sql = self.rfile.read(length).decode("utf-8") if length else settings.pop("query", "")
        headers = {k: v for k, v in self.headers.items()}
        try:
            status, out_headers, body = self.fake.handle(settings, sql, headers)
        except Exception as exc:  # noqa: BLE001 - a bug in the fake must not hang the client
            status, (_, out_headers, body) = _error(1001, f"fake ClickHouse failed: {type(exc).__name__}: {exc}")
        try:
            self.send_response(status)
            for key, value in out_headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (a timeout test)


FakeClickHouse.handler = _Handler
FakeClickHouse.thread_name = "fake-clickhouse"


@contextlib.contextmanager
def running(data: ClickPyData, **kwargs: Any) -> Iterator[FakeClickHouse]:
    fake = FakeClickHouse(data, **kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()


__all__ = ["DDL", "README_IMPORT_FILTER", "ClickPyData", "FakeClickHouse", "Received", "run", "run_counted", "running"]
