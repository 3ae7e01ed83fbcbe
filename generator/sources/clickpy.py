"""The ClickPy source: ClickPy's public ClickHouse service, free, no Google Cloud account needed.

ClickPy (github.com/ClickHouse/clickpy) loads PyPI's download logs from BigQuery into
ClickHouse and keeps them as daily `SummingMergeTree` aggregates keyed by date, project and
version, plus one or two of: installer and file type; country; Python minor version; system.
Its public service is `https://sql-clickhouse.clickhouse.com`, user `demo`, no password, with
quotas (ClickHouse/clickpy .env.example; hugovk/top-pypi-packages' clickhouse.py POSTs its query
there with `user=demo`).

What its data allows (the source's `capabilities`, see generator.sources.ALL_CAPABILITIES):
- installer per day, and per installer by file type, package version and country: so mirrors,
  scripts and package managers split as with BigQuery, and pypistats' with/without-mirrors rule
  works;
- Python minor version and OS, but only over ALL installers (those tables have no installer);
- no CI flag, no installer version, no implementation, no distro, no raw Python string (so
  pypistats' malformed-Python rule cannot be reproduced). Those columns stay NULL (python_malformed
  FALSE) and every page part that needs them says "not available from this source".
- Some rows may be missing: ClickPy's documented import example keeps only rows whose Python and
  system are non-empty (ClickHouse/clickpy README, "Importing data"). A store holding both
  BigQuery and ClickPy rows shows the per-day differences on the package page.

Etiquette: one query per table per run (`preflight` fetches every job of the plan at once, for
all packages and only the missing days), values bound as ClickHouse query parameters
(`{name:Type}` in the SQL, `param_name` in the URL), a descriptive User-Agent, retries with
backoff only for transient errors, and a quota error stops the run with one line that says so.

ClickHouse's HTTP interface (clickhouse.com/docs/interfaces/http): errors come with the header
`X-ClickHouse-Exception-Code` and a body `Code: N. DB::Exception: ...`; an error after rows
started streaming arrives inside a 200 body. Codes (ClickHouse src/Common/ErrorCodes.cpp, and
`errorCodeToName()` in chdb): 201 QUOTA_EXCEEDED, 202 TOO_MANY_SIMULTANEOUS_QUERIES,
159 TIMEOUT_EXCEEDED, 209 SOCKET_TIMEOUT, 210 NETWORK_ERROR, 439 CANNOT_SCHEDULE_TASK,
241 MEMORY_LIMIT_EXCEEDED, 516 AUTHENTICATION_FAILED, 497 ACCESS_DENIED, 60 UNKNOWN_TABLE.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.client
import json
import os
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from generator import dimensions, queries
from generator.config import Config
from generator.dates import utc_today
from generator.errors import SourceError
from generator.plan import Job
from generator.sources import STORE_SCHEMA, FetchResult, retry

DEFAULT_URL = "https://sql-clickhouse.clickhouse.com"
"""ClickPy's public ClickHouse (ClickHouse/clickpy .env.example; hugovk/top-pypi-packages)."""
URL_ENV = "PYPI_STATS_CLICKPY_URL"
"""Overrides DEFAULT_URL wherever no URL is configured (tests point it at a local fake, so no test reaches ClickPy)."""
USER = "demo"
"""The public read-only user: no password, quotas apply."""

# A day ClickPy holds has downloads of these, the most downloaded packages, every single day; a
# day where none of them has a row is a day ClickPy has not loaded (see clickpy_coverage.sql).
PROBE_PROJECTS: tuple[str, ...] = ("boto3", "urllib3", "botocore", "requests", "setuptools", "certifi", "pip")

# What ClickPy's tables can support (see the module docstring and generator.sources): the
# breakdowns a ClickPy query answers (Dimension.clickpy_query), by installer where its table keeps one.
CAPABILITIES: frozenset[str] = frozenset(
    {d.name for d in dimensions.DIMENSIONS if d.clickpy_query}
    | {f"{d.name}.by_installer" for d in dimensions.DIMENSIONS if d.clickpy_query and d.clickpy_by_installer}
)

