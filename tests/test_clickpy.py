"""The ClickPy source: its ClickHouse SQL on a real ClickHouse engine (chdb) over ClickPy's own
tables, its HTTP path against a local fake of ClickHouse's HTTP interface (quota errors, timeouts,
errors mid-stream), and the same synthetic events through BigQuery (fake), the local DuckDB source
and ClickPy giving the same figures on every dimension both can give.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import html
import json
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import Sleeps, event, run_cli, write_config, write_events

from generator import analysis, build, cli, dimensions, fetch, sample
from generator import config as config_mod
from generator.config import BREAKDOWNS
from generator.dates import Window, last_days
from generator.errors import SourceError
from generator.plan import Job, make_plan, plan_for
from generator.queries import load, names
from generator.sources import ALL_CAPABILITIES
from generator.sources.clickpy import (
    BEFORE_STORE_QUERY,
    CAPABILITIES,
    OUTPUT_COLUMNS,
    PROBE_PROJECTS,
    URL_ENV,
    ClickHouseHTTP,
    ClickPySource,
    RetryPolicy,
    downloads_before,
    format_param,
    parse_error,
    queries_for,
    service_url,
    summed_query,
    to_store_rows,
    user_agent,
)
from generator.sources.local import LocalSource
from generator.store import AggRow, open_store
from tests.fakes.clickhouse_server import README_IMPORT_FILTER, ClickPyData, FakeClickHouse

PACKAGES = ("acme-http", "tinycli-kit")
END = dt.date(2026, 7, 31)  # the window holds sample.MISSING_DAY (2026-07-14): a day without any log
DAYS = 40
START = END - dt.timedelta(days=DAYS - 1)
TODAY = END + dt.timedelta(days=1)
WINDOW = Window(START, END)
CLICKPY_SQL = [n for n in names() if n.startswith("clickpy_")]


# -- data ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def events_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic events, plus one download a day of a probe project (boto3): real ClickPy has
    boto3 downloads every day it holds, and a day without any log has none."""
    out = tmp_path_factory.mktemp("clickpy-events")
    summary = sample.generate(out, scale=0.08, days=DAYS, end=END, packages=PACKAGES, fmt="parquet")
    assert summary.missing_day == sample.MISSING_DAY
    probe = [event(day=d.isoformat(), project=PROBE_PROJECTS[0]) for d in WINDOW if d != sample.MISSING_DAY]
    (out / "probe.jsonl").write_text("".join(json.dumps(e) + "\n" for e in probe), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def clickpy_data(events_dir: Path) -> Iterator[ClickPyData]:
    with ClickPyData(events_dir) as data:
        yield data


@pytest.fixture(scope="module")
def local_rows(events_dir: Path) -> pa.Table:
    source = LocalSource(events_dir)
    try:
        result = source.fetch(Job(WINDOW, PACKAGES, BREAKDOWNS))
    finally:
        source.close()
    return result.rows


@pytest.fixture
def fake(clickpy_data: ClickPyData) -> Iterator[FakeClickHouse]:
    with FakeClickHouse(clickpy_data) as server:
        yield server


@pytest.fixture
def make_source(sleeps: Sleeps) -> Callable[..., ClickPySource]:
    def _make(url: str, **kwargs: Any) -> ClickPySource:
        kwargs.setdefault("retry", RetryPolicy(sleep=sleeps, jitter=lambda: 1.0, max_attempts=4))
        kwargs.setdefault("today", lambda: TODAY)
        return ClickPySource(url=url, **kwargs)

    return _make


def full_job(window: Window = WINDOW, breakdowns: tuple[str, ...] = BREAKDOWNS) -> Job:
    return Job(window, PACKAGES, breakdowns)


# The dimensions both sources give, and the key of each (ClickPy has python and system only for
# all installers together, so those are compared summed over installers).
SHARED: dict[str, Callable[[dict[str, Any]], tuple[Any, ...]]] = {
    "total": lambda r: (r["day"], r["project"], r["installer"]),
    "file_type": lambda r: (r["day"], r["project"], r["installer"], r["file_type"]),
    "version": lambda r: (r["day"], r["project"], r["installer"], r["version"]),
    "country": lambda r: (r["day"], r["project"], r["installer"], r["country"]),
    "python_minor": lambda r: (r["day"], r["project"], r["python_minor"]),
    "system": lambda r: (r["day"], r["project"], r["system"]),
}


def summed(rows: list[dict[str, Any]] | pa.Table, breakdown: str) -> dict[tuple[Any, ...], int]:
    if isinstance(rows, pa.Table):
        rows = rows.to_pylist()
    out: dict[tuple[Any, ...], int] = collections.Counter()
    key = SHARED[breakdown]
    for r in rows:
        if r["breakdown"] == breakdown:
            day = r["day"] if isinstance(r["day"], dt.date) else dt.date.fromisoformat(r["day"])
            out[key({**r, "day": day})] += int(r["downloads"])
    return dict(out)


# -- the SQL ---------------------------------------------------------------------------------------
def test_every_clickpy_query_says_what_it_reads_and_binds_every_value() -> None:
    assert sorted(CLICKPY_SQL) == [
        "clickpy_before_store",
        "clickpy_coverage",
        "clickpy_installer_country",
        "clickpy_installers",
        "clickpy_leaderboard_candidates",
        "clickpy_leaderboard_installers",
        "clickpy_python",
        "clickpy_system",
    ]
    for name in CLICKPY_SQL:
        text = load(name)
        header = text.split("\nSELECT", 1)[0]
        assert header.startswith(f"-- {name} (ClickHouse SQL):"), name
        assert "-- Reads: pypi." in header, name
        assert "-- Parameters:" in header, name
        body = text[len(header) :]
        # Values only through {name:Type} placeholders: no dates, no package names in the text.
        assert not re.search(r"'\d{4}-\d\d-\d\d'", body), name
        assert not any(p in body for p in (*PACKAGES, *PROBE_PROJECTS)), name
        if name == BEFORE_STORE_QUERY:  # one number per project: its days end at its own first day
            assert "{projects:Array(String)}" in body, name
            assert "{befores:Array(Date)}" in body, name
        elif name.startswith("clickpy_leaderboard_"):  # the leaderboard's window, every day of it
            assert "{start:Date}" in body, name
            assert "{end:Date}" in body, name
        else:
            assert "{start:Date}" in body, name
            assert "{days:Array(Date)}" in body, name


def test_the_sql_on_clickhouse_over_clickpys_tables_matches_the_canonical_sql(
    clickpy_data: ClickPyData, local_rows: pa.Table
) -> None:
    """The .sql files on a real ClickHouse engine (chdb), over tables built by ClickPy's DDL and
    materialized views from the same events, against daily_aggregates.sql on DuckDB."""
    days = list(WINDOW)
    params = {"projects": list(PACKAGES), "start": START, "end": END, "days": days}
    answers = queries_for(BREAKDOWNS)
    assert answers == {
        "clickpy_installers": ["version"],
        "clickpy_python": ["python_minor"],
        "clickpy_system": ["system"],
        "clickpy_installer_country": ["country", "file_type"],
    }
    raw = []
    for name, wanted in answers.items():
        chosen = {**params, "breakdowns": wanted} if "{breakdowns:" in load(name) else params
        raw += clickpy_data.query(summed_query(load(name)), chosen)
    assert {tuple(r) for r in raw} == {OUTPUT_COLUMNS}
    rows = to_store_rows(raw).to_pylist()
    for breakdown in SHARED:
        expected = summed(local_rows, breakdown)
        assert summed(rows, breakdown) == expected, breakdown
        assert sum(expected.values()) > 5_000
    # ClickPy stores unknowns as '': they come back as NULL, as BigQuery has them.
    assert any(r["installer"] is None for r in rows if r["breakdown"] == "total")
    assert any(r["python_minor"] is None for r in rows if r["breakdown"] == "python_minor")
    assert {(r["ci"], r["python_malformed"]) for r in rows} == {(None, False)}
    # Python and OS come from tables without an installer: those rows carry none.
    assert {r["installer"] for r in rows if r["breakdown"] in ("python_minor", "system")} == {None}


def test_file_types_come_from_the_table_whose_key_holds_the_type(clickpy_data: ClickPyData) -> None:
    """ClickPy's installer x type table is keyed without `type`, so SummingMergeTree merges keep
    an arbitrary type per (project, version, date, installer): its split is unusable."""
    clickpy_data.query("OPTIMIZE TABLE pypi.pypi_downloads_per_day_by_version_by_installer_by_type FINAL")
    merged = clickpy_data.query(
        "SELECT type, sum(count) AS n FROM pypi.pypi_downloads_per_day_by_version_by_installer_by_type"
        " WHERE project = {p:String} GROUP BY type",
        {"p": PACKAGES[0]},
    )
    right = clickpy_data.query(
        "SELECT type, sum(count) AS n FROM pypi.pypi_downloads_per_day_by_version_by_installer_by_type_by_country"
        " WHERE project = {p:String} GROUP BY type",
        {"p": PACKAGES[0]},
    )
    assert {r["type"]: int(r["n"]) for r in merged} != {r["type"]: int(r["n"]) for r in right}


def test_coverage_is_the_days_clickpy_holds_not_the_days_a_package_has(clickpy_data: ClickPyData) -> None:
    asked = [*WINDOW, TODAY, TODAY + dt.timedelta(days=3)]
    params = {"probes": list(PROBE_PROJECTS), "start": asked[0], "end": asked[-1], "days": asked}
    held = {dt.date.fromisoformat(r["day"]) for r in clickpy_data.query(load("clickpy_coverage"), params)}
    assert held == set(WINDOW) - {sample.MISSING_DAY}


def test_values_are_bound_as_clickhouse_parameters_even_hostile_ones(clickpy_data: ClickPyData) -> None:
    hostile = ["a'b", "c\\d", "x') OR 1=1 --", "ÅL"]
    rows = clickpy_data.query("SELECT {v:Array(String)} AS v, {d:Date} AS d", {"v": hostile, "d": START})
    assert rows == [{"v": hostile, "d": START.isoformat()}]
    assert format_param(["a'b"]) == "['a\\'b']"


# -- the HTTP path -----------------------------------------------------------------------------------
def test_fetch_over_http_one_query_per_table_for_the_whole_plan(
    fake: FakeClickHouse, make_source: Callable[..., ClickPySource], local_rows: pa.Table
) -> None:
    source = make_source(fake.url)
    # Two separate ranges of missing days, as after a gap: still one query per table.
    covered = {p: set(Window(START + dt.timedelta(days=10), START + dt.timedelta(days=30))) for p in PACKAGES}
    plan = make_plan(PACKAGES, covered, END, history_days=DAYS, refetch_days=2, breakdowns=BREAKDOWNS)
    assert len(plan.jobs) == 2
    source.preflight(plan.jobs)
    results = [source.fetch(job) for job in plan.jobs]
    tables = [r.tables for r in fake.received]
    assert tables[0] == ["pypi_downloads_max_min", "pypi_downloads_per_day"]  # coverage first: held days only
    assert sorted(tables[1:]) == [
        ["pypi_downloads_per_day_by_version_by_installer_by_type"],
        ["pypi_downloads_per_day_by_version_by_installer_by_type_by_country"],
        ["pypi_downloads_per_day_by_version_by_python"],
        ["pypi_downloads_per_day_by_version_by_system"],
    ]
    for got in fake.received:
        assert got.headers["User-Agent"] == user_agent()
        assert got.headers["User-Agent"].startswith("pypi-stats-site/")
        assert got.settings == {"user": "demo", "default_format": "JSONEachRow"}
        assert not any(p in got.sql for p in PACKAGES)
    wanted = sorted({d for job in plan.jobs for d in job.window} - {sample.MISSING_DAY})
    assert fake.received[1].params["projects"] == "['acme-http','tinycli-kit']"
    assert fake.received[1].params["days"] == format_param(wanted)
    # Each job gets its own days' rows, exactly as the canonical SQL counts them.
    for job, result in zip(plan.jobs, results, strict=True):
        assert result.available_days == [d for d in job.window if d != sample.MISSING_DAY]
        expected = {k: v for k, v in summed(local_rows, "total").items() if k[0] in job.window}
        assert summed(result.rows, "total") == expected
        assert result.rows.schema.field("downloads").type == pa.int64()


@pytest.fixture(scope="module")
def bigquery_rows(events_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    """The same events through the BigQuery source and its local fake of the REST API."""
    from generator.sources.bigquery import BigQuerySource
    from tests.fakes.bigquery_server import FakeBigQuery

    raw = {
        "packages": {"names": list(PACKAGES)},
        "source": {"kind": "bigquery", "billing_project": "test-project", "history_days": DAYS},
        "budget": {"max_bytes_per_query": 2**40, "max_bytes_per_run": 2**41},
    }
    cfg = config_mod.parse(raw, tmp_path_factory.mktemp("bq") / "stats.toml")
    with FakeBigQuery(events_dir) as fake_bq:
        source = BigQuerySource(cfg, client=fake_bq.client(), today=lambda: TODAY)
        try:
            job = full_job()
            return source.fetch(job).rows
        finally:
            source.close()


@pytest.mark.parametrize("reference", ["bigquery", "local"])
def test_bigquery_local_and_clickpy_agree_on_every_dimension_both_have(
    reference: str,
    request: pytest.FixtureRequest,
    fake: FakeClickHouse,
    make_source: Callable[..., ClickPySource],
) -> None:
    expected_rows = request.getfixturevalue(f"{reference}_rows")
    source = make_source(fake.url)
    result = source.fetch(full_job())
    for breakdown in SHARED:
        assert summed(result.rows, breakdown) == summed(expected_rows, breakdown), breakdown
    # What ClickPy does not have is not invented: NULL (and python_malformed FALSE), never a guess.
    got = result.rows.to_pylist()
    assert {r["breakdown"] for r in got} == set(SHARED)
    assert {(r["ci"], r["python_malformed"]) for r in got} == {(None, False)}


def test_the_page_figures_agree_and_the_rest_is_marked_unavailable(
    fake: FakeClickHouse, make_source: Callable[..., ClickPySource], local_rows: pa.Table
) -> None:
    clickpy = make_source(fake.url).fetch(full_job()).rows
    days = set(WINDOW) - {sample.MISSING_DAY}

    def report(rows: pa.Table, caps: frozenset[str]) -> analysis.PackageReport:
        dims = {
            "total": [],
            "breakdowns": [],
        }
        for r in rows.to_pylist():
            if r["project"] != PACKAGES[0]:
                continue
            value = None if r["breakdown"] == "total" else r[dimensions.get(r["breakdown"]).column]
            row = AggRow(
                r["day"], r["installer"], r["ci"], r["python_malformed"], r["breakdown"], value, r["downloads"]
            )
            dims["total" if r["breakdown"] == "total" else "breakdowns"].append(row)
        versions = [r for r in dims["breakdowns"] if r.breakdown == "version"]
        return analysis.analyse(
            PACKAGES[0], END, dims["total"], dims["breakdowns"], versions, days, WINDOW,
            source="x", capabilities=caps,
        )  # fmt: skip

    full = report(local_rows, ALL_CAPABILITIES)
    lim = report(clickpy, CAPABILITIES)
    figures = {f.key: f for f in full.figures}
    limited = {f.key: f for f in lim.figures}
    # Same everywhere no flag is needed...
    for key in ("bigquery_30", "bigquery_all", "clickpy", "pypinfo"):
        assert limited[key].value == figures[key].value, key
    assert lim.installers == [replace_ci(i) for i in full.installers]

    # Per day, the categories and totals agree; only the honest/CI split needs the flag ClickPy lacks.
    def by_category(series: list) -> list:
        return [(p.day, p.by_category, p.total, p.rolling_mean) for p in series]

    assert by_category(lim.series) == by_category(full.series)
    assert lim.releases == full.releases
    # ...the honest number cannot leave CI out: it is package-manager installs with CI, said so.
    assert lim.honest == full.honest + full.ci
    assert lim.ci is None
    assert "CI included" in limited["honest"].name
    assert "not available from this source" in limited["honest"].note
    assert [s.label for s in lim.waterfall][-1] == analysis.PM_WITH_CI_LABEL
    # pypistats' malformed-Python rule cannot be applied: its figures keep those rows, and say so.
    malformed = sum(r.downloads for r in full_rows(local_rows) if r.python_malformed and r.installer)
    assert malformed > 0
    assert limited["pypistats_with"].value - figures["pypistats_with"].value == sum(
        r.downloads for r in full_rows(local_rows) if r.python_malformed and r.day in last_days(END, 30)
    )
    assert "Malformed-Python flag not available" in limited["pypistats_with"].note
    # Breakdowns: per installer where ClickPy has the installer, else all downloads, else unavailable.
    by_key = {b.key: b for b in lim.breakdowns}
    # Country comes with the installer: package-manager installs, CI included (no CI flag to leave it out);
    # the source with a CI flag counts the headline's population, honest installs.
    assert by_key["country"].scope == "package-manager installs"
    assert by_key["country"].total == full.honest + full.ci
    assert next(b for b in full.breakdowns if b.key == "country").total == full.honest
    assert by_key["python_minor"].scope.startswith("all downloads")
    assert by_key["python_minor"].total > 0
    assert by_key["python_minor"].total == sum(
        r.downloads for r in full_rows(local_rows) if r.breakdown == "total" and r.day in last_days(END, 30)
    )
    for key in ("installer_version", "implementation", "distro", "ci"):
        assert by_key[key].unavailable
        assert by_key[key].items == ()
    assert any("CI flag not available from this source" in line for line in lim.limits)


def replace_ci(line: analysis.InstallerLine) -> analysis.InstallerLine:
    from dataclasses import replace

    return replace(line, ci=0)


def full_rows(rows: pa.Table) -> list[AggRow]:
    return [
        AggRow(r["day"], r["installer"], r["ci"], r["python_malformed"], r["breakdown"], None, r["downloads"])
        for r in rows.to_pylist()
        if r["project"] == PACKAGES[0] and r["breakdown"] == "total"
    ]


def test_days_after_a_stall_are_not_yet_available_not_zero(
    events_dir: Path, make_source: Callable[..., ClickPySource], tmp_path: Path
) -> None:
    stalled_on = END - dt.timedelta(days=4)
    with ClickPyData(events_dir, last_day=stalled_on) as data, FakeClickHouse(data) as server:
        source = make_source(server.url)
        job = full_job()
        result = source.fetch(job)
        assert max(result.available_days) == stalled_on
        assert sample.MISSING_DAY not in result.available_days
        assert {r["day"] for r in result.rows.to_pylist()} <= set(result.available_days)
        with open_store(tmp_path / "store.duckdb") as store:
            store.replace_days(source.name, job.projects, result.available_days, result.rows)
            covered = store.covered_days(source.name, PACKAGES, WINDOW)
            plan = make_plan(PACKAGES, covered, END, history_days=DAYS, refetch_days=0, breakdowns=BREAKDOWNS)
    # The next run asks again for the days ClickPy did not have.
    assert {d for j in plan.jobs for d in j.window} == {sample.MISSING_DAY, *Window(stalled_on + dt.timedelta(1), END)}


def test_nothing_loaded_yet_costs_one_query(fake: FakeClickHouse, make_source: Callable[..., ClickPySource]) -> None:
    later = Window(TODAY, TODAY + dt.timedelta(days=2))
    result = make_source(fake.url, today=lambda: TODAY + dt.timedelta(days=5)).fetch(full_job(later))
    assert result.available_days == []
    assert result.rows.num_rows == 0
    assert [r.tables for r in fake.received] == [["pypi_downloads_max_min", "pypi_downloads_per_day"]]


def test_today_is_never_asked_for(fake: FakeClickHouse, make_source: Callable[..., ClickPySource]) -> None:
    result = make_source(fake.url, today=lambda: END).fetch(full_job())
    assert END not in result.available_days
    assert END.isoformat() not in fake.received[0].params["days"]


# -- errors: quota, transient, timeouts ------------------------------------------------------------------
def test_a_quota_error_stops_with_one_clear_line_and_no_retry(
    fake: FakeClickHouse, make_source: Callable[..., ClickPySource], sleeps: Sleeps
) -> None:
    fake.fail_next(201)
    with pytest.raises(SourceError) as info:
        make_source(fake.url).fetch(full_job())
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("ClickPy quota exceeded:")
    assert "'demo'" in message
    assert "2026-11-01 13:00:00 UTC" in message
    assert "run build again" in message
    assert len(fake.received) == 1
    assert sleeps == []


@pytest.mark.parametrize(("code", "status"), [(202, None), (439, None), (None, 503), (None, 502)])
def test_transient_errors_back_off_and_retry(
    fake: FakeClickHouse,
    make_source: Callable[..., ClickPySource],
    sleeps: Sleeps,
    code: int | None,
    status: int | None,
) -> None:
    if code is not None:
        fake.fail_next(code, times=2)
    else:
        fake.http_error_next(status or 503, times=2, body="<html>Bad gateway</html>")
    result = make_source(fake.url).fetch(full_job())
    assert result.rows.num_rows > 0
    assert sleeps == [2.0, 4.0]  # exponential backoff (jitter pinned to the full delay)
    assert len(fake.received) == 2 + 5


@pytest.mark.parametrize(
    ("code", "expected", "attempts"),
    [
        pytest.param(
            202,
            r"kept failing with a transient error \(code 202\) for 4 attempt",
            4,
            id="transient: gives up after the attempts allowed",
        ),
        pytest.param(516, r"refused user 'demo' .*credentials may have changed", 1, id="permanent 516: not retried"),
        pytest.param(60, r"tables are not what this tool expects", 1, id="permanent 60: not retried"),
        pytest.param(241, r"fewer days per run", 1, id="permanent 241: not retried"),
    ],
)
def test_a_failing_query_is_tried_as_often_as_its_error_allows(
    fake: FakeClickHouse,
    make_source: Callable[..., ClickPySource],
    sleeps: Sleeps,
    code: int,
    expected: str,
    attempts: int,
) -> None:
    fake.fail_next(code, times=10)  # every query fails
    with pytest.raises(SourceError, match=expected):
        make_source(fake.url).fetch(full_job())
    assert len(fake.received) == attempts
    assert len(sleeps) == attempts - 1


def test_a_client_timeout_is_retried(
    fake: FakeClickHouse, make_source: Callable[..., ClickPySource], sleeps: Sleeps
) -> None:
    fake.delay_next(4.0)
    result = make_source(fake.url, timeout=2.0).fetch(full_job())
    assert result.rows.num_rows > 0
    assert len(fake.received) == 6
    assert sleeps == [2.0]


def test_persistent_timeouts_end_with_advice(
    fake: FakeClickHouse, make_source: Callable[..., ClickPySource], sleeps: Sleeps
) -> None:
    fake.delay_next(1.0, times=2)
    retry = RetryPolicy(sleep=sleeps, jitter=lambda: 1.0, max_attempts=2)
    with pytest.raises(SourceError, match=r"kept failing .*no answer within 0.3 s\) for 2 attempt"):
        make_source(fake.url, timeout=0.3, retry=retry).fetch(full_job())
    fake.fail_next(159, times=10)
    with pytest.raises(SourceError, match=r"within the public user's limits .*fewer days per run"):
        make_source(fake.url).fetch(full_job())


def test_an_error_after_rows_started_is_not_taken_for_a_short_answer(
    fake: FakeClickHouse, make_source: Callable[..., ClickPySource]
) -> None:
    fake.midstream_error_next(241)
    with pytest.raises(SourceError, match=r"code 241"):
        make_source(fake.url).fetch(full_job())


def test_error_parsing_reads_the_header_then_the_body() -> None:
    assert parse_error("Code: 201. DB::Exception: Quota ...", "201", 500).code == 201
    assert parse_error("Code: 202. DB::Exception: Too many", None, 500).code == 202
    body = (
        "__exception__\nabcd1234\nCode: 159. DB::Exception: Timeout exceeded (TIMEOUT_EXCEEDED)\n"
        "60 abcd1234\n__exception__"
    )
    assert parse_error(body, None, 200).code == 159
    assert parse_error(body, None, 200).message.startswith("Code: 159. DB::Exception: Timeout exceeded")
    assert parse_error("<html>busy</html>", None, 503).transient


# -- the whole build ------------------------------------------------------------------------------------
def write_cfg(
    path: Path, kind: str, extra: str, packages: tuple[str, ...] = PACKAGES, history_days: int = DAYS
) -> config_mod.Config:
    path.write_text(
        f'as_of = "{END}"\n[site]\ntitle = "T"\n[packages]\nnames = {json.dumps(list(packages))}\n'
        f'[source]\nkind = "{kind}"\nhistory_days = {history_days}\n{extra}\n'
        f'[store]\npath = "{path.parent / "store.duckdb"}"\n',
        encoding="utf-8",
    )
    return config_mod.load(path)


def test_build_with_clickpy_makes_a_real_report_that_states_its_limits(
    fake: FakeClickHouse, local_rows: pa.Table, tmp_path: Path
) -> None:
    cfg = write_cfg(tmp_path / "stats.toml", "clickpy", f'api_endpoint = "{fake.url}"')
    out = tmp_path / "site"
    result = build.build(cfg, as_of=END, out_dir=out)
    # One query per table (coverage + 4), then, by default, the days before the store, from the same service.
    assert result.jobs_run == 1
    assert len(fake.received) == 6
    assert "befores" in fake.received[-1].params
    page = (out / "packages" / PACKAGES[0] / "index.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "Data source: ClickPy: ClickHouse's public daily PyPI aggregates" in text
    assert "CI flag not available from this source: the headline counts package-manager installs with CI" in text
    assert "this source has no CI flag, so CI installs are in it" in text  # the first screen says it too
    assert "CI-flagged installs per day" not in text  # no CI line of zeros in the chart's key
    assert "Package-manager installs, CI included per day" in text  # the key's first line, "CI" as written
    assert "Installer version: not available from this source" in text
    assert "Python version, all downloads (this source cannot restrict it to package managers)" in text
    assert "Package version, package-manager installs" in text
    # The headline is package-manager installs, CI included: the local source's honest + CI.
    month = last_days(END, 30)
    pm = sum(
        r["downloads"]
        for r in local_rows.to_pylist()
        if r["breakdown"] == "total" and r["project"] == PACKAGES[0] and r["day"] in month
        and analysis.cat.category(r["installer"]) == analysis.cat.PACKAGE_MANAGER
    )  # fmt: skip
    # sample.MISSING_DAY is in the window: the headline says how many of the 30 days it counts.
    assert f"{pm:,} package-manager installs in the 29 of 30 days held, CI included" in text
    header = (out / "packages" / PACKAGES[0] / "installers.csv").read_text().splitlines()[0]
    assert "CI-flagged" not in header
    assert not (out / "packages" / PACKAGES[0] / "breakdown-installer-version.csv").exists()
    data = json.loads((out / "data" / f"{PACKAGES[0]}.json").read_text())
    assert data["source"] == "clickpy"
    assert data["ci_flagged_30_days"] is None
    # The index and the feed call that number what it is, never honest.
    index = html.unescape(re.sub(r"<[^>]+>", " ", (out / "index.html").read_text(encoding="utf-8")))
    assert "Package-manager installs, CI included, 30 days" in index
    assert "Honest installs" not in index
    assert "CI installs are included" in index
    feed = (out / "feed.xml").read_text(encoding="utf-8")
    assert "CI included" in feed
    assert "honest" not in feed.lower()
    assert any("malformed-Python" in line for line in data["not_available_from_source"])
    # The next run asks only for the refetched days: still one query per table.
    fake.received.clear()
    source = fetch.open_source(cfg)
    with open_store(cfg.store.path) as store:
        fetch.fetch(cfg, store, source, plan_for(cfg, store, source.name, END))
    assert len(fake.received) == 5
    assert fake.received[1].params["days"] == format_param([END - dt.timedelta(days=1), END])


def test_the_cli_reports_a_quota_error_in_one_line(fake: FakeClickHouse, tmp_path: Path) -> None:
    from conftest import run_cli

    cfg = write_cfg(tmp_path / "stats.toml", "clickpy", f'api_endpoint = "{fake.url}"')
    fake.fail_next(201)
    proc = run_cli("build", "--config", str(cfg.path), "--out", str(tmp_path / "site"))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "ClickPy quota exceeded" in lines[0], proc.stderr
    assert not (tmp_path / "site").exists()
    assert len(fake.received) == 1


def test_a_store_with_bigquery_data_and_clickpy_data_shows_where_they_differ(
    events_dir: Path, bigquery_rows: pa.Table, tmp_path: Path
) -> None:
    one = PACKAGES[:1]
    cfg = write_cfg(tmp_path / "stats.toml", "clickpy", "", one)
    # The store already holds BigQuery's rows for these events (fetched through the BigQuery source).
    with open_store(cfg.store.path) as store:
        store.replace_days("bigquery", PACKAGES, set(WINDOW) - {sample.MISSING_DAY}, bigquery_rows)
    # ClickPy's documented import keeps only rows with a Python version and a system.
    with ClickPyData(events_dir, import_filter=README_IMPORT_FILTER) as data, FakeClickHouse(data) as server:
        cfg = write_cfg(tmp_path / "stats.toml", "clickpy", f'api_endpoint = "{server.url}"', one)
        build.build(cfg, as_of=END, out_dir=tmp_path / "site")
    page = (tmp_path / "site" / "packages" / one[0] / "index.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "Cross-check between sources" in text
    assert "Cross-check: clickpy against bigquery" in text
    lines = (tmp_path / "site" / "packages" / one[0] / "cross-check-bigquery.csv").read_text().splitlines()
    assert lines[0].startswith("Day,All downloads: clickpy,All downloads: bigquery,Difference in all downloads")
    assert len(lines) - 1 == DAYS - 1  # mirrors and scripts report no Python: rows were dropped every day
    first = [int(x) for x in lines[1].split(",")[1:]]
    assert first[0] < first[1]
    assert first[2] == first[0] - first[1]
    assert f"{DAYS - 1} of the {DAYS - 1} days both hold differ" in text


def test_cross_check_is_a_pure_per_day_comparison() -> None:
    d1, d2, d3 = dt.date(2026, 7, 1), dt.date(2026, 7, 2), dt.date(2026, 7, 3)
    mine = [AggRow(d1, "pip", None, False, "total", None, 10), AggRow(d2, "pip", None, False, "total", None, 5)]
    theirs = [
        AggRow(d1, "pip", False, False, "total", None, 7),
        AggRow(d1, "pip", True, False, "total", None, 3),
        AggRow(d2, "bandersnatch", None, False, "total", None, 2),
        AggRow(d2, "pip", None, False, "total", None, 5),
        AggRow(d3, "pip", None, False, "total", None, 99),  # a day only the other source holds
    ]
    check = analysis.cross_check(mine, theirs, {d1, d2}, "clickpy", "bigquery")
    assert check.days_compared == 2
    assert (check.this_total, check.other_total) == (15, 17)
    assert check.differing == (analysis.CrossCheckDay(d2, 5, 7, 5, 5),)
    assert check.differing[0].all_difference == -2
    assert check.differing[0].pm_difference == 0


# -- pepy/ClickPy's all-time figure: the days before the store ----------------------------------------
def all_downloads(local_rows: pa.Table, project: str, keep: Callable[[dt.date], bool]) -> int:
    """Every download of `project` on the days `keep` accepts, from the local source's rows."""
    rows = local_rows.to_pylist()
    return sum(r["downloads"] for r in rows if r["breakdown"] == "total" and r["project"] == project and keep(r["day"]))


def test_the_days_before_the_store_are_each_packages_own_on_clickhouse(
    fake: FakeClickHouse, local_rows: pa.Table, sleeps: Sleeps
) -> None:
    """One query for all packages, each counted up to its own first day; a day before any data is 0."""
    firsts = {PACKAGES[0]: START + dt.timedelta(days=10), PACKAGES[1]: START + dt.timedelta(days=25), "nobody": END}
    http = ClickHouseHTTP(fake.url, retry=RetryPolicy(sleep=sleeps))
    got = downloads_before(http, firsts)
    assert got == {
        PACKAGES[0]: all_downloads(local_rows, PACKAGES[0], lambda d: d < firsts[PACKAGES[0]]),
        PACKAGES[1]: all_downloads(local_rows, PACKAGES[1], lambda d: d < firsts[PACKAGES[1]]),
        "nobody": 0,
    }
    assert got[PACKAGES[0]] > 0
    assert got[PACKAGES[1]] > 0
    assert [r.params["befores"] for r in fake.queries] == [format_param(list(firsts.values()))]
    assert downloads_before(http, {}) == {}
    assert len(fake.received) == 1  # nothing to ask: no query


STORE_DAYS = 30
"""The local store's history: shorter than the events (and than ClickPy's), so days lie before it."""


@pytest.fixture(scope="module")
def exported_events(events_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same events as a user's own export: without the synthetic data's marker (ClickPy is never asked
    about synthetic data, whose package names are not PyPI's)."""
    out = tmp_path_factory.mktemp("exported-events") / "events"
    shutil.copytree(events_dir, out, ignore=shutil.ignore_patterns(sample.SYNTHETIC_MARKER))
    return out


def all_time_cfg(tmp_path: Path, events_dir: Path, url: str | None, switch: str = "true") -> config_mod.Config:
    """A local store of STORE_DAYS days; `url` None and `switch` "" leave ClickPy's keys out (the defaults)."""
    keys = (f"clickpy_all_time = {switch}\n" if switch else "") + (f'clickpy_url = "{url}"\n' if url else "")
    return write_cfg(tmp_path / "stats.toml", "local", f'path = "{events_dir}"\n{keys}', history_days=STORE_DAYS)


def all_time_sentence(local_rows: pa.Table, project: str) -> str:
    """What the page says when ClickPy's days before a STORE_DAYS store are added to the store's count."""
    first = END - dt.timedelta(days=STORE_DAYS - 1)
    before = all_downloads(local_rows, project, lambda d: d < first)
    held = all_downloads(local_rows, project, lambda d: first <= d <= END)
    assert before > 0
    assert held > 0
    return (
        f"all time as pepy/ClickPy show it = {before:,} downloads on the days before this store"
        f" (before {first.isoformat()}, from ClickPy) + {held:,}, the store's all-time count"
        f" = {before + held:,} (up to {END.isoformat()})."
    )


def page_text(out: Path, project: str) -> str:
    page = (out / "packages" / project / "index.html").read_text(encoding="utf-8")
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_page_adds_up_pepy_and_clickpys_all_time_figure_and_asks_clickpy_once(
    fake: FakeClickHouse, exported_events: Path, local_rows: pa.Table, tmp_path: Path
) -> None:
    """A local store of 30 days: ClickPy's days before it + the store's all-time count = every
    download of the package, as pepy/ClickPy count it; the second build asks ClickPy nothing."""
    cfg = all_time_cfg(tmp_path, exported_events, fake.url)
    out = tmp_path / "site"
    build.build(cfg, as_of=END, out_dir=out)
    first = END - dt.timedelta(days=STORE_DAYS - 1)
    for project in PACKAGES:
        before = all_downloads(local_rows, project, lambda d: d < first)
        held = all_downloads(local_rows, project, lambda d: first <= d <= END)
        everything = all_downloads(local_rows, project, lambda d: d <= END)
        assert before > 0
        assert held > 0
        assert before + held == everything
        text = page_text(out, project)
        assert (
            f"all time as pepy/ClickPy show it = {before:,} downloads on the days before this store"
            f" (before {first.isoformat()}, from ClickPy) + {held:,}, the store's all-time count"
            f" = {everything:,} (up to {END.isoformat()})."
        ) in text
        assert f"pepy and ClickPy show {everything:,} all time: {before:,} before {first.isoformat()}" in text
        assert "which this store does not hold" not in text
    asked = [r for r in fake.queries if "befores" in r.params]
    assert len(asked) == 1
    assert len(fake.received) == 1  # one query for both packages, nothing else from ClickPy
    # The next build: the store keeps the figure for this first day, so ClickPy is not asked again.
    build.build(cfg, as_of=END, out_dir=out)
    assert len(fake.received) == 1
    assert f"+ {held:,}, the store's all-time count" in page_text(out, PACKAGES[1])
    # A store whose first day moves (a longer history) asks again, for the new first days only.
    longer = all_time_cfg(tmp_path, exported_events, fake.url)
    longer = config_mod.Config(**{**longer.__dict__, "source": replace(longer.source, history_days=STORE_DAYS + 5)})
    build.build(longer, as_of=END, out_dir=out)
    assert len(fake.received) == 2
    moved = END - dt.timedelta(days=STORE_DAYS + 4)
    assert fake.received[-1].params["befores"] == format_param([moved, moved])


@pytest.mark.parametrize("failure", ["unreachable", "quota", "no switch"])
def test_without_clickpy_the_page_says_the_figure_is_limited_to_the_stores_days(
    fake: FakeClickHouse,
    exported_events: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    monkeypatch.setattr(fetch, "BEFORE_STORE_RETRY", RetryPolicy(sleep=sleeps, max_attempts=3))
    url = fake.url
    if failure == "unreachable":
        with socket.socket() as probe:  # a loopback port nothing listens on
            probe.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    elif failure == "quota":
        fake.fail_next(201)
    cfg = all_time_cfg(tmp_path, exported_events, url, switch="false" if failure == "no switch" else "true")
    out = tmp_path / "site"
    build.build(cfg, as_of=END, out_dir=out)  # the build goes on: the figure is optional
    first = END - dt.timedelta(days=STORE_DAYS - 1)
    text = page_text(out, PACKAGES[0])
    assert (
        f"their all-time figure also counts the days before {first.isoformat()}, which this store does not hold"
    ) in text
    assert "all time as pepy/ClickPy show it" not in text
    with open_store(cfg.store.path) as store:
        assert store.downloads_before_store(PACKAGES) == {}  # nothing kept: the next run asks again
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "pepy/ClickPy" in r.getMessage()]
    if failure == "no switch":
        assert warnings == []
        assert fake.received == []
    else:
        assert len(warnings) == 1
        assert "limited to the store's days" in warnings[0]
        assert ("quota" in warnings[0]) == (failure == "quota")
        assert sleeps == []  # a refused connection is not retried (the figure is optional); a quota never is


# -- on by default: never for synthetic data, never reaching the public service from a test, cheap offline --
def test_by_default_a_build_adds_clickpys_days_before_the_store_to_the_all_time_figure(
    fake: FakeClickHouse, exported_events: Path, local_rows: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ClickPy key in the config: the build asks ClickPy (here the fake, through $PYPI_STATS_CLICKPY_URL)."""
    monkeypatch.setenv(URL_ENV, fake.url)
    cfg = all_time_cfg(tmp_path, exported_events, None, switch="")
    assert cfg.source.clickpy_all_time
    assert cfg.source.clickpy_url == ""
    build.build(cfg, as_of=END, out_dir=tmp_path / "site")
    for project in PACKAGES:
        assert all_time_sentence(local_rows, project) in page_text(tmp_path / "site", project)
    assert [r.tables for r in fake.received] == [["pypi_downloads_per_day"]]  # one query, for both packages


@pytest.mark.parametrize(
    ("configured", "environment", "expected"),
    [
        ("http://proxy.example/clickpy/", "http://127.0.0.1:9", "http://proxy.example/clickpy"),
        ("", "http://127.0.0.1:9/", "http://127.0.0.1:9"),
        ("", "", "https://sql-clickhouse.clickhouse.com"),
        ("", "  ", "https://sql-clickhouse.clickhouse.com"),
    ],
)
def test_the_clickpy_url_is_the_configs_then_the_environments_then_clickpys_public_one(
    configured: str, environment: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One resolution for every ClickPy query: clickpy_url (or api_endpoint), $PYPI_STATS_CLICKPY_URL, public."""
    monkeypatch.setenv(URL_ENV, environment)
    assert service_url(configured) == expected
    assert ClickPySource(url=configured or None).http.url == expected + "/"  # kind = "clickpy" too
    assert ClickHouseHTTP(configured).url == expected + "/"


def test_the_tests_never_reach_the_public_clickpy() -> None:
    """conftest points every test, and every process a test starts, at a local ClickPy that knows no package."""
    assert service_url().startswith("http://127.0.0.1:")
    assert downloads_before(ClickHouseHTTP(), {"requests": END}) == {"requests": 0}  # what ClickPy says of no rows


def test_plan_says_which_free_services_a_build_asks_and_what_it_sends(tmp_path: Path, demo_events: Path) -> None:
    """ClickPy is asked by default and is sent package names: `plan`, which runs nothing, says so before a build
    does it, names the switch, and stops saying it once the store keeps the figures. Never for synthetic data."""
    days = [f"2026-10-{d:02d}" for d in range(2, 32)]  # every day of the window: all held after one build
    events = write_events(tmp_path / "events", [event(day=d, project=p) for d in days for p in ("acme", "beta")])
    cfg = write_config(tmp_path / "stats.toml", events, ["acme", "beta"], "2026-10-31", history_days=30)
    asks = "ClickPy, in one query, for the downloads before the store's first day of up to 2 package(s), sending"

    first = run_cli("plan", "--config", str(cfg))
    assert first.returncode == 0, first.stderr
    assert asks in first.stdout
    assert "clickpy_all_time = false turns it off" in first.stdout
    assert "PyPI's JSON API, once for each package with a release the store has no upload date for" in first.stdout

    built = run_cli("build", "--config", str(cfg), "--out", str(tmp_path / "site"))
    assert built.returncode == 0, built.stderr
    assert "ClickPy" not in run_cli("plan", "--config", str(cfg)).stdout  # both figures kept: nothing to ask

    cfg.write_text(cfg.read_text().replace("[store]", "clickpy_all_time = false\nrelease_dates = false\n[store]"))
    (tmp_path / "store.duckdb").unlink()
    opted_out = run_cli("plan", "--config", str(cfg))
    assert opted_out.returncode == 0, opted_out.stdout
    assert "Also asked" not in opted_out.stdout, opted_out.stdout

    demo = write_config(tmp_path / "demo.toml", demo_events, ["acme-http"], "2026-10-31")
    assert "Also asked" not in run_cli("plan", "--config", str(demo)).stdout


def test_the_demo_never_asks_clickpy(
    demo_events: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`demo` builds from synthetic events (their names are not PyPI's packages): ClickPy gets no request."""
    shutil.copytree(demo_events, tmp_path / cli.DEMO_EVENTS)
    monkeypatch.chdir(tmp_path)
    with ClickPyData([]) as nobody, FakeClickHouse(nobody) as counting:
        monkeypatch.setenv(URL_ENV, counting.url)
        assert cli.main(["demo", "--no-serve", "--out", str(tmp_path / "site")]) == 0
    assert (tmp_path / "site" / "packages" / "acme-http" / "index.html").is_file()
    assert counting.received == []
    # Its leaderboard ranks the demo's own synthetic projects, from its store, labelled synthetic.
    from generator import leaderboard_fetch
    from generator.store import open_store

    with open_store(tmp_path / "data" / "demo-store.duckdb") as store:
        board = leaderboard_fetch.leaderboard(store, dt.date(2026, 10, 31), 25)
    assert board is not None
    assert board.synthetic
    assert board.stale_note is None
    assert sorted(r.project for r in board.current.rows) == sorted(sample.DEMO_PACKAGES)


@contextlib.contextmanager
def unreachable(kind: str) -> Iterator[str]:
    """A loopback URL where ClickPy cannot be had: a refused port, a black hole (the listener's accept
    queue is full, so the kernel drops every further SYN, as a firewall's DROP rule does), or a
    listener that accepts the connection and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    held: list[socket.socket] = []
    try:
        if kind == "refused":
            server.close()
        elif kind == "silent":
            server.listen(8)
        else:
            server.listen(0)
            for _ in range(8):  # fill the accept queue until a connect is dropped
                client = socket.socket()
                client.settimeout(0.3)
                held.append(client)
                try:
                    client.connect(server.getsockname())
                except TimeoutError:
                    break
            else:
                pytest.fail("could not make a black hole on loopback")
        yield url
    finally:
        for client in held:
            client.close()
        server.close()


UNREACHABLE_SECONDS = 8.0
"""What an unreachable ClickPy may cost a build: one connect timeout (fetch.BEFORE_STORE_CONNECT_SECONDS) and change."""


@pytest.mark.parametrize("kind", ["refused", "black hole", "silent"])
def test_an_unreachable_clickpy_costs_under_8_seconds_and_leaves_the_figure_limited_to_the_stores_days(
    kind: str,
    fake: FakeClickHouse,
    exported_events: Path,
    local_rows: pa.Table,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ClickPy's own retry policy and timeouts (nothing injected), but for a silent listener: it costs one
    read timeout (20 s), here shortened to 3 s to show it is waited once, not once per attempt."""
    if kind == "silent":
        monkeypatch.setattr(fetch, "BEFORE_STORE_READ_SECONDS", 3.0)
    steps: list[tuple[str, float]] = []
    out = tmp_path / "site"
    with unreachable(kind) as url:
        cfg = all_time_cfg(tmp_path, exported_events, url)
        build.build(cfg, as_of=END, out_dir=out, progress=lambda step, *_: steps.append((step, time.monotonic())))
    asked = next(i for i, (step, _) in enumerate(steps) if step.startswith("Fetching downloads before the store"))
    cost = steps[asked + 1][1] - steps[asked][1]  # until the build's next step
    assert cost < UNREACHABLE_SECONDS, f"{kind}: {cost:.1f} s"
    first = END - dt.timedelta(days=STORE_DAYS - 1)
    assert f"also counts the days before {first.isoformat()}, which this store does not hold" in page_text(
        out, PACKAGES[0]
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "ClickPy" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "limited to the store's days this run" in warnings[0], warnings
    # The next run asks again, and with ClickPy back the page adds the figure up.
    build.build(all_time_cfg(tmp_path, exported_events, fake.url), as_of=END, out_dir=out)
    assert all_time_sentence(local_rows, PACKAGES[0]) in page_text(out, PACKAGES[0])


def test_offline_the_cli_build_exits_0_with_one_line_about_clickpy(exported_events: Path, tmp_path: Path) -> None:
    from conftest import run_cli

    with unreachable("black hole") as url:
        cfg = all_time_cfg(tmp_path, exported_events, url)
        proc = run_cli("build", "--config", str(cfg.path), "--out", str(tmp_path / "site"))
    assert proc.returncode == 0, proc.stderr
    about = [line for line in proc.stderr.splitlines() if "ClickPy" in line]
    assert len(about) == 1, proc.stderr
    assert "no connection within 5 s" in about[0], proc.stderr
