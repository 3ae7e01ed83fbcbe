"""The SQL the tool sends to BigQuery, checked by Google's own analyzer and reference engine (ZetaSQL,
tests/fakes/zetasql_check.py) against the public table's schema, with the parameter types the tool binds.

What the tool can send: `daily_aggregates` for every breakdown setting (the canonical text, and each
variant `generator.sqlrewrite.restrict_breakdowns` derives), priced by a dry run and then run as the same
statement. The month's job history is read with the REST jobs.list (no SQL). A new statement goes in
`tool_statements` below, and the fake refuses it (invalidQuery) if ZetaSQL does.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
from google.api_core import exceptions as api_exceptions
from google.cloud import bigquery

from generator import config, queries
from generator.dates import Window
from generator.plan import Job
from generator.sources.bigquery import job_query
from tests.fakes.bigquery_server import FakeBigQuery
from tests.fakes.zetasql_check import analyze, execute

BREAKDOWNS = config.BREAKDOWNS
WINDOW = Window(dt.date(2026, 10, 1), dt.date(2026, 10, 3))
PARTITION_PARAMETERS = (("first", "STRING"), ("last", "STRING"))
"""generator.sources.bigquery.BigQuerySource.partition_metadata binds its partition ids as strings."""
PACKAGES = ("acme", "beta-pkg")


def settings() -> dict[str, tuple[str, ...]]:
    """Every breakdown setting worth its own statement: all, none, each alone, each left out."""
    out = {"all": BREAKDOWNS, "none": ()}
    out.update({f"only {b}": (b,) for b in BREAKDOWNS})
    out.update({f"all but {b}": tuple(x for x in BREAKDOWNS if x != b) for b in BREAKDOWNS})
    return out


def parameter_types(params: list[Any]) -> tuple[tuple[str, str], ...]:
    """The (name, BigQuery type) of each bound parameter, as the client sends them."""
    out = []
    for p in params:
        kind = f"ARRAY<{p.array_type}>" if isinstance(p, bigquery.ArrayQueryParameter) else p.type_
        out.append((p.name, kind))
    return tuple(sorted(out))


def tool_statements() -> dict[str, tuple[str, tuple[tuple[str, str], ...]]]:
    """Every statement the tool can send BigQuery (dry run and job alike), with its parameter types."""
    out = {}
    for label, breakdowns in settings().items():
        sql, params = job_query(Job(WINDOW, PACKAGES, breakdowns))
        out[f"daily_aggregates ({label})"] = (sql, parameter_types(params))
    out["partition_metadata (the history window)"] = (queries.load("partition_metadata"), PARTITION_PARAMETERS)
    return out


STATEMENTS = tool_statements()


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_googlesql_accepts_every_statement_the_tool_sends(name: str) -> None:
    sql, types = STATEMENTS[name]
    assert analyze(sql, types) is None


def test_the_bound_parameters_are_typed_as_the_sql_expects() -> None:
    sql, types = STATEMENTS["daily_aggregates (all)"]
    assert dict(types) == {"projects": "ARRAY<STRING>", "start": "DATE", "end": "DATE"}
    assert analyze(sql, (("end", "DATE"), ("projects", "STRING"), ("start", "DATE"))) is not None


def test_every_bigquery_query_file_is_among_the_statements_checked() -> None:
    """ClickHouse's files (clickpy_*) aside, each query file is sent to BigQuery and so checked here."""
    files = sorted(
        p.name.removesuffix(".sql")
        for p in resources.files(queries).iterdir()
        if p.name.endswith(".sql") and not p.name.startswith("clickpy_")
    )
    assert files == ["daily_aggregates", "partition_metadata"]
    assert [f for f in files if not any(name.startswith(f"{f} (") for name in STATEMENTS)] == []


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT nope(project) FROM `bigquery-public-data.pypi.file_downloads`", "Function not found: nope"),
        (
            "SELECT project, GROUPING(country_code) AS g FROM `bigquery-public-data.pypi.file_downloads`"
            " GROUP BY GROUPING SETS ((project))",
            "GROUPING",
        ),
        ("SELECT details.installer.nam FROM `bigquery-public-data.pypi.file_downloads`", "nam"),
        ("SELECT COUNT(*) FROM `bigquery-public-data.pypi.file_downloads` WHERE project = 1", "No matching signature"),
        ("SELECT COUNT(*) FROM `bigquery-public-data.pypi.downloads`", "Table not found"),
    ],
    ids=["unknown function", "GROUPING of an ungrouped column", "bad struct field", "string = int", "unknown table"],
)
def test_googlesql_rejects_what_bigquery_would(sql: str, why: str) -> None:
    rejected = analyze(sql)
    assert rejected is not None, sql
    assert why in rejected


