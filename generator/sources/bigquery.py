"""The BigQuery source: the canonical SQL on `bigquery-public-data.pypi.file_downloads`, through the
real google-cloud-bigquery client, behind a cost guard that cannot be bypassed.

Every query goes through `run_query`: dry run first (free), then the job runs only if its guaranteed
ceiling (dry-run bytes rounded as BigQuery bills them) fits the budgets on what is billed
(`budget.budget_refusal`: billed so far + ceilings of jobs whose outcome is unknown + this ceiling), and
it runs with `maximum_bytes_billed` = that ceiling, so BigQuery itself refuses to bill more. A job's
ledger row is written (through `JobLog.started`) before its results are awaited: a run killed while
it waits leaves that row, and the next run looks the job up (`settle`) to learn what it billed.

Auth is Application Default Credentials; the billing project is [source].billing_project or
$GOOGLE_CLOUD_PROJECT; the permissions the account needs on it are in generator.permissions.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlparse

import pyarrow as pa
import requests
from google.api_core import exceptions as api_exceptions

from generator import permissions, queries
from generator.budget import MonthPace, Spending, budget_refusal, pace_message, pace_refusal, refusal_message
from generator.config import BREAKDOWNS, Config
from generator.cost import JobEstimate, billed_ceiling, dollars, estimate_jobs, format_bytes
from generator.dates import Window, utc_today
from generator.errors import ConfigError, CostLimitExceeded, PermissionDenied, SourceError
from generator.plan import Job
from generator.sources import STORE_SCHEMA, FetchResult
from generator.sources.retry import RetryPolicy, retrying
from generator.sqlrewrite import restrict_breakdowns
from generator.store import UNKNOWN_BILL, LedgerEntry, PartitionState

TOOL_LABEL = "pypi-stats-site"
BIGQUERY_SCOPE = "https://www.googleapis.com/auth/bigquery"

# Reasons BigQuery documents as worth retrying. Everything with another reason is permanent:
# bytesBilledLimitExceeded (arrives as HTTP 500!), accessDenied, invalidQuery, quotaExceeded...
TRANSIENT_REASONS = frozenset(
    {
        "backendError",
        "internalError",
        "badGateway",
        "rateLimitExceeded",
        "jobBackendError",
        "jobInternalError",
        "jobRateLimitExceeded",
    }
)
# Without a structured reason, only these HTTP statuses are worth another try.
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


T = TypeVar("T")


# -- retries ------------------------------------------------------------------------------------


def error_reason(exc: BaseException) -> str | None:
    """BigQuery's structured reason (`errors[0].reason`) of a client exception, if any."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = errors[0].get("reason")
        return str(reason) if reason else None
    return None


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: a transient reason, else a 5xx/429 without reason, or a dropped connection."""
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    reason = error_reason(exc)
    if reason is not None:
        return reason in TRANSIENT_REASONS
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        return exc.code in TRANSIENT_STATUS
    return isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout | ConnectionError)


class _JobFailed(Exception):
    """The job itself failed (status.errorResult): re-reading its results cannot help."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


# -- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueryResult:
    rows: pa.Table | None
    """None for a dry run."""
    job_id: str
    scan_bytes: int
    """The dry run's estimate: usually an upper bound, without cluster pruning (see scan_accuracy)."""
    ceiling_bytes: int
    """maximum_bytes_billed the job ran with: the dry run's ceiling, or the N BigQuery required."""
    bytes_processed: int = 0
    bytes_billed: int = 0
    dry_run: bool = False
    scan_accuracy: str = ""
    """BigQuery's totalBytesProcessedAccuracy for the dry run (UPPER_BOUND, PRECISE, ...)."""


# -- the queries --------------------------------------------------------------------------------
def job_query(job: Job) -> tuple[str, list[Any]]:
    """The SQL and bound parameters for one job: never a value formatted into the SQL text."""
    from google.cloud import bigquery

    sql = restrict_breakdowns(queries.load("daily_aggregates"), job.breakdowns)
    params = [
        bigquery.ArrayQueryParameter("projects", "STRING", list(job.projects)),
        bigquery.ScalarQueryParameter("start", "DATE", job.window.start),
        bigquery.ScalarQueryParameter("end", "DATE", job.window.end),
    ]
    return sql, params


