"""The local source: the canonical SQL, transpiled by sqlglot, run on DuckDB over event files."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import event, write_events

from generator.dates import Window
from generator.errors import SourceError
from generator.plan import Job
from generator.sources.local import LocalSource

INSTALLERS = ["pip", "uv", "poetry", "bandersnatch", "Nexus", "Artifactory", "requests", "Browser", None, "weird-bot"]
PYTHONS = ["3.12.1", "3.11.4", "3.8", None, "", "10.1", "3", "cpython"]
PYPISTATS_OK = re.compile(r"^[0-9]\.[0-9]+.{0,}$")


def random_events(seed: int, n: int = 600) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        installer = rng.choice(INSTALLERS)
        out.append(
            event(
                day=f"2026-10-0{rng.randint(1, 5)}",
                project=rng.choice(["acme", "beta", "gamma"]),
                installer=installer,
                python=rng.choice(PYTHONS),
                ci=rng.choice([True, None]) if installer in ("pip", "uv") else None,
                time=f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
                country=rng.choice(["US", "DE", None]),
                version=rng.choice(["1.0", "1.1", "2.0"]),
                system=rng.choice(["Linux", "Windows", "Darwin", "FreeBSD", None]),
                distro=rng.choice(["Ubuntu", "Debian GNU/Linux", None]),
            )
        )
    return out


def python_count(events: list[dict], dimension: str | None) -> Counter:
    """The aggregate computed directly in Python from the raw events: the test's oracle."""
    counts: Counter = Counter()
    for e in events:
        d = e["details"]
        installer = d["installer"]["name"] if d["installer"] else None
        python = d["python"]
        malformed = python is not None and not PYPISTATS_OK.match(python)
        minor = (
            re.match(r"^([0-9]+\.[0-9]+)", python).group(1) if python and re.match(r"^[0-9]+\.[0-9]+", python) else None
        )
        value = {
            None: None,
            "country": e["country_code"],
            "python_minor": minor,
            "system": d["system"]["name"],
            "distro": (d["system"]["name"], d["distro"]["name"]),  # a distro row carries the OS
            "version": e["file"]["version"],
        }[dimension]
        key = (e["timestamp"][:10], e["project"], installer, bool(d["ci"]), malformed, value)
        counts[key] += 1
    return counts


def source_count(rows: pa.Table, breakdown: str, column: str | tuple[str, ...] | None) -> Counter:
    counts: Counter = Counter()
    for r in rows.to_pylist():
        if r["breakdown"] != breakdown:
            continue
        value = tuple(r[c] for c in column) if isinstance(column, tuple) else r[column] if column else None
        counts[(r["day"].isoformat(), r["project"], r["installer"], r["ci"], r["python_malformed"], value)] += r[
            "downloads"
        ]
    return counts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_on_duckdb_matches_a_direct_python_count(tmp_path: Path, seed: int) -> None:
    events = random_events(seed)
    source = LocalSource(write_events(tmp_path, events))
    job = Job(Window(dt.date(2026, 10, 1), dt.date(2026, 10, 5)), ("acme", "beta", "gamma"))
    rows = source.fetch(job).rows
    assert source_count(rows, "total", None) == python_count(events, None)
    for dim in ("country", "python_minor", "system", "version"):
        assert source_count(rows, dim, dim) == python_count(events, dim), dim
    assert source_count(rows, "distro", ("system", "distro")) == python_count(events, "distro")


def test_only_the_requested_projects_and_days_are_returned(tmp_path: Path) -> None:
    events = random_events(7)
    source = LocalSource(write_events(tmp_path, events))
    result = source.fetch(Job(Window(dt.date(2026, 10, 2), dt.date(2026, 10, 3)), ("beta",)))
    totals = [r for r in result.rows.to_pylist() if r["breakdown"] == "total"]
    assert {r["project"] for r in totals} == {"beta"}
    assert {r["day"] for r in totals} <= {dt.date(2026, 10, 2), dt.date(2026, 10, 3)}
    expected = sum(1 for e in events if e["project"] == "beta" and e["timestamp"][:10] in ("2026-10-02", "2026-10-03"))
    assert sum(r["downloads"] for r in totals) == expected