def test_the_fake_refuses_what_googlesql_rejects_with_bigquerys_invalid_query() -> None:
    """DuckDB would run this one (it casts the string to a number); GoogleSQL has no = for STRING and INT64."""
    sql = (
        "SELECT COUNT(*) AS n FROM `bigquery-public-data.pypi.file_downloads`"
        " WHERE timestamp >= TIMESTAMP('2026-10-01') AND project = 1"
    )
    with FakeBigQuery(None) as fake:
        client = fake.client()
        with pytest.raises(api_exceptions.BadRequest) as refused:
            client.query(sql, job_config=bigquery.QueryJobConfig(dry_run=True, use_query_cache=False))
        client.close()
    assert refused.value.errors[0]["reason"] == "invalidQuery"
    assert "No matching signature for operator =" in refused.value.errors[0]["message"]


# -- the reference engine and the fake's DuckDB give the same aggregates ---------------------------------
def small_events(n: int = 300, seed: int = 11) -> list[dict[str, Any]]:
    """A few hundred events with every oddity the query handles: NULLs, odd python strings, other
    packages, days outside the window, CI flags, distros."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        day = WINDOW.start + dt.timedelta(days=rng.randrange(-1, WINDOW.days + 1))
        stamp = dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60)), dt.UTC)
        system = rng.choice(["Linux", "Windows", "Darwin", "FreeBSD", None])
        out.append(
            {
                "timestamp": stamp,
                "country_code": rng.choice(["US", "DE", "JP", None]),
                "project": rng.choice([*PACKAGES, "other", "zeta"]),
                "file": {"type": rng.choice(["bdist_wheel", "sdist", None]), "version": rng.choice(["1.0", "2.0.1"])},
                "details": {
                    "installer": {
                        "name": rng.choice(["pip", "uv", "bandersnatch", "requests", None]),
                        "version": rng.choice(["24.0", "0.4.18", "x", None]),
                    },
                    "python": rng.choice(["3.12.1", "3.8", "cpython", "10.1", "3", None]),
                    "implementation": {"name": rng.choice(["CPython", "PyPy", None])},
                    "distro": {"name": rng.choice(["Ubuntu", "Debian", None]) if system == "Linux" else None},
                    "system": {"name": system},
                    "ci": rng.choice([True, None, None]),
                },
            }
        )
    return out


def ndjson_event(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "timestamp": event["timestamp"].strftime("%Y-%m-%d %H:%M:%S UTC")}


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return small_events()


@pytest.fixture(scope="module")
def fake(events: list[dict[str, Any]]) -> Iterator[FakeBigQuery]:
    with FakeBigQuery([ndjson_event(e) for e in events]) as server:
        yield server


def rows(table: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(r.items()) for r in table), key=repr)


@pytest.mark.parametrize("label", ["all", "none", "only python_minor", "only distro", "all but system"])
def test_the_reference_engine_and_the_fakes_duckdb_give_the_same_daily_aggregates(
    label: str, events: list[dict[str, Any]], fake: FakeBigQuery
) -> None:
    sql, _ = job_query(Job(WINDOW, PACKAGES, settings()[label]))
    values = {"projects": list(PACKAGES), "start": WINDOW.start, "end": WINDOW.end}
    reference = execute(
        sql,
        events,
        {
            "projects": ("ARRAY<STRING>", values["projects"]),
            "start": ("DATE", WINDOW.start),
            "end": ("DATE", WINDOW.end),
        },
    )
    duck = fake.reference(sql, values).to_pylist()
    assert len(reference) > 50
    assert rows(reference) == rows(duck)