def to_store_schema(table: pa.Table) -> pa.Table:
    """Cast query output to the store's column order and types."""
    missing = [n for n in STORE_SCHEMA.names if n not in table.column_names]
    if missing:
        raise SourceError(f"BigQuery returned no column(s) {', '.join(missing)}; the query and store disagree")
    return table.select(STORE_SCHEMA.names).cast(STORE_SCHEMA)


def new_run_id() -> str:
    """A run id that is also a valid BigQuery label value (lowercase, digits, - and _)."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dt%H%M%Sz") + "-" + secrets.token_hex(3)


def label_value(text: str) -> str:
    """BigQuery label values: lowercase letters, digits, `_` and `-`, at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63]


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


def make_client(config: Config) -> Any:
    """A bigquery.Client for the billing project, with Application Default Credentials.

    Raises one line that says exactly what to set when the project or credentials are missing.
    """
    import google.auth
    from google.auth.credentials import AnonymousCredentials
    from google.auth.exceptions import DefaultCredentialsError
    from google.cloud import bigquery

    project = config.billing_project
    if not project:
        raise ConfigError(
            f"{config.path}: BigQuery needs a billing project: set [source].billing_project, or the "
            f"GOOGLE_CLOUD_PROJECT environment variable (the account needs {permissions.REQUIRED_ROLE} on it)"
        )
    endpoint = config.source.api_endpoint
    options = {"api_endpoint": endpoint} if endpoint else None
    if endpoint and _is_loopback(endpoint):
        # A local fake of the API (tests) never needs, and must never receive, real credentials.
        credentials: Any = AnonymousCredentials()
    else:
        try:
            credentials, _ = google.auth.default(scopes=[BIGQUERY_SCOPE])
        except DefaultCredentialsError:
            raise SourceError(
                "no Google Cloud credentials found: set GOOGLE_APPLICATION_CREDENTIALS to a service-account "
                "key file, or run `gcloud auth application-default login` (in CI use Workload Identity); "
                f"the account needs {permissions.REQUIRED_ROLE} on project {project}"
            ) from None
    return bigquery.Client(
        project=project, credentials=credentials, location=config.source.location, client_options=options
    )


# -- the source ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settled:
    """A past job's outcome, looked up: its ledger row, and its rows if they could still be read."""

    entry: LedgerEntry
    rows: pa.Table | None = None
    available_days: list[dt.date] = field(default_factory=list)


class JobLog(Protocol):
    """Where the source records a billable job the moment it exists (the store's ledger, in a build)."""

    def started(self, entry: LedgerEntry) -> None:
        """A job was created: its row (outcome unknown, counted at its ceiling) before any waiting."""

    def settled(self, entry: LedgerEntry) -> None:
        """A job's outcome is known without rows to store (it failed, or a later run looked it up)."""