# Which query answers which breakdown is in the registry. The installer query always runs (it
# holds the totals). File types come from the installer x type x country table, whose sorting key
# includes `type`: the installer x type table's key leaves `type` out, so its merged rows keep an
# arbitrary type.
INSTALLER_QUERY = "clickpy_installers"
COVERAGE_QUERY = "clickpy_coverage"
BEFORE_STORE_QUERY = "clickpy_before_store"
"""Not a table query: each package's downloads before the store's first day (see downloads_before)."""
CHOOSES_BREAKDOWNS = "{breakdowns:Array(String)}"
"""The parameter of a query that answers several breakdowns: which of them to compute."""
TABLE_COLUMNS = ("day", "project", "installer_name", "breakdown", "breakdown_value", "n")
"""What each ClickPy table query (queries/clickpy_*.sql) returns: one row per stored row and breakdown."""
SUMMED = """
SELECT day, project, installer_name AS installer, breakdown, breakdown_value AS value, sum(n) AS downloads
FROM (
{query}
)
GROUP BY day, project, installer_name, breakdown, breakdown_value
"""
"""The one projection of every table query: summed (SummingMergeTree rows may be unmerged) into OUTPUT_COLUMNS."""
OUTPUT_COLUMNS = ("day", "project", "installer", "breakdown", "value", "downloads")
"""What ClickPy answers; `to_store_rows` puts `value` into its breakdown's store column."""


def summed_query(table_query: str) -> str:
    """A table query's rows summed per (day, project, installer, breakdown, value): SUMMED around it."""
    return SUMMED.format(query=table_query.strip())


# ClickHouse error codes (ClickHouse src/Common/ErrorCodes.cpp).
QUOTA_EXCEEDED = 201
TOO_MANY_SIMULTANEOUS_QUERIES = 202
TIMEOUT_EXCEEDED = 159
SOCKET_TIMEOUT = 209
NETWORK_ERROR = 210
CANNOT_SCHEDULE_TASK = 439
MEMORY_LIMIT_EXCEEDED = 241
AUTHENTICATION_FAILED = 516
UNKNOWN_USER = 192
WRONG_PASSWORD = 193
ACCESS_DENIED = 497
READONLY = 164
UNKNOWN_TABLE = 60
UNKNOWN_IDENTIFIER = 47
UNKNOWN_DATABASE = 81
SYNTAX_ERROR = 62
TRANSIENT_CODES = frozenset(
    {TOO_MANY_SIMULTANEOUS_QUERIES, TIMEOUT_EXCEEDED, SOCKET_TIMEOUT, NETWORK_ERROR, CANNOT_SCHEDULE_TASK}
)
# Without a ClickHouse code (a proxy or load balancer answered), only these are worth a retry.
TRANSIENT_STATUS = frozenset({429, 502, 503, 504})

_CODE = re.compile(r"Code:\s*(\d+)")
_QUOTA_END = re.compile(r"Interval will end at ([0-9-]+ [0-9:]+)")


def service_url(configured: str = "") -> str:
    """The configured URL, else $PYPI_STATS_CLICKPY_URL, else ClickPy's public service."""
    return (configured.strip() or os.environ.get(URL_ENV, "").strip() or DEFAULT_URL).rstrip("/")


def user_agent() -> str:
    """A descriptive User-Agent, so ClickPy's operators can see who sends these queries."""
    try:
        from importlib.metadata import version

        ours = version("pypi-stats-site")
    except Exception:  # noqa: BLE001 - not installed as a distribution (running from a checkout)
        ours = "dev"
    return f"pypi-stats-site/{ours} (static PyPI download-stats reports; a few queries per day, one per table per run)"


# -- retries ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy(retry.RetryPolicy):
    """The shared backoff with longer waits: ClickPy is a free service shared by everyone."""

    initial_seconds: float = 2.0
    max_seconds: float = 60.0
    deadline_seconds: float = 600.0
    max_attempts: int = 6


# -- errors ---------------------------------------------------------------------------------------
class ClickHouseError(Exception):
    """An error answered by ClickHouse (or the HTTP path to it)."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message

    @property
    def transient(self) -> bool:
        if self.code is not None:
            return self.code in TRANSIENT_CODES
        return self.status is None or self.status in TRANSIENT_STATUS

    @property
    def answered(self) -> bool:
        """Something answered (ClickHouse or a proxy): not a refused, dropped or silent connection."""
        return self.code is not None or self.status is not None


class ConnectTimeout(TimeoutError):
    """No connection (TCP and TLS) within the connect timeout: a dropped route or a firewall's black hole."""


