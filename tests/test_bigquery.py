"""The BigQuery source, through the real google-cloud-bigquery client against a local fake of the
REST v2 API (tests/fakes/bigquery_server.py) that runs the SQL it receives on DuckDB.

Nothing inside the client is mocked: every test goes over HTTP, through the client's own request,
paging and Arrow conversion code.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Sleeps, event, write_events
from google.api_core import exceptions as api_exceptions
from google.cloud import bigquery

from generator import config as config_mod
from generator import cost
from generator.dates import Window
from generator.errors import ConfigError, CostLimitExceeded, SourceError
from generator.plan import Job, make_plan, plan_for
from generator.queries import load
from generator.sources.bigquery import (
    TOOL_LABEL,
    BigQuerySource,
    RetryPolicy,
    explain,
    job_query,
    make_client,
)
from generator.sources.local import LocalSource
from generator.store import AGGREGATE_COLUMNS, Store, open_store
from tests.fakes.bigquery_server import EventTable, FakeBigQuery, ReceivedJob, billed_bytes

PACKAGES = ("acme", "beta-pkg", "zeta")
OTHERS = ("aardvark", "boto3", "numpy", "requests", "yoyo")
FIRST = dt.date(2026, 10, 1)
DAYS = 10
TODAY = dt.date(2026, 10, 11)
RUN_ID = "test-run"
ALL_BREAKDOWNS = config_mod.BREAKDOWNS

INSTALLERS = ["pip", "uv", "poetry", "bandersnatch", "requests", None]
PYTHONS = ["3.12.1", "3.11.4", "3.8", None, "cpython", "3.13.0rc1"]
SYSTEMS = ["Linux", "Windows", "Darwin", "FreeBSD"]
COUNTRIES = ["US", "DE", "JP", "BR", "ÅL"]  # a non-ASCII code exercises UTF-8 byte counting


def make_events(seed: int = 7, per_day: int = 60) -> list[dict[str, Any]]:
    """Download events for our packages and for others (so cluster pruning has blocks to skip)."""
    rng = random.Random(seed)
    out = []
    for d in range(DAYS):
        day = (FIRST + dt.timedelta(days=d)).isoformat()
        for _ in range(per_day):
            project = rng.choice(PACKAGES + OTHERS + OTHERS)
            out.append(
                event(
                    day=day,
                    project=project,
                    installer=rng.choice(INSTALLERS),
                    python=rng.choice(PYTHONS),
                    ci=rng.choice([True, None, None]),
                    time=f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}",
                    system=rng.choice(SYSTEMS),
                    country=rng.choice(COUNTRIES),
                    version=rng.choice(["1.0", "1.1", "2.0.0"]),
                    file_type=rng.choice(["bdist_wheel", "sdist"]),
                    iv=rng.choice(["24.0", "23.3.1", "0.4.18"]),
                )
            )
    return out


@pytest.fixture(scope="module")
def events_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_events(tmp_path_factory.mktemp("bq-events"), make_events())


@pytest.fixture(scope="module")
def event_table(events_dir: Path) -> Iterator[EventTable]:
    # row_weight makes ceilings exceed the 10 MiB floor, so rounding is exercised above it.
    table = EventTable(events_dir, block_rows=16, row_weight=20_000)
    yield table
    table.close()


@pytest.fixture
def fake(event_table: EventTable) -> Iterator[FakeBigQuery]:
    # Small pages prove the client follows pageToken.
    with FakeBigQuery(event_table, page_rows=100) as server:
        yield server


def make_config(tmp_path: Path, **budget: Any) -> config_mod.Config:
    raw = {
        "packages": {"names": list(PACKAGES)},
        "source": {
            "kind": "bigquery",
            "billing_project": "test-project",
            "history_days": 30,
        },  # the least a config allows,
        "budget": {"max_bytes_per_query": 10 * cost.GIB, "max_bytes_per_run": 100 * cost.GIB, **budget},
        "store": {"path": str(tmp_path / "store.duckdb")},
    }
    return config_mod.parse(raw, tmp_path / "stats.toml")


@pytest.fixture
def make_source(fake: FakeBigQuery, sleeps: Sleeps) -> Iterator[Callable[..., BigQuerySource]]:
    opened: list[BigQuerySource] = []

    def _make(cfg: config_mod.Config, **kwargs: Any) -> BigQuerySource:
        kwargs.setdefault("retry", RetryPolicy(sleep=sleeps, jitter=lambda: 1.0, max_attempts=6))
        kwargs.setdefault("today", lambda: TODAY)
        kwargs.setdefault("run_id", RUN_ID)
        source = BigQuerySource(cfg, client=fake.client(), **kwargs)
        opened.append(source)
        return source

    yield _make
    for source in opened:
        source.close()


def run_plan(source: BigQuerySource, store: Store, jobs: tuple[Job, ...]) -> None:
    """What the build does: one store transaction per fetched job (each checked against the budget)."""
    for job in jobs:
        result = source.fetch(job)
        ledger = source.ledger_entry(job, result)
        store.replace_days(source.name, job.projects, result.available_days, result.rows, ledger=ledger)


def plan_jobs(store: Store, as_of: dt.date, *, history_days: int | None = None, refetch_days: int = 2, **kw: Any):
    """The plan for our packages; by default the store should hold every day from FIRST to as_of."""
    history_days = history_days or (as_of - FIRST).days + 1
    window = Window(as_of - dt.timedelta(days=history_days - 1), as_of)
    covered = store.covered_days("bigquery", PACKAGES, window)
    return make_plan(
        PACKAGES,
        covered,
        as_of,
        history_days=history_days,
        refetch_days=refetch_days,
        breakdowns=ALL_BREAKDOWNS,
        **kw,
    ).jobs


def sorted_rows(table: pa.Table) -> list[tuple]:
    names = [n for n, _ in AGGREGATE_COLUMNS]
    rows = table.select(names).to_pylist()
    return sorted((tuple(r[n] for n in names) for r in rows), key=repr)


def full_job(breakdowns: tuple[str, ...] = ALL_BREAKDOWNS) -> Job:
    return Job(Window(FIRST, FIRST + dt.timedelta(days=DAYS - 1)), PACKAGES, breakdowns)


def matching_dry_run(fake: FakeBigQuery, job: ReceivedJob) -> ReceivedJob:
    for dry in fake.dry_runs:
        if dry.query == job.query and dry.param_values == job.param_values:
            return dry
    raise AssertionError(f"no dry run for job {job.job_id}")


# -- results ------------------------------------------------------------------------------------
def test_full_fetch_gives_the_same_rows_as_duckdb_on_the_same_events(
    tmp_path: Path, events_dir: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    source = make_source(make_config(tmp_path))
    job = full_job()
    result = source.fetch(job)

    local = LocalSource(events_dir)
    try:
        expected = local.fetch(job).rows
    finally:
        local.close()
    assert result.rows.num_rows > 200
    assert sorted_rows(result.rows) == sorted_rows(expected)
    assert result.rows.schema.field("day").type == pa.date32()
    assert result.rows.schema.field("downloads").type == pa.int64()
    assert result.rows.schema.field("ci").type == pa.bool_()
    assert result.available_days == list(job.window)
    # The results came back in several pages (page_rows=100), the client following pageToken.
    pages = [r for r in fake.requests if r.route == "jobs.getQueryResults" and "pageToken" in r.query]
    assert len(pages) == (result.rows.num_rows - 1) // 100


def test_fetch_result_carries_the_jobs_bytes_and_a_ledger_entry(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    source = make_source(make_config(tmp_path))
    job = full_job()
    result = source.fetch(job)
    (received,) = fake.billable_jobs
    assert result.job_id == received.job_id
    assert result.ceiling_bytes == received.maximum_bytes_billed == cost.billed_ceiling(received.estimate_bytes)
    assert result.bytes_processed == received.processed_bytes
    assert result.bytes_billed == received.billed_bytes
    # Cluster pruning: the bill is below the guaranteed ceiling.
    assert billed_bytes(received.processed_bytes) <= result.bytes_billed < result.ceiling_bytes
    entry = source.ledger_entry(job, result)
    assert (entry.run_id, entry.source, entry.projects) == (RUN_ID, "bigquery", PACKAGES)
    assert entry.dollars == pytest.approx(result.bytes_billed / cost.TIB * 6.25)


def test_available_days_stop_before_today_utc(tmp_path: Path, make_source: Callable[..., BigQuerySource]) -> None:
    source = make_source(make_config(tmp_path), today=lambda: dt.date(2026, 10, 10))
    job = Job(Window(dt.date(2026, 10, 9), dt.date(2026, 10, 10)), PACKAGES, ALL_BREAKDOWNS)
    assert source.fetch(job).available_days == [dt.date(2026, 10, 9)]


def test_narrower_breakdowns_read_fewer_columns_and_keep_the_schema(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    source = make_source(make_config(tmp_path))
    narrow, full = full_job(("country", "python_minor")), full_job()
    estimates = source.estimate([narrow, full])
    assert estimates[0].scan_bytes < estimates[1].scan_bytes
    result = source.fetch(narrow)

    sql, _ = job_query(full)
    params = {"projects": list(PACKAGES), "start": narrow.window.start, "end": narrow.window.end}
    reference = [r for r in sorted_rows(fake.reference(sql, params)) if r[5] in ("total", "country", "python_minor")]
    assert sorted_rows(result.rows) == reference
    assert result.rows.column_names == [n for n, _ in AGGREGATE_COLUMNS]
    assert set(result.rows.column("system").to_pylist()) == {None}
    read = fake.account(job_query(narrow)[0], params).columns
    assert "country_code" in read
    assert "file.type" not in read
    assert "details.system.name" not in read


def test_breakdowns_distro_alone_still_groups_distro_rows_by_os(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    """With [source].breakdowns = ["distro"], the restricted query still reads and groups the OS for the
    distro rows (the page counts Linux installs only), but computes no OS breakdown of its own."""
    job = full_job(("distro",))
    result = make_source(make_config(tmp_path)).fetch(job).rows
    params = {"projects": list(PACKAGES), "start": job.window.start, "end": job.window.end}
    everything = sorted_rows(fake.reference(job_query(full_job())[0], params))
    reference = [r for r in everything if r[5] in ("total", "distro")]
    assert sorted_rows(result) == reference
    distro_rows = [r for r in result.to_pylist() if r["breakdown"] == "distro"]
    assert {r["system"] for r in distro_rows} >= {"Linux", "Windows"}
    assert set(result.column("breakdown").to_pylist()) == {"total", "distro"}
    assert "details.system.name" in fake.account(job_query(job)[0], params).columns


# -- incremental runs ---------------------------------------------------------------------------
def test_a_later_run_queries_only_the_new_and_refetched_days(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    cfg = make_config(tmp_path)
    with open_store(cfg.store.path) as store:
        first_as_of = dt.date(2026, 10, 8)
        run_plan(make_source(cfg), store, plan_jobs(store, first_as_of))
        (first,) = fake.billable_jobs
        assert (first.param_values["start"], first.param_values["end"]) == (FIRST, first_as_of)

        fake.clear()
        run_plan(make_source(cfg, run_id="second-run"), store, plan_jobs(store, dt.date(2026, 10, 9)))
        (second,) = fake.billable_jobs
        # 10-08 is refetched (late log rows), 10-09 is new; nothing older is queried again.
        assert (second.param_values["start"], second.param_values["end"]) == (
            dt.date(2026, 10, 8),
            dt.date(2026, 10, 9),
        )
        assert [j.param_values["start"] for j in fake.jobs if j.param_values["start"] < dt.date(2026, 10, 8)] == []
        assert second.labels == {"tool": TOOL_LABEL, "run_id": "second-run"}

        fake.clear()
        run_plan(make_source(cfg), store, plan_jobs(store, dt.date(2026, 10, 10), refetch_days=0))
        (third,) = fake.billable_jobs
        assert third.param_values["start"] == third.param_values["end"] == dt.date(2026, 10, 10)
        assert len(store.ledger()) == 3


# -- the cost guard ---------------------------------------------------------------------------------
def test_a_job_over_the_per_query_cap_runs_nothing_and_says_which_setting(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    cfg = make_config(tmp_path, max_bytes_per_query=20 * cost.MIB)
    source = make_source(cfg)
    with pytest.raises(CostLimitExceeded) as caught:
        source.fetch(full_job())
    message = str(caught.value)
    assert "[budget].max_bytes_per_query = 20.0 MiB" in message
    assert "expected actual bill" in message
    assert caught.value.cap_bytes == 20 * cost.MIB
    assert caught.value.ceiling_bytes > 20 * cost.MIB
    assert fake.billable_jobs == []
    assert len(fake.dry_runs) == 1  # priced, free


def test_the_run_budget_counts_what_is_billed_not_the_sum_of_ceilings(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    one_day = Job(Window(FIRST, FIRST), PACKAGES, ALL_BREAKDOWNS)
    probe = make_source(make_config(tmp_path)).estimate([one_day])[0].ceiling_bytes
    budget = probe * 2 + cost.MIB
    cfg = make_config(tmp_path, max_bytes_per_run=budget)
    jobs = tuple(Job(Window(d, d), PACKAGES, ALL_BREAKDOWNS) for d in (TODAY, FIRST + dt.timedelta(2), FIRST))
    source = make_source(cfg)
    with open_store(cfg.store.path) as store:
        run_plan(source, store, jobs)
    # Three ceilings do not fit two ceilings' worth of budget, but each job fitted what was billed before it.
    assert sum(j.maximum_bytes_billed or 0 for j in fake.billable_jobs) > budget
    assert len(fake.billable_jobs) == 3
    assert sum(j.billed_bytes for j in fake.billable_jobs) == source.spending.run_billed <= budget


def test_every_job_runs_with_a_ceiling_at_least_its_dry_run_and_within_the_cap(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    cap = 10 * cost.GIB
    cfg = make_config(tmp_path, max_bytes_per_query=cap)
    with open_store(cfg.store.path) as store:
        jobs = plan_jobs(store, FIRST + dt.timedelta(days=DAYS - 1), max_days_per_job=3)
        assert len(jobs) == 4
        run_plan(make_source(cfg), store, jobs)
    assert len(fake.billable_jobs) == 4
    for job in fake.billable_jobs:
        dry = matching_dry_run(fake, job)
        assert job.maximum_bytes_billed is not None
        assert dry.estimate_bytes <= billed_bytes(dry.estimate_bytes) <= job.maximum_bytes_billed <= cap
        assert job.billed_bytes <= job.maximum_bytes_billed
        assert job.maximum_bytes_billed > cost.MIN_BILLED_PER_TABLE  # row_weight: above the floor
        assert job.labels == {"tool": TOOL_LABEL, "run_id": RUN_ID}
        assert (job.use_legacy_sql, job.use_query_cache) == (False, False)
    assert [d.labels for d in fake.dry_runs if d.labels["tool"] != TOOL_LABEL] == []


def test_the_fake_refuses_a_cap_below_the_estimate_and_the_source_explains_it(fake: FakeBigQuery) -> None:
    sql, params = job_query(full_job())
    config = bigquery.QueryJobConfig(query_parameters=params, maximum_bytes_billed=cost.MIN_BILLED_PER_TABLE)
    client = fake.client()
    job = client.query(sql, job_config=config, retry=None, job_retry=None)
    with pytest.raises(api_exceptions.InternalServerError) as caught:
        job.result(retry=None, job_retry=None)
    assert fake.billable_jobs[0].error_reason == "bytesBilledLimitExceeded"
    assert "maximum_bytes_billed" in str(explain(caught.value, "test-project"))
    client.close()


def test_one_scan_costs_the_same_ceiling_for_one_package_or_many(fake: FakeBigQuery) -> None:
    window = {"start": FIRST, "end": FIRST + dt.timedelta(days=DAYS - 1)}
    sql = load("daily_aggregates")
    one = fake.account(sql, {"projects": ["acme"], **window})
    many = fake.account(sql, {"projects": list(PACKAGES), **window})
    assert one.estimate_bytes == many.estimate_bytes  # the dry run ignores clustering
    assert one.processed_bytes < many.processed_bytes < many.estimate_bytes  # the bill does not
    assert len(one.partitions) == DAYS


# -- retries and failures -------------------------------------------------------------------------
def test_transient_failures_are_retried_with_backoff_and_succeed(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource], sleeps: Sleeps
) -> None:
    source = make_source(make_config(tmp_path))
    job = full_job()
    fake.fail_next(2, status=503, reason="backendError")
    fake.rate_limit_next(1)
    fake.fail_next(1, status=500, reason="internalError", route="jobs.getQueryResults")
    result = source.fetch(job)
    assert result.rows.num_rows > 0
    assert sleeps == [1.0, 2.0, 4.0, 1.0]  # exponential per call, reset for each new call
    assert len(fake.billable_jobs) == 1


def test_a_job_that_fails_transiently_is_restarted_under_a_new_id(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    source = make_source(make_config(tmp_path))
    job = full_job()
    fake.fail_on_job(1, reason="backendError")
    result = source.fetch(job)
    failed, ok = fake.billable_jobs
    assert (failed.error_reason, ok.error_reason) == ("backendError", None)
    assert result.job_id == ok.job_id != failed.job_id


def test_a_lost_answer_to_a_job_insert_does_not_start_a_second_job(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    source = make_source(make_config(tmp_path))
    job = full_job()
    fake.fail_next(1, route="jobs.insert", dry_run=False, after_processing=True)
    result = source.fetch(job)
    (only,) = fake.billable_jobs  # the retried insert got 409 duplicate and adopted the job
    assert result.job_id == only.job_id


def test_retries_are_bounded_and_then_reported(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource], sleeps: Sleeps
) -> None:
    source = make_source(make_config(tmp_path), retry=RetryPolicy(sleep=sleeps, max_attempts=4))
    fake.fail_next(50, status=503, reason="backendError")
    with pytest.raises(SourceError, match=r"transient error \(503 backendError\) for 4 attempt"):
        source.estimate([full_job()])
    assert len(sleeps) == 3
    assert fake.jobs == []


def test_retries_stop_at_the_deadline(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource], sleeps: Sleeps
) -> None:
    clock = iter(range(0, 10_000, 25))  # every look at the clock is 25 s later
    policy = RetryPolicy(sleep=sleeps, deadline_seconds=60, max_attempts=100, clock=lambda: float(next(clock)))
    source = make_source(make_config(tmp_path), retry=policy)
    fake.rate_limit_next(50)
    with pytest.raises(SourceError, match="rateLimitExceeded"):
        source.estimate([full_job()])
    assert len(sleeps) <= 2


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("accessDenied", "roles/bigquery.jobUser"),
        ("quotaExceeded", "quota"),
        ("invalidQuery", "invalid"),
        ("bytesBilledLimitExceeded", "maximum_bytes_billed"),
    ],
)
def test_permanent_errors_are_not_retried_and_read_plainly(
    tmp_path: Path,
    fake: FakeBigQuery,
    make_source: Callable[..., BigQuerySource],
    sleeps: Sleeps,
    reason: str,
    words: str,
) -> None:
    source = make_source(make_config(tmp_path))
    job = full_job()
    fake.fail_on_job(1, reason=reason)
    fake.fail_on_job(2, reason=reason)  # only bytesBilledLimitExceeded gets one more try (the table grew)
    with pytest.raises(SourceError, match=words) as caught:
        source.fetch(job)
    assert "\n" not in str(caught.value)
    assert sleeps == []
    assert len(fake.billable_jobs) == (2 if reason == "bytesBilledLimitExceeded" else 1)
    assert source.spending.run == 0  # a failed job bills nothing, and its outcome is known


def test_a_partition_landing_between_dry_run_and_job_costs_one_more_try_at_the_figure_bigquery_asks(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    source = make_source(make_config(tmp_path))
    fake.grow_table_next(1.5)
    result = source.fetch(full_job())
    first, second = fake.billable_jobs
    assert (first.error_reason, first.billed_bytes) == ("bytesBilledLimitExceeded", 0)
    assert second.error_reason is None
    assert result.bytes_billed == second.billed_bytes
    # "N or higher required": the second try runs with that N, above the dry run's ceiling.
    assert second.maximum_bytes_billed == result.ceiling_bytes > (first.maximum_bytes_billed or 0)
    assert len(fake.dry_runs) == 1  # N came with the refusal: no second dry run
    assert not source.dry_runs_below_check  # a grown table, not a pruned dry run
    assert source.spending.run == second.billed_bytes


def test_a_job_outcome_lost_with_the_run_is_counted_at_its_ceiling_then_looked_up(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    from generator import fetch
    from generator.fetch import _StoreJobLog

    cfg = make_config(tmp_path)
    with open_store(cfg.store.path) as store:
        source = make_source(cfg, log=_StoreJobLog(store))
        fake.fail_next(6, status=503, reason="backendError", route="jobs.getQueryResults")  # = max_attempts
        with pytest.raises(SourceError, match="read the query results"):
            source.fetch(full_job())
        (unknown,) = store.unknown_jobs("bigquery")
        assert unknown.ceiling_bytes == source.spending.run_unknown > 0
        assert store.month_spend("bigquery", dt.date(2000, 1, 1)) == (0, unknown.ceiling_bytes)
        assert store.covered_days("bigquery", PACKAGES, full_job().window) == {p: set() for p in PACKAGES}

        later = make_source(cfg, run_id="next-run")
        settled = later.settle(unknown)  # jobs.get: DONE by now (the client polled it while it ran)
        assert settled is not None
        assert settled.entry.bytes_billed == fake.billable_jobs[0].billed_bytes > 0
        assert settled.rows is not None
        assert settled.available_days == list(full_job().window)
        billable = len(fake.billable_jobs)
        fetch.settle_unknown_jobs(store, later)  # what the next build does before planning
        assert len(fake.billable_jobs) == billable  # the rows were read, not bought again
        assert store.unknown_jobs("bigquery") == []
        assert store.month_spend("bigquery", dt.date(2000, 1, 1)) == (settled.entry.bytes_billed, 0)
        window = full_job().window
        assert store.covered_days("bigquery", PACKAGES, window) == {p: set(window) for p in PACKAGES}


def test_a_permanent_failure_mid_backfill_keeps_completed_days_and_no_partial_day(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    cfg = make_config(tmp_path)
    as_of = FIRST + dt.timedelta(days=8)
    with open_store(cfg.store.path) as store:
        jobs = plan_jobs(store, as_of, history_days=9, max_days_per_job=3)
        assert [j.window.days for j in jobs] == [3, 3, 3]
        fake.fail_on_job(2, reason="accessDenied")
        with pytest.raises(SourceError, match="roles/bigquery.jobUser"):
            run_plan(make_source(cfg), store, jobs)
        window = Window(FIRST, as_of)
        covered = store.covered_days("bigquery", PACKAGES, window)
        assert covered == dict.fromkeys(covered, set(jobs[0].window))
        stored_days = {r[0] for r in store.con.execute("SELECT DISTINCT day FROM aggregates").fetchall()}
        assert stored_days == set(jobs[0].window)
        assert [e.job_id for e in store.ledger()] == [fake.billable_jobs[0].job_id]
    assert len(fake.billable_jobs) == 2  # the third job never started


# -- parameters ---------------------------------------------------------------------------------------
def test_parameters_are_bound_typed_and_never_formatted_into_the_sql(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    cfg = make_config(tmp_path)
    with open_store(cfg.store.path) as store:
        run_plan(make_source(cfg), store, plan_jobs(store, FIRST + dt.timedelta(days=DAYS - 1), max_days_per_job=4))
    assert fake.jobs
    for job in fake.jobs:
        for literal in (*PACKAGES, "2026", "10-0"):
            assert literal not in job.query
        assert job.param_types == {"projects": "ARRAY<STRING>", "start": "DATE", "end": "DATE"}
        assert job.param_values["projects"] == list(PACKAGES)
        assert isinstance(job.param_values["start"], dt.date)


# -- plan-time helpers ----------------------------------------------------------------------------
def test_column_costs_by_dry_run_add_up_to_the_full_scan(
    tmp_path: Path, make_source: Callable[..., BigQuerySource]
) -> None:
    source = make_source(make_config(tmp_path))
    measured = source.measure_column_bytes(PACKAGES, FIRST)
    assert measured["python_minor"] == 0  # details.python is read anyway (python_malformed)
    assert [b for b in ALL_BREAKDOWNS if b != "python_minor" and measured[b] <= 0] == []
    full = source.per_day_scan_bytes(PACKAGES, ALL_BREAKDOWNS, FIRST)
    # Distro rows carry the OS: details.system.name is in both the OS's and distro's figure, billed once.
    assert measured["distro"] > measured["system"] > 0
    assert measured["base"] + sum(measured[b] for b in ALL_BREAKDOWNS) - measured["system"] == full
    costs = cost.column_costs(("country",), price_per_tib=6.25, measured=measured)
    assert [c.name for c in costs if c.selected] == ["base", "country"]
    per_day = source.per_day_scan_bytes(PACKAGES, ALL_BREAKDOWNS, FIRST)
    assert cost.billed_ceiling(cost.max_days_per_job(cost.GIB, per_day) * per_day) <= cost.GIB


def test_dry_run_only_runs_nothing_billable(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    source = make_source(make_config(tmp_path))
    result = source.run_query(*job_query(full_job()), dry_run_only=True)
    assert result.dry_run
    assert result.rows is None
    assert result.ceiling_bytes == cost.billed_ceiling(result.scan_bytes)
    assert fake.billable_jobs == []
    assert len(fake.dry_runs) == 1


def test_the_fake_serves_jobs_query_with_paging(fake: FakeBigQuery) -> None:
    sql, params = job_query(full_job())
    client = fake.client()
    rows = client.query_and_wait(sql, job_config=bigquery.QueryJobConfig(query_parameters=params), page_size=25)
    table = rows.to_arrow(create_bqstorage_client=False)
    expected = fake.reference(sql, {"projects": list(PACKAGES), "start": FIRST, "end": full_job().window.end})
    assert sorted_rows(table) == sorted_rows(expected)
    assert fake.billable_jobs[0].api == "jobs.query"
    assert any(r.route == "jobs.getQueryResults" and "pageToken" in r.query for r in fake.requests)
    client.close()


# -- credentials and project --------------------------------------------------------------------------
def test_a_missing_billing_project_says_what_to_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    raw = {"packages": {"names": ["acme"]}, "source": {"kind": "bigquery"}}
    cfg = config_mod.parse(raw, tmp_path / "stats.toml")
    with pytest.raises(ConfigError, match=r"\[source\]\.billing_project.*GOOGLE_CLOUD_PROJECT"):
        BigQuerySource(cfg)


def test_missing_credentials_say_what_to_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    cfg = make_config(tmp_path)
    with pytest.raises(SourceError, match="GOOGLE_APPLICATION_CREDENTIALS.*gcloud auth application-default login"):
        make_client(cfg)


def test_a_loopback_api_endpoint_uses_no_credentials(tmp_path: Path, fake: FakeBigQuery) -> None:
    raw = {
        "packages": {"names": list(PACKAGES)},
        "source": {"kind": "bigquery", "billing_project": "test-project", "api_endpoint": fake.url},
    }
    cfg = config_mod.parse(raw, tmp_path / "stats.toml")
    source = BigQuerySource(cfg, retry=RetryPolicy(sleep=lambda s: None))
    try:
        assert source.estimate([full_job()])[0].scan_basis == "dry run"
    finally:
        source.close()


def test_restrict_breakdowns_keeps_the_canonical_text_when_nothing_is_dropped() -> None:
    from generator.sqlrewrite import restrict_breakdowns

    canonical = load("daily_aggregates")
    assert restrict_breakdowns(canonical, ALL_BREAKDOWNS) == canonical
    totals_only = restrict_breakdowns(canonical, ())
    assert "GROUPING(" not in totals_only
    assert "INTERVAL 1 DAY" in totals_only
    with pytest.raises(ValueError, match="nope"):
        restrict_breakdowns(canonical, ("nope",))


def test_max_minutes_stops_fetching_before_a_job_that_could_not_finish_and_each_job_is_exported(
    tmp_path: Path, fake: FakeBigQuery, make_source: Callable[..., BigQuerySource]
) -> None:
    from generator import fetch
    from generator.store import open_store as open_

    cfg = make_config(tmp_path, max_bytes_per_query=100 * cost.GIB)
    ticks = iter(range(0, 100_000, 100))  # every look at the clock is 100 s later: a job takes 100 s
    export = tmp_path / "export"
    with open_(cfg.store.path) as store:
        as_of = FIRST + dt.timedelta(days=DAYS - 1)
        plan = plan_for(cfg, store, "bigquery", as_of, max_days_per_job=2)
        assert {job.window.days for job in plan.jobs} == {2}
        fetched = fetch.fetch(
            cfg, store, make_source(cfg), plan, deadline=450, clock=lambda: float(next(ticks)), export_dir=export
        )
        held = store.covered_days("bigquery", PACKAGES, plan.window)
    # Job 1 starts at 0 s, job 2 at 400 s (300 + its 100 s fit 450), job 3 could not end before 450 s.
    assert fetched.jobs_run == 2
    assert "--max-minutes" in fetched.stopped
    assert held == {p: set(Window(as_of - dt.timedelta(days=3), as_of)) for p in PACKAGES}  # the newest days
    manifest = json.loads((export / "manifest.json").read_text(encoding="utf-8"))
    assert "ledger.parquet" in manifest["files"]
    exported = pq.read_table(export / "ledger.parquet").column("job_id").to_pylist()
    assert sorted(exported) == sorted(j.job_id for j in fake.billable_jobs)  # the month's history query too