class BigQuerySource:
    """The Source protocol over BigQuery, with the cost guard. See the module docstring."""

    name = "bigquery"
    synthetic = False

    def __init__(
        self,
        config: Config,
        *,
        client: Any = None,
        run_id: str | None = None,
        retry: RetryPolicy | None = None,
        today: Callable[[], dt.date] = utc_today,
        page_size: int | None = None,
        ledger: Sequence[LedgerEntry] = (),
        log: JobLog | None = None,
    ) -> None:
        self.config = config
        self.budget = config.budget
        self.price_per_tib = config.budget.price_per_tib
        self.run_id = run_id or new_run_id()
        self.retry = retry or RetryPolicy()
        self.page_size = page_size
        self.ledger = list(ledger)
        """Past jobs, for the expected bill in estimates and refusals (the build may set it)."""
        self.log = log
        """Where each job's ledger row goes the moment the job exists (the build sets it)."""
        self.dry_runs_below_check = False
        """Set once BigQuery refused a job with "N or higher required" above its dry run's ceiling: this
        run's dry runs are cluster-pruned (the bill), and each job may need one more try at N."""
        self.spending = Spending()
        """Billed bytes and unknown outcomes, this run and this month (the build counts the month in)."""
        self._today = today
        self._client = client if client is not None else make_client(config)

    def today(self) -> dt.date:
        """Today in UTC (injectable): the month the budget counts, and the day still filling."""
        return self._today()

    @property
    def labels(self) -> dict[str, str]:
        return {"tool": TOOL_LABEL, "run_id": label_value(self.run_id)}

    # -- the one guarded entry point ------------------------------------------------------------
    def dry_run(self, sql: str, params: Sequence[Any]) -> int:
        """BigQuery's estimate of the bytes `sql` reads (free; usually an upper bound, see run_query)."""
        deadline = self.retry.clock() + self.retry.deadline_seconds
        with self._plain_errors():
            scan, _ = self._priced(sql, params, deadline)
        return scan

    def run_query(
        self,
        sql: str,
        params: Sequence[Any],
        *,
        dry_run_only: bool = False,
        job: Job | None = None,
        pace: MonthPace | None = None,
    ) -> QueryResult:
        """Dry-run, check the ceiling against the budgets, then run with maximum_bytes_billed = ceiling.

        `job` names the query in a refusal and in its ledger row; with `pace` (a backfill job), its
        expected bill must also keep the month's pace (budget.pace_refusal).
        When BigQuery refuses the job at no charge with "N or higher required" (bytesBilledLimitExceeded:
        the table grew since the dry run, or the dry run was cluster-pruned and the job is checked
        against the unpruned figure), the job is tried once more with maximum_bytes_billed = N if N
        fits the budgets (else CostLimitExceeded). Without an N, the dry run is repeated instead.
        """
        deadline = self.retry.clock() + self.retry.deadline_seconds
        with self._plain_errors():
            scan, accuracy = self._priced(sql, params, deadline)
            ceiling = billed_ceiling(scan)
            if dry_run_only:
                return QueryResult(None, "", scan, ceiling, dry_run=True, scan_accuracy=accuracy)
            try:
                rows, done = self._execute(sql, params, scan, ceiling, deadline, job, pace, accuracy)
            except api_exceptions.GoogleAPICallError as exc:
                if error_reason(exc) != "bytesBilledLimitExceeded":
                    raise
                required = required_bytes(exc)
                if required is None:
                    scan, accuracy = self._priced(sql, params, deadline)
                    ceiling = billed_ceiling(scan)
                else:
                    # Far above the dry run (a table does not double between a dry run and its job):
                    # BigQuery checks the cap against an unpruned figure while its dry runs are
                    # cluster-pruned, so this run's dry runs stand for the bill, not for the check.
                    far_above = required > PRUNED_CHECK_FACTOR * billed_ceiling(scan)
                    self.dry_runs_below_check = self.dry_runs_below_check or far_above
                    ceiling = required
                rows, done = self._execute(sql, params, scan, ceiling, deadline, job, pace, accuracy)
        billed = _int(done.total_bytes_billed, ceiling)
        self.spending.settled(ceiling, billed)
        return QueryResult(
            rows=rows,
            job_id=str(done.job_id),
            scan_bytes=scan,
            ceiling_bytes=ceiling,
            bytes_processed=_int(done.total_bytes_processed, 0),
            bytes_billed=billed,
            scan_accuracy=accuracy,
        )

    # -- plan-level ---------------------------------------------------------------------------
    def estimate(self, jobs: Sequence[Job], ledger: Sequence[LedgerEntry] | None = None) -> list[JobEstimate]:
        """Dry-run every job (free) and price it: ceiling and expected bill. Checks nothing.

        A dry run BigQuery calls PRECISE, or any dry run once a job needed more than its dry run
        (see run_query), is already cluster-pruned: it is the expected bill itself, not a ceiling
        to scale down by the packages' share."""
        deadline = self.retry.clock() + self.retry.deadline_seconds
        with self._plain_errors():
            priced = [self._priced(*job_query(job), deadline) for job in jobs]
        out = estimate_jobs(
            jobs, [s for s, _ in priced], self.ledger if ledger is None else ledger, price_per_tib=self.price_per_tib
        )
        return [self._pruned(e, accuracy) for e, (_, accuracy) in zip(out, priced, strict=True)]

    def _pruned(self, estimate: JobEstimate, accuracy: str) -> JobEstimate:
        """A dry run BigQuery calls PRECISE, or any once a job needed more than its dry run, is already
        cluster-pruned: its ceiling is the expected bill, not a figure to scale down by the packages' share."""
        if accuracy == "PRECISE" or self.dry_runs_below_check:
            return replace(
                estimate, expected_bytes=estimate.ceiling_bytes, expected_basis="dry run (cluster-pruned: the bill)"
            )
        return estimate

    def fetch(self, job: Job, *, pace: MonthPace | None = None) -> FetchResult:
        """Run one job if it fits the budgets now (else CostLimitExceeded, nothing run); rows in the
        store schema, days before today UTC. `pace`: a backfill job also keeps the month's pace."""
        sql, params = job_query(job)
        result = self.run_query(sql, params, job=job, pace=pace)
        assert result.rows is not None
        today = self._today()
        return FetchResult(
            rows=to_store_schema(result.rows),
            # Today's partition is still filling; only complete days may be marked as fetched.
            available_days=[d for d in job.window if d < today],
            job_id=result.job_id,
            ceiling_bytes=result.ceiling_bytes,
            bytes_processed=result.bytes_processed,
            bytes_billed=result.bytes_billed,
        )

    def ledger_entry(self, job: Job, result: FetchResult) -> LedgerEntry:
        """The cost-ledger row for a fetched job (store it in the same transaction as its rows)."""
        return self._entry(job, result.job_id, result.ceiling_bytes, result.bytes_processed, result.bytes_billed)

    def settle(self, entry: LedgerEntry) -> Settled | None:
        """Look up (jobs.get) a job a past run left with an unknown outcome: its ledger row with what
        it really billed and, when it succeeded, its rows (reading a finished job's results is free,
        so the days it paid for are not paid again). None while BigQuery still runs it: it keeps
        counting at its ceiling."""
        with self._plain_errors():
            try:
                job = self._client.get_job(entry.job_id, location=self.config.source.location, retry=None)
            except api_exceptions.NotFound:
                # Never created (the insert's answer was lost before it reached BigQuery): billed nothing.
                return Settled(self._settled(entry, 0, 0))
            if job.state != "DONE":
                return None
            settled = self._settled(entry, _int(job.total_bytes_billed, 0), _int(job.total_bytes_processed, 0))
            if job.error_result or not entry.projects:
                return Settled(settled)
            try:
                rows = to_store_schema(self._download(job))
            except (api_exceptions.GoogleAPICallError, _JobFailed):
                return Settled(settled)  # results expired (kept about a day): the days stay missing
            today = self._today()
            days = [d for d in Window(entry.start_day, entry.end_day) if d < today]
            return Settled(settled, rows, days)

    def month_spend(self, since: dt.date) -> int:
        """Bytes this tool's jobs billed since `since` (UTC), from BigQuery's list of the caller's own
        jobs (jobs.list: free, no region, no query): for a store whose ledger is new. A job still
        running counts at its maximum_bytes_billed, as an unknown outcome does in the ledger.

        Raises PermissionDenied when BigQuery refuses the list (see generator.permissions)."""
        deadline = self.retry.clock() + self.retry.deadline_seconds
        start = dt.datetime.combine(since, dt.time(), dt.UTC)

        def once() -> int:
            total = 0
            for job in self._client.list_jobs(min_creation_time=start, retry=None):
                if (getattr(job, "labels", None) or {}).get("tool") != TOOL_LABEL:
                    continue
                if job.state == "DONE":
                    total += _int(getattr(job, "total_bytes_billed", None), 0)
                else:
                    total += _int(getattr(job, "maximum_bytes_billed", None), 0)
            return total

        with self._plain_errors():
            total = self._retrying("read this month's job history (jobs.list)", once, deadline)
        return total

    def partition_metadata(self, window: Window) -> dict[dt.date, PartitionState]:
        """Each daily partition of the public table in `window`: its row count and when data was last
        written to it (INFORMATION_SCHEMA.PARTITIONS of the public dataset, one query through the cost
        guard, billed its 10 MB minimum and recorded in the ledger like any job). The build records
        these with every day it fetches, and fetches a held day again only when its partition changed.

        Raises SourceError (e.g. accessDenied: see generator.permissions) or CostLimitExceeded;
        the build then falls back to refetching the latest [source].refetch_days, and says so once."""
        from google.cloud import bigquery

        params = [
            bigquery.ScalarQueryParameter("first", "STRING", window.start.strftime("%Y%m%d")),
            bigquery.ScalarQueryParameter("last", "STRING", window.end.strftime("%Y%m%d")),
        ]
        result = self.run_query(queries.load("partition_metadata"), params)
        assert result.rows is not None
        if self.log is not None:
            self.log.settled(
                self._entry(None, result.job_id, result.ceiling_bytes, result.bytes_processed, result.bytes_billed)
            )
        out: dict[dt.date, PartitionState] = {}
        for row in result.rows.to_pylist():
            try:
                day = dt.datetime.strptime(str(row["partition_id"]), "%Y%m%d").date()
            except ValueError:
                continue  # __NULL__ / __UNPARTITIONED__: not a day
            modified = row["last_modified_time"]
            if modified is None:
                continue
            if modified.tzinfo is not None:
                modified = modified.astimezone(dt.UTC).replace(tzinfo=None)
            out[day] = PartitionState(int(row["total_rows"] or 0), modified)
        return out

    def per_day_scan_bytes(self, projects: Sequence[str], breakdowns: Sequence[str], day: dt.date) -> int:
        """Dry-run bytes of one day for these breakdowns: feed cost.max_days_per_job to split backfills."""
        job = Job(Window(day, day), tuple(projects), tuple(breakdowns))
        return self.dry_run(*job_query(job))

    def measure_column_bytes(self, projects: Sequence[str], day: dt.date) -> dict[str, int]:
        """Per-day bytes of the base query ("base") and what each breakdown adds, by dry runs (free).

        For cost.column_costs(measured=...): what `plan` shows a user can save per breakdown.
        """
        base = self.per_day_scan_bytes(projects, (), day)
        out = {"base": base}
        for name in BREAKDOWNS:
            out[name] = max(0, self.per_day_scan_bytes(projects, (name,), day) - base)
        return out

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    # -- internals ------------------------------------------------------------------------------
    def _entry(self, job: Job | None, job_id: str, ceiling: int, processed: int, billed: int) -> LedgerEntry:
        context = job or Job(Window(self._today(), self._today()), ())
        return LedgerEntry(
            run_id=self.run_id,
            job_id=job_id,
            source=self.name,
            start_day=context.window.start,
            end_day=context.window.end,
            projects=context.projects,
            ceiling_bytes=ceiling,
            bytes_processed=processed,
            bytes_billed=billed,
            dollars=dollars(billed, self.price_per_tib),
        )

    def _settled(self, entry: LedgerEntry, billed: int, processed: int) -> LedgerEntry:
        price = self.price_per_tib
        return replace(entry, bytes_billed=billed, bytes_processed=processed, dollars=dollars(billed, price))

    def _config(self, params: Sequence[Any], **kwargs: Any) -> Any:
        from google.cloud import bigquery

        # No query cache: a cached dry run reports 0 bytes, and the refetched days must be fresh.
        return bigquery.QueryJobConfig(
            query_parameters=list(params), use_query_cache=False, labels=self.labels, **kwargs
        )

    def _priced(self, sql: str, params: Sequence[Any], deadline: float) -> tuple[int, str]:
        """A dry run: its bytes, and how BigQuery rates them (totalBytesProcessedAccuracy: UPPER_BOUND,
        PRECISE, LOWER_BOUND or UNKNOWN; "" when not said)."""

        def once() -> tuple[int, str]:
            job = self._client.query(sql, job_config=self._config(params, dry_run=True), retry=None, job_retry=None)
            stats = (getattr(job, "_properties", None) or {}).get("statistics", {}).get("query", {})
            return _int(job.total_bytes_processed, 0), str(stats.get("totalBytesProcessedAccuracy") or "")

        return self._retrying("price the query (dry run)", once, deadline)

    def _check_fits(self, scan: int, ceiling: int, job: Job | None, pace: MonthPace | None, accuracy: str) -> None:
        """Refuse (CostLimitExceeded) unless the ceiling fits every budget on what is counted so far
        and, for a backfill job (`pace`), its expected bill keeps the month's pace."""
        refusal = budget_refusal(ceiling, self.budget, self.spending)
        if refusal is None and pace is None:
            return
        context = job or Job(Window(self._today(), self._today()), ("(ad-hoc query)",))
        estimate = self._pruned(
            estimate_jobs([context], [scan], self.ledger, price_per_tib=self.price_per_tib)[0], accuracy
        )
        what = f"job {context.window.label()} ({len(context.projects)} package(s))"
        if ceiling > billed_ceiling(scan):
            what += f" (BigQuery required more than its dry run's {format_bytes(scan)})"
        if refusal is None and pace is not None:
            refusal = pace_refusal(estimate.expected_bytes, self.budget, self.spending, pace)
            if refusal is None:
                return
            raise CostLimitExceeded(
                pace_message(refusal, what, pace),
                ceiling_bytes=ceiling,
                cap_bytes=refusal.limit,
                refusal=refusal,
                expected_bytes=estimate.expected_bytes,
            )
        assert refusal is not None
        raise CostLimitExceeded(
            refusal_message(
                refusal, what, expected=estimate.expected_bytes, price_per_tib=self.price_per_tib, first=False
            ),
            ceiling_bytes=ceiling,
            cap_bytes=refusal.limit,
            refusal=refusal,
            expected_bytes=estimate.expected_bytes,
        )

    def _execute(
        self,
        sql: str,
        params: Sequence[Any],
        scan: int,
        ceiling: int,
        deadline: float,
        context: Job | None,
        pace: MonthPace | None,
        accuracy: str,
    ) -> tuple[pa.Table, Any]:
        def attempt() -> tuple[pa.Table, Any]:
            # Checked before every start, restarts included: a restart must fit what is left too.
            self._check_fits(scan, ceiling, context, pace, accuracy)
            job_id = f"pypi_stats_{label_value(self.run_id).replace('-', '_')}_{secrets.token_hex(6)}"
            config = self._config(params, maximum_bytes_billed=ceiling)
            job = self._retrying("start the query job", lambda: self._insert(job_id, sql, config), deadline)
            # From here until its bill is known the job counts at its ceiling, in this run and in the
            # ledger: a run killed while waiting leaves the row for the next run to look up.
            self.spending.started(ceiling)
            if self.log is not None:
                self.log.started(self._entry(context, job_id, ceiling, 0, UNKNOWN_BILL))
            try:
                rows = self._retrying("read the query results", lambda: self._download(job), deadline)
            except _JobFailed as failed:
                # A failed job is normally not billed; count what BigQuery says it billed, if anything.
                billed = _int(job.total_bytes_billed, 0)
                self.spending.settled(ceiling, billed)
                if self.log is not None:
                    self.log.settled(self._entry(context, job_id, ceiling, _int(job.total_bytes_processed, 0), billed))
                raise failed.error from None
            return rows, job

        return self._retrying("run the query job", attempt, deadline)

    def _insert(self, job_id: str, sql: str, config: Any) -> Any:
        try:
            return self._client.query(sql, job_config=config, job_id=job_id, retry=None, job_retry=None)
        except api_exceptions.Conflict:
            # An earlier try of this same insert reached BigQuery but its answer was lost: adopt
            # that job instead of starting (and paying for) a second one.
            return self._client.get_job(job_id, retry=None)

    def _download(self, job: Any) -> pa.Table:
        try:
            rows = job.result(retry=None, job_retry=None, page_size=self.page_size)
            return rows.to_arrow(create_bqstorage_client=False, progress_bar_type=None)
        except api_exceptions.GoogleAPICallError as exc:
            if job.state == "DONE" and job.error_result:
                raise _JobFailed(exc) from exc
            raise

    def _retrying(self, what: str, fn: Callable[[], T], deadline: float) -> T:
        def give_up(exc: Exception, attempts: int) -> Exception:
            return SourceError(
                f"BigQuery could not {what}: it kept failing with a transient error "
                f"({_describe(exc)}) for {attempts} attempt(s); try again later"
            )

        return retrying(fn, self.retry, deadline, transient=is_transient, give_up=give_up)

    def _plain_errors(self) -> _PlainErrors:
        return _PlainErrors(self.config.billing_project)