class _ConnectTimeoutMixin(http.client.HTTPConnection):
    """An http.client connection that connects within `connect_timeout`, then reads within its `timeout`.

    Put first in the bases of an HTTPConnection or HTTPSConnection: its `connect` wraps theirs.
    """

    connect_timeout: float

    def connect(self) -> None:
        read_timeout = self.timeout
        self.timeout = self.connect_timeout
        try:
            super().connect()
        except TimeoutError as err:
            raise ConnectTimeout(f"no connection within {self.connect_timeout:g} s") from err
        finally:
            self.timeout = read_timeout
        self.sock.settimeout(read_timeout)


class _HTTPConnection(_ConnectTimeoutMixin, http.client.HTTPConnection):
    def __init__(self, *args: Any, connect_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connect_timeout = connect_timeout


class _HTTPSConnection(_ConnectTimeoutMixin, http.client.HTTPSConnection):
    def __init__(self, *args: Any, connect_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connect_timeout = connect_timeout


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, connect_timeout: float) -> None:
        super().__init__()
        self.connect_timeout = connect_timeout

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(functools.partial(_HTTPConnection, connect_timeout=self.connect_timeout), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, connect_timeout: float) -> None:
        super().__init__()
        self.connect_timeout = connect_timeout

    def https_open(self, req: urllib.request.Request) -> Any:
        connection = functools.partial(_HTTPSConnection, connect_timeout=self.connect_timeout)
        # The handler's SSL context, as urllib's own https_open passes it: a private attribute the stubs omit.
        return self.do_open(connection, req, context=self._context)  # type: ignore[attr-defined]


def connect_timeout_opener(connect_timeout: float) -> Callable[..., Any]:
    """urlopen with a separate, shorter connect timeout (the `timeout` passed to it bounds each read).

    urllib's one timeout bounds the connect and every read alike; an optional query wants to give up
    on an unreachable host in seconds and still wait for a slow answer from a reachable one.
    """
    return urllib.request.build_opener(_HTTPHandler(connect_timeout), _HTTPSHandler(connect_timeout)).open


def _first_line(text: str, limit: int = 300) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0].strip()[:limit] if lines else ""


def parse_error(body: str, header_code: str | None, status: int | None) -> ClickHouseError:
    """A ClickHouseError from a response: the code from the header, else from `Code: N.` in the body."""
    code: int | None = None
    if header_code and header_code.strip().isdigit():
        code = int(header_code.strip())
    else:
        match = _CODE.search(body)
        if match:
            code = int(match.group(1))
    # The error text is the line with ClickHouse's "Code: N." (in 25.11+ a mid-stream error sits
    # between `__exception__` markers, after a tag line); otherwise the body's first line.
    lines = [line.strip() for line in body.splitlines() if line.strip() and line.strip() != "__exception__"]
    coded = [line for line in lines if _CODE.search(line)]
    message = (coded or lines or [f"HTTP {status}"])[0][:300]
    return ClickHouseError(message, code=code, status=status)


def explain(exc: ClickHouseError, url: str) -> SourceError:
    """A permanent ClickHouse error, in plain words, with what to do about it (one line)."""
    code = exc.code
    msg = exc.message
    host = urllib.parse.urlsplit(url).netloc or url
    if code == QUOTA_EXCEEDED:
        end = _QUOTA_END.search(msg)
        when = f" (the quota interval ends at {end.group(1)} UTC)" if end else ""
        return SourceError(
            f"ClickPy quota exceeded: {host} refused the query for user {USER!r}{when}. Nothing is wrong with"
            " your config; wait for the quota to reset and run build again (days already fetched are kept)."
            f" ClickHouse said: {msg}"
        )
    if code in (AUTHENTICATION_FAILED, UNKNOWN_USER, WRONG_PASSWORD, ACCESS_DENIED, READONLY):
        return SourceError(
            f"ClickPy at {host} refused user {USER!r} (code {code}: {msg}); the public credentials may have"
            " changed: check the ClickHouse/clickpy README"
        )
    if code in (UNKNOWN_TABLE, UNKNOWN_IDENTIFIER, UNKNOWN_DATABASE):
        return SourceError(
            f"ClickPy's tables are not what this tool expects (code {code}: {msg}); its schema may have"
            " changed: please report this"
        )
    if code == SYNTAX_ERROR:
        return SourceError(f"ClickPy rejected the query as invalid (code {code}: {msg}); please report this bug")
    if code in (MEMORY_LIMIT_EXCEEDED, TIMEOUT_EXCEEDED):
        return SourceError(
            f"ClickPy could not finish the query within the public user's limits (code {code}: {msg}); fetch"
            " fewer days per run (a smaller [source].history_days, then raise it over several runs) or fewer packages"
        )
    label = f"code {code}" if code is not None else f"HTTP {exc.status}" if exc.status else "no answer"
    return SourceError(f"ClickPy query failed at {host} ({label}): {msg}")