@pytest.mark.parametrize(
    ("stamp", "day"),
    [
        ("2026-10-01 23:59:59.999999 UTC", "2026-10-01"),
        ("2026-10-01 23:59:59 UTC", "2026-10-01"),
        ("2026-10-02T01:30:00+02:00", "2026-10-01"),  # 23:30 UTC the day before
        ("2026-10-01T22:30:00-02:00", "2026-10-02"),
        ("2026-10-01T12:00:00Z", "2026-10-01"),
    ],
)
def test_timestamps_in_both_export_forms_land_on_the_utc_day(tmp_path: Path, stamp: str, day: str) -> None:
    e = event()
    e["timestamp"] = stamp
    source = LocalSource(write_events(tmp_path, [e]))
    result = source.fetch(Job(Window(dt.date(2026, 9, 30), dt.date(2026, 10, 3)), ("acme",)))
    days = {r["day"].isoformat() for r in result.rows.to_pylist()}
    assert days == {day}
    assert [d.isoformat() for d in result.available_days] == [day]


def test_parquet_with_missing_nested_fields_reads_them_as_null(tmp_path: Path) -> None:
    table = pa.table(
        {
            "timestamp": pa.array([dt.datetime(2026, 10, 1, 5, tzinfo=dt.UTC)], pa.timestamp("us", tz="UTC")),
            "project": ["acme"],
            "details": [{"installer": {"name": "uv"}, "python": "3.13.0"}],  # no ci, no system, no file at all
        }
    )
    pq.write_table(table, tmp_path / "part.parquet")
    source = LocalSource(tmp_path)
    rows = source.fetch(Job(Window(dt.date(2026, 10, 1), dt.date(2026, 10, 1)), ("acme",))).rows.to_pylist()
    total = [r for r in rows if r["breakdown"] == "total"]
    assert [(r["installer"], r["ci"], r["downloads"]) for r in total] == [("uv", False, 1)]
    assert {r["version"] for r in rows if r["breakdown"] == "version"} == {None}


def test_parquet_and_ndjson_together_are_one_table(tmp_path: Path) -> None:
    write_events(tmp_path, [event(installer="pip"), event(installer="uv")])
    pq.write_table(
        pa.table({"timestamp": pa.array([dt.datetime(2026, 10, 1, tzinfo=dt.UTC)]), "project": ["acme"]}),
        tmp_path / "more.parquet",
    )
    source = LocalSource(tmp_path)
    rows = source.fetch(Job(Window(dt.date(2026, 10, 1), dt.date(2026, 10, 1)), ("acme",))).rows.to_pylist()
    assert sum(r["downloads"] for r in rows if r["breakdown"] == "total") == 3


def test_a_day_with_no_events_at_all_is_not_available(tmp_path: Path) -> None:
    source = LocalSource(write_events(tmp_path, [event(day="2026-10-01"), event(day="2026-10-03", project="beta")]))
    result = source.fetch(Job(Window(dt.date(2026, 10, 1), dt.date(2026, 10, 3)), ("acme",)))
    # 10-03 has events (for another project): acme had zero downloads that day. 10-02 was never exported.
    assert result.available_days == [dt.date(2026, 10, 1), dt.date(2026, 10, 3)]


def malformed_json(tmp_path: Path) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(event()) + "\n" + json.dumps(event())[:-5] + "\n", encoding="utf-8")
    return tmp_path


def unparseable_timestamp(tmp_path: Path) -> Path:
    bad = event()
    bad["timestamp"] = "last tuesday"
    return write_events(tmp_path, [event(), event(), bad])


def broken_parquet(tmp_path: Path) -> Path:
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    return tmp_path


@pytest.mark.parametrize(
    ("events_dir", "message"),
    [
        pytest.param(
            malformed_json,
            r"bad\.jsonl: malformed event file at line 2: not valid JSON",
            id="malformed JSON is reported by file and line",
        ),
        pytest.param(unparseable_timestamp, r"line 3: timestamp 'last tuesday'", id="a bad timestamp, by line"),
        pytest.param(broken_parquet, r"broken\.parquet: not a readable Parquet file", id="a broken Parquet file"),
        pytest.param(lambda tmp: tmp, r"no event files \(\.parquet, or \.json", id="an empty directory"),
        pytest.param(lambda tmp: tmp / "nope", "events directory not found", id="a missing directory"),
    ],
)
def test_unreadable_events_are_one_clear_error(
    tmp_path: Path, events_dir: Callable[[Path], Path], message: str
) -> None:
    with pytest.raises(SourceError, match=message):
        LocalSource(events_dir(tmp_path))