PRUNED_CHECK_FACTOR = 2
"""A required figure this many times the dry run's ceiling means a pruned dry run, not a grown table."""
_REQUIRED = re.compile(r"\b(\d+) or higher required")


def required_bytes(exc: BaseException) -> int | None:
    """The maximum_bytes_billed a bytesBilledLimitExceeded error asks for ("... 164626432 or higher
    required."), if it says."""
    found = _REQUIRED.search(_message(exc))
    return int(found.group(1)) if found else None


def _int(value: int | str | None, default: int) -> int:
    return default if value is None else int(value)


def _describe(exc: BaseException) -> str:
    reason = error_reason(exc)
    code = getattr(exc, "code", None)
    parts = [p for p in (str(code) if code else "", reason or type(exc).__name__) if p]
    return " ".join(parts)


def _message(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors and isinstance(errors[0], dict) and errors[0].get("message"):
        text = str(errors[0]["message"])
    else:
        text = str(getattr(exc, "message", "") or exc)
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def explain(exc: BaseException, project: str) -> SourceError:
    """A permanent BigQuery error, in plain words, with what to do about it."""
    reason = error_reason(exc) or ""
    msg = _message(exc)
    advice = {
        "bytesBilledLimitExceeded": (
            "BigQuery refused the job because it would bill more than its maximum_bytes_billed ceiling "
            f"({msg}); nothing was billed. It was tried once more at the figure BigQuery asked for, and "
            "the figure moved again (the table grew between the dry run and the job): run again"
        ),
        "invalidQuery": f"BigQuery rejected the query as invalid ({msg}); this is a bug in the tool, please report it",
        "quotaExceeded": (
            f"BigQuery quota exceeded on billing project {project} ({msg}); wait for the quota to reset or "
            "raise it in the Cloud console (a custom per-day query quota also caps bytes)"
        ),
        "billingNotEnabled": (
            f"billing is not enabled on project {project} ({msg}): enable it, or use another [source].billing_project"
        ),
        "notFound": f"BigQuery says not found ({msg}): check [source].billing_project and [source].location",
    }
    if reason == "accessDenied":
        return PermissionDenied(permissions.refused(msg, project), permission=permissions.named_in(msg))
    text = advice.get(reason) or f"BigQuery failed ({_describe(exc)}): {msg}"
    return SourceError(text)


class _PlainErrors:
    """Turns client and auth exceptions into one-line SourceErrors; lets our own errors through."""

    def __init__(self, project: str) -> None:
        self.project = project

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> Literal[False]:
        if exc is None or isinstance(exc, SourceError | CostLimitExceeded | ConfigError):
            return False
        from google.auth import exceptions as auth_exceptions

        if isinstance(exc, auth_exceptions.DefaultCredentialsError):
            raise SourceError(
                "no Google Cloud credentials found: set GOOGLE_APPLICATION_CREDENTIALS, or run "
                "`gcloud auth application-default login`"
            ) from exc
        if isinstance(exc, auth_exceptions.RefreshError):
            raise SourceError(
                f"Google Cloud credentials could not be refreshed ({_message(exc)}): run "
                "`gcloud auth application-default login` again, or check GOOGLE_APPLICATION_CREDENTIALS"
            ) from exc
        if isinstance(exc, api_exceptions.GoogleAPICallError):
            raise explain(exc, self.project) from exc
        if isinstance(exc, requests.exceptions.RequestException):
            raise SourceError(f"cannot reach BigQuery ({_message(exc)}); check the network and try again") from exc
        return False


__all__ = [
    "TOOL_LABEL",
    "BigQuerySource",
    "QueryResult",
    "RetryPolicy",
    "error_reason",
    "explain",
    "is_transient",
    "job_query",
    "make_client",
    "new_run_id",
    "to_store_schema",
]