# -- the HTTP client --------------------------------------------------------------------------------
def format_param(value: Any) -> str:
    """A query parameter's value in the text form ClickHouse parses for its `{name:Type}`.

    Scalars are plain text; arrays are `['a','b']` with ' and \\ escaped. Values go in the URL as
    `param_<name>`, never into the SQL.
    """
    if isinstance(value, list | tuple):
        return "[" + ",".join(_quoted(v) for v in value) + "]"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _quoted(value: Any) -> str:
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class QueryStats:
    queries: int = 0
    attempts: int = 0
    read_rows: int = 0
    read_bytes: int = 0
    per_query: list[str] = field(default_factory=list)


class ClickHouseHTTP:
    """POSTs SQL to ClickHouse's HTTP interface and reads JSONEachRow rows back."""

    def __init__(
        self,
        url: str = "",
        *,
        user: str = USER,
        timeout: float = 120.0,
        connect_timeout: float | None = None,
        retry_unanswered: bool = True,
        retry: RetryPolicy | None = None,
        opener: Callable[..., Any] | None = None,
    ) -> None:
        """`url`: "" is service_url()'s. `timeout` bounds the connect and each read, unless a shorter
        `connect_timeout` bounds the connect. `retry_unanswered=False`: a refused, dropped or silent
        connection fails at once instead of being retried (for optional queries: offline costs little)."""
        self.url = service_url(url) + "/"
        self.user = user
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry_unanswered = retry_unanswered
        self.retry = retry or RetryPolicy()
        self._open = opener or (connect_timeout_opener(connect_timeout) if connect_timeout else urllib.request.urlopen)
        self.stats = QueryStats()

    def _transient(self, exc: Exception) -> bool:
        if not isinstance(exc, ClickHouseError) or not exc.transient:
            return False
        return exc.answered or self.retry_unanswered

    def query(self, name: str, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run one query (retrying transient errors); rows as dicts. Raises SourceError."""
        deadline = self.retry.clock() + self.retry.deadline_seconds
        self.stats.queries += 1
        self.stats.per_query.append(name)

        def once() -> list[dict[str, Any]]:
            self.stats.attempts += 1
            return self._once(sql, params)

        def give_up(exc: Exception, attempts: int) -> Exception:
            assert isinstance(exc, ClickHouseError)
            if exc.code in (TIMEOUT_EXCEEDED,):
                return explain(exc, self.url)
            what = f"code {exc.code}" if exc.code is not None else exc.message
            return SourceError(
                f"ClickPy kept failing with a transient error ({what}) for {attempts} attempt(s) of"
                f" query {name}; try again later"
            )

        try:
            return retry.retrying(
                once,
                self.retry,
                deadline,
                transient=self._transient,
                give_up=give_up,
            )
        except ClickHouseError as exc:
            raise explain(exc, self.url) from None

    def _once(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        query = {"user": self.user, "default_format": "JSONEachRow"}
        query.update({f"param_{k}": format_param(v) for k, v in params.items()})
        request = urllib.request.Request(
            self.url + "?" + urllib.parse.urlencode(query),
            data=sql.encode("utf-8"),
            method="POST",
            headers={
                "User-Agent": user_agent(),
                "Content-Type": "text/plain; charset=utf-8",
                "Accept": "application/x-ndjson, application/json, text/plain",
            },
        )
        try:
            with self._open(request, timeout=self.timeout) as response:
                status = response.status
                headers = response.headers
                body = response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as err:
            text = err.read().decode("utf-8", errors="replace") if err.fp is not None else ""
            raise parse_error(text, err.headers.get("X-ClickHouse-Exception-Code"), err.code) from None
        except http.client.HTTPException as err:
            raise ClickHouseError(f"the answer was cut off ({type(err).__name__})") from None
        except TimeoutError:
            raise ClickHouseError(f"no answer within {self.timeout:g} s") from None
        except (urllib.error.URLError, ConnectionError, OSError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, ConnectTimeout):
                raise ClickHouseError(f"cannot reach {self.url} ({reason})") from None
            if isinstance(reason, TimeoutError):
                raise ClickHouseError(f"no answer within {self.timeout:g} s") from None
            if isinstance(reason, ssl.SSLError):  # a certificate problem does not pass by waiting
                raise SourceError(f"cannot reach ClickPy at {self.url}: TLS failed ({reason})") from None
            raise ClickHouseError(f"cannot reach {self.url} ({reason})") from None
        code = headers.get("X-ClickHouse-Exception-Code")
        if code:
            raise parse_error(body, code, status)
        self._count(headers.get("X-ClickHouse-Summary"))
        return _parse_rows(body, status)

    def _count(self, summary: str | None) -> None:
        if not summary:
            return
        try:
            data = json.loads(summary)
            self.stats.read_rows += int(data.get("read_rows", 0))
            self.stats.read_bytes += int(data.get("read_bytes", 0))
        except (ValueError, TypeError):
            return


def _parse_rows(body: str, status: int) -> list[dict[str, Any]]:
    """JSONEachRow lines; a line that is not a JSON object is an error ClickHouse wrote mid-stream."""
    rows: list[dict[str, Any]] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if not isinstance(row, dict):
            error = parse_error(body[body.find(line) :], None, status)
            if error.code is None:
                # Not an error ClickHouse wrote: a broken answer (a proxy page, a cut connection).
                raise ClickHouseError(f"unreadable answer (not JSONEachRow): {_first_line(line, 120)!r}")
            raise error
        rows.append(row)
    return rows


# -- rows -------------------------------------------------------------------------------------------
def to_store_rows(rows: Iterable[dict[str, Any]]) -> pa.Table:
    """JSONEachRow dicts (OUTPUT_COLUMNS) as an Arrow table in the store's schema.

    The one projection of every ClickPy query onto the store: `value` goes to the column of the
    dimension its `breakdown` names, every other dimension column is NULL; ClickPy keeps no CI flag
    (NULL) and no raw Python string (python_malformed FALSE: pypistats' filter cannot be applied).
    """
    columns: dict[str, list[Any]] = {name: [] for name in STORE_SCHEMA.names}
    for row in rows:
        missing = [name for name in OUTPUT_COLUMNS if name not in row]
        if missing:
            raise SourceError(f"ClickPy returned no column {missing[0]!r}; the query and the store disagree")
        columns["day"].append(dt.date.fromisoformat(str(row["day"])[:10]))
        columns["project"].append(row["project"])
        columns["installer"].append(row["installer"])
        columns["ci"].append(None)
        columns["python_malformed"].append(False)
        columns["breakdown"].append(row["breakdown"])
        for dim in dimensions.DIMENSIONS:
            columns[dim.column].append(row["value"] if row["breakdown"] == dim.name else None)
        columns["downloads"].append(int(row["downloads"]))  # 64-bit integers may come quoted
    return pa.table({name: pa.array(values, type=STORE_SCHEMA.field(name).type) for name, values in columns.items()})


def queries_for(breakdowns: Iterable[str]) -> dict[str, list[str]]:
    """Each ClickPy query to run, with the wanted breakdowns it answers; the installer query always runs."""
    wanted = set(breakdowns)
    out: dict[str, list[str]] = {INSTALLER_QUERY: []}
    for dim in dimensions.DIMENSIONS:
        if dim.clickpy_query and dim.name in wanted:
            out.setdefault(dim.clickpy_query, []).append(dim.name)
    return out


def _union(jobs: Sequence[Job]) -> tuple[tuple[str, ...], list[dt.date], tuple[str, ...]]:
    projects = tuple(dict.fromkeys(p for job in jobs for p in job.projects))
    days = sorted({d for job in jobs for d in job.window})
    breakdowns = tuple(dict.fromkeys(b for job in jobs for b in job.breakdowns))
    return projects, days, breakdowns


def downloads_before(http: ClickHouseHTTP, first_days: Mapping[str, dt.date]) -> dict[str, int]:
    """Each project's downloads on every day ClickPy holds before its own first day: one query.

    What pepy/ClickPy's all-time figure counts beyond the store's days (queries/clickpy_before_store.sql);
    a project ClickPy holds no day before that for has 0. Raises SourceError as every ClickPy query.
    """
    projects = list(first_days)
    if not projects:
        return {}
    params = {"projects": projects, "befores": [first_days[p] for p in projects]}
    rows = http.query(BEFORE_STORE_QUERY, queries.load(BEFORE_STORE_QUERY), params)
    out = dict.fromkeys(projects, 0)
    for row in rows:
        out[str(row["project"])] = int(row["downloads"])  # 64-bit integers may come quoted
    return out


# -- the source ---------------------------------------------------------------------------------------
class ClickPySource:
    """The Source protocol over ClickPy's public ClickHouse (see the module docstring)."""

    name = "clickpy"
    synthetic = False
    capabilities = CAPABILITIES

    def __init__(
        self,
        config: Config | None = None,
        *,
        url: str | None = None,
        http: ClickHouseHTTP | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 120.0,
        today: Callable[[], dt.date] = utc_today,
        probes: Sequence[str] = PROBE_PROJECTS,
    ) -> None:
        endpoint = service_url(url or (config.source.api_endpoint if config is not None else ""))
        self.http = http or ClickHouseHTTP(endpoint, retry=retry, timeout=timeout)
        self.probes = tuple(probes)
        self._today = today
        self._cache: dict[tuple[str, dt.date], list[dict[str, Any]]] | None = None
        self._cached_days: set[dt.date] = set()
        self._cached_projects: set[str] = set()
        self._cached_breakdowns: set[str] = set()
        self._available: set[dt.date] = set()

    @property
    def stats(self) -> QueryStats:
        return self.http.stats

    # -- one query per table for the whole plan -------------------------------------------------------
    def preflight(self, jobs: Sequence[Job], ledger: object = None) -> None:
        """Fetch every job of the plan at once: one query per table, all packages, only the days asked.

        The build calls this before the first `fetch` (with the cost ledger, which ClickPy does not
        need: it costs nothing, so there is no budget to check, only a quota to spare).
        """
        if not jobs:
            return
        projects, days, breakdowns = _union(jobs)
        self._load(projects, days, breakdowns)

    def fetch(self, job: Job) -> FetchResult:
        """The job's rows in the store schema; available days are those ClickPy has loaded."""
        wanted = set(job.window)
        covered = (
            self._cache is not None
            and wanted <= self._cached_days
            and set(job.projects) <= self._cached_projects
            and set(job.breakdowns) <= self._cached_breakdowns
        )
        if not covered:
            self._load(job.projects, sorted(wanted), job.breakdowns)
        assert self._cache is not None
        keep = set(job.projects)
        rows = [r for (project, day), chunk in self._cache.items() if project in keep and day in wanted for r in chunk]
        return FetchResult(rows=to_store_rows(rows), available_days=[d for d in job.window if d in self._available])

    def close(self) -> None:
        self._cache = None

    # -- internals ------------------------------------------------------------------------------------
    def _load(self, projects: Sequence[str], days: list[dt.date], breakdowns: Sequence[str]) -> None:
        self._cache = {}
        self._cached_projects = set(projects)
        self._cached_days = set(days)
        self._cached_breakdowns = set(breakdowns)
        # Today's logs are still arriving: never ask for (or mark) a day that is not over.
        today = self._today()
        days = [d for d in days if d < today]
        self._available = set()
        if not days or not projects:
            return
        base = {"start": days[0], "end": days[-1], "days": days}
        coverage = self.http.query(COVERAGE_QUERY, queries.load(COVERAGE_QUERY), {**base, "probes": self.probes})
        self._available = {dt.date.fromisoformat(str(r["day"])[:10]) for r in coverage}
        if not self._available:
            return  # nothing loaded yet for these days: no need to spend quota on the tables
        held = sorted(self._available)
        base = {"start": held[0], "end": held[-1], "days": held, "projects": list(projects)}
        rows: list[dict[str, Any]] = []
        for name, answers in queries_for(breakdowns).items():
            sql = queries.load(name)
            params = {**base, "breakdowns": answers} if CHOOSES_BREAKDOWNS in sql else base
            rows += self.http.query(name, summed_query(sql), params)
        for row in rows:
            key = (str(row["project"]), dt.date.fromisoformat(str(row["day"])[:10]))
            self._cache.setdefault(key, []).append(row)


__all__ = [
    "CAPABILITIES",
    "DEFAULT_URL",
    "PROBE_PROJECTS",
    "URL_ENV",
    "USER",
    "ClickHouseError",
    "ClickHouseHTTP",
    "ClickPySource",
    "RetryPolicy",
    "downloads_before",
    "explain",
    "format_param",
    "parse_error",
    "service_url",
    "to_store_rows",
    "user_agent",
]
