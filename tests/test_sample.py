"""The synthetic event generator: determinism, the file_downloads schema, and the shapes the report explains."""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
from pathlib import Path

import duckdb
import pytest
from packaging.version import Version

from generator import sample

END = dt.date(2026, 7, 22)  # 24 days: two months (so two files), and sample.MISSING_DAY (2026-07-14)
DAYS = 24
SCALE = 0.15  # about 19,000 events: enough for every shape below, quick to write

# The file_downloads schema as DuckDB reads BigQuery's Parquet export.
EXPECTED_COLUMNS = [
    ("timestamp", "TIMESTAMP WITH TIME ZONE"),
    ("country_code", "VARCHAR"),
    ("url", "VARCHAR"),
    ("project", "VARCHAR"),
    ("file", 'STRUCT(filename VARCHAR, project VARCHAR, "version" VARCHAR, "type" VARCHAR)'),
    (
        "details",
        'STRUCT(installer STRUCT("name" VARCHAR, "version" VARCHAR), python VARCHAR, '
        'implementation STRUCT("name" VARCHAR, "version" VARCHAR), '
        'distro STRUCT("name" VARCHAR, "version" VARCHAR, id VARCHAR, libc STRUCT(lib VARCHAR, "version" VARCHAR)), '
        '"system" STRUCT("name" VARCHAR, "release" VARCHAR), cpu VARCHAR, openssl_version VARCHAR, '
        "setuptools_version VARCHAR, rustc_version VARCHAR, ci BOOLEAN)",
    ),
    ("tls_protocol", "VARCHAR"),
    ("tls_cipher", "VARCHAR"),
]
PYPISTATS_PYTHON = r"^[0-9]\.[0-9]+.{0,}$"


def _generate(out: Path, **kwargs: object) -> sample.SampleSummary:
    args: dict[str, object] = {"end": END, "days": DAYS, "scale": SCALE, **kwargs}
    return sample.generate(out, **args)  # type: ignore[arg-type]


def _connect(summary: sample.SampleSummary) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.read_parquet([str(p) for p in summary.files]).create_view("ev")
    return con


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object] | None = None) -> list[tuple]:
    return con.execute(sql, params or {}).fetchall()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object] | None = None) -> object:
    return con.execute(sql, params or {}).fetchone()[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> sample.SampleSummary:
    return _generate(tmp_path_factory.mktemp("parquet"))


@pytest.fixture(scope="module")
def con(run: sample.SampleSummary) -> duckdb.DuckDBPyConnection:
    return _connect(run)


@pytest.fixture(scope="module")
def ndjson(tmp_path_factory: pytest.TempPathFactory) -> sample.SampleSummary:
    return _generate(tmp_path_factory.mktemp("ndjson"), fmt="ndjson")


@pytest.fixture(scope="module")
def ndjson_events(ndjson: sample.SampleSummary) -> list[dict]:
    """Every NDJSON line, parsed with plain `json`."""
    return [json.loads(line) for p in ndjson.files for line in p.read_text().splitlines()]


# -- determinism --------------------------------------------------------------------------------


def _file_bytes(summary: sample.SampleSummary) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(summary.out_dir.iterdir())}


@pytest.mark.parametrize(("fmt", "generated"), [("parquet", "run"), ("ndjson", "ndjson")])
def test_same_arguments_give_identical_bytes(
    fmt: str, generated: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    again = _generate(tmp_path / "again", fmt=fmt)
    first, second = _file_bytes(request.getfixturevalue(generated)), _file_bytes(again)
    assert first.keys() == second.keys()
    assert sample.SYNTHETIC_MARKER in first
    assert any(name.endswith(sample.FORMATS[fmt]) for name in first)
    for name in first:
        assert first[name] == second[name], name


def test_a_different_seed_gives_different_events(run: sample.SampleSummary, tmp_path: Path) -> None:
    other = _generate(tmp_path / "other", seed=7)
    mine, theirs = _file_bytes(run), _file_bytes(other)
    assert mine.keys() == theirs.keys()
    assert [n for n in mine if n.endswith(".parquet") and mine[n] == theirs[n]] == []
    installers = "SELECT details.installer.name, count(*) FROM ev GROUP BY ALL ORDER BY ALL"
    assert _rows(_connect(run), installers) != _rows(_connect(other), installers)


def test_scale_multiplies_volume(run: sample.SampleSummary, tmp_path: Path) -> None:
    half = _generate(tmp_path / "half", scale=SCALE / 2)
    assert run.events == pytest.approx(2 * half.events, rel=0.05)
    # Mirror traffic scales too (more mirror instances), not only installs.
    mirrors = "SELECT count(*) FROM ev WHERE details.installer.name = 'bandersnatch'"
    assert _scalar(_connect(run), mirrors) == pytest.approx(2 * _scalar(_connect(half), mirrors), rel=0.3)


# -- files and schema ---------------------------------------------------------------------------


def test_summary_marker_and_row_counts_agree(run: sample.SampleSummary, con: duckdb.DuckDBPyConnection) -> None:
    assert (run.start, run.end, run.missing_day) == (END - dt.timedelta(days=DAYS - 1), END, sample.MISSING_DAY)
    assert _scalar(con, "SELECT count(*) FROM ev") == run.events > 15_000
    for path in run.files:
        assert _scalar(con, "SELECT count(*) FROM read_parquet($p)", {"p": str(path)}) == run.per_file[path.name]
    marker = json.loads((run.out_dir / sample.SYNTHETIC_MARKER).read_text())
    assert marker["synthetic"] is True
    assert (marker["seed"], marker["generator"], marker["events"]) == (42, "generator.sample", run.events)
    assert [p["project"] for p in marker["packages"]] == list(sample.DEMO_PACKAGES)


def test_parquet_has_the_nested_file_downloads_schema(con: duckdb.DuckDBPyConnection) -> None:
    assert _rows(con, "SELECT column_name, column_type FROM (DESCRIBE ev)") == EXPECTED_COLUMNS


def test_files_are_split_by_month_and_sorted_by_time(run: sample.SampleSummary) -> None:
    assert [p.name for p in run.files] == [
        "file_downloads-2026-06-29_2026-06-30.parquet",
        "file_downloads-2026-07-01_2026-07-22.parquet",
    ]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for path in run.files:
        month = path.name[15:22]
        ts = [r[0] for r in _rows(con, "SELECT timestamp FROM read_parquet($p)", {"p": str(path)})]
        assert ts == sorted(ts)
        assert {t.strftime("%Y-%m") for t in ts} == {month}


def test_ndjson_lines_have_bigquery_export_shape(
    ndjson: sample.SampleSummary, ndjson_events: list[dict], run: sample.SampleSummary
) -> None:
    assert [p for p in ndjson.files if p.suffix != ".jsonl"] == []
    lines = ndjson_events
    assert len(lines) == ndjson.events == run.events
    top = ["timestamp", "country_code", "url", "project", "file", "details", "tls_protocol", "tls_cipher"]
    details = [
        "installer", "python", "implementation", "distro", "system", "cpu",
        "openssl_version", "setuptools_version", "rustc_version", "ci",
    ]  # fmt: skip
    for event in lines[:2000]:
        assert list(event) == top
        assert list(event["file"]) == ["filename", "project", "version", "type"]
        assert list(event["details"]) == details
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} UTC", event["timestamp"])
        when = dt.datetime.strptime(event["timestamp"], "%Y-%m-%d %H:%M:%S.%f UTC")
        assert run.start <= when.date() <= run.end
    named = [e for e in lines if e["details"]["installer"] is not None]
    assert {tuple(e["details"]["installer"]) for e in named} <= {("name", "version")}
    with_distro = [e["details"]["distro"] for e in lines if e["details"]["distro"] is not None]
    assert with_distro
    assert {tuple(d) for d in with_distro} == {("name", "version", "id", "libc")}
    # Missing fields are JSON null: whole structs for unparsed user agents, leaves elsewhere.
    assert any(e["details"]["installer"] is None and e["details"]["python"] is None for e in lines)
    assert any(e["country_code"] is None for e in lines)


def test_ndjson_and_parquet_hold_the_same_events(ndjson_events: list[dict], con: duckdb.DuckDBPyConnection) -> None:
    lines = ndjson_events
    from_json = sorted(
        (e["timestamp"][:26], e["project"], e["file"]["filename"], (e["details"]["installer"] or {}).get("name"))
        for e in lines
    )
    from_parquet = sorted(
        _rows(
            con,
            "SELECT strftime(timestamp, '%Y-%m-%d %H:%M:%S.%f'), project, file.filename, details.installer.name "
            "FROM ev",
        )
    )
    assert from_json == from_parquet


def test_file_fields_are_consistent(run: sample.SampleSummary, con: duckdb.DuckDBPyConnection) -> None:
    bad = _scalar(
        con,
        """
        SELECT count(*) FROM ev
        WHERE file.project IS DISTINCT FROM project
           OR NOT ends_with(url, '/' || file.filename)
           OR NOT regexp_matches(url, '^/packages/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/')
           OR NOT starts_with(file.filename, replace(project, '-', '_') || '-' || file.version)
           OR (file.type = 'sdist') <> ends_with(file.filename, '.tar.gz')
           OR (file.type = 'bdist_wheel') <> ends_with(file.filename, '.whl')
        """,
    )
    assert bad == 0
    wheels = _scalar(con, "SELECT avg((file.type = 'bdist_wheel')::INT) FROM ev")
    assert 0.75 < wheels < 0.95
    # A compiled package's installs get the wheel for the client's Python (mirrors fetch them all).
    mismatched = _scalar(
        con,
        """
        SELECT count(*) FROM ev
        WHERE project = 'fastjsonish' AND file.type = 'bdist_wheel' AND details.python LIKE '3.12.%'
          AND details.implementation.name = 'CPython' AND details.installer.name <> 'bandersnatch'
          AND file.filename NOT LIKE '%-cp312-cp312-%'
        """,
    )
    assert mismatched == 0
    assert _scalar(con, "SELECT count(*) FROM ev WHERE file.filename LIKE '%-cp312-cp312-%'") > 0


def test_installs_hit_versions_that_exist_mostly_the_newest(
    run: sample.SampleSummary, con: duckdb.DuckDBPyConnection
) -> None:
    for profile in run.packages:
        rows = _rows(
            con,
            "SELECT timestamp::DATE, file.version, count(*) FROM ev WHERE project = $p AND "
            "details.installer.name IN ('pip', 'uv') GROUP BY ALL",
            {"p": profile.project},
        )
        latest = 0
        for day, version, n in rows:
            released = [r for r in profile.releases if r.day <= day]
            assert version in {r.version for r in released}, (profile.project, day, version)
            if version == released[-1].version:
                latest += n
        assert latest / sum(n for *_, n in rows) > 0.6


# -- the shapes the report explains ------------------------------------------------------------


def _by_installer(con: duckdb.DuckDBPyConnection, value: str, where: str) -> dict[str | None, float]:
    """`value` for each installer name (None: no installer) among the events `where` holds for."""
    sql = f"SELECT details.installer.name, {value} FROM ev WHERE {where} GROUP BY 1"  # noqa: S608 - the tests' own SQL
    return dict(_rows(con, sql))


def test_ci_is_true_or_null_and_only_pip_or_uv(con: duckdb.DuckDBPyConnection) -> None:
    assert _scalar(con, "SELECT count(*) FROM ev WHERE details.ci = FALSE") == 0
    others = "SELECT count(*) FROM ev WHERE details.ci AND details.installer.name NOT IN ('pip', 'uv')"
    assert _scalar(con, others) == 0


@pytest.mark.parametrize(("installer", "low", "high"), [("pip", 0.15, 0.40), ("uv", 0.15, 0.45)])
def test_the_ci_share_of_pip_and_uv(con: duckdb.DuckDBPyConnection, installer: str, low: float, high: float) -> None:
    ci_share = _by_installer(con, "avg(COALESCE(details.ci, FALSE)::INT)", "details.installer.name IN ('pip', 'uv')")
    assert low < ci_share[installer] < high


@pytest.fixture(scope="module")
def installer_shares(con: duckdb.DuckDBPyConnection) -> dict[str | None, float]:
    """Shares among non-mirror events, where the brief's rough figures apply."""
    return _by_installer(
        con, "count(*) / sum(count(*)) OVER ()", "details.installer.name IS DISTINCT FROM 'bandersnatch'"
    )


@pytest.mark.parametrize(
    ("installer", "low", "high"),
    [
        ("pip", 0.45, 0.65),
        ("uv", 0.12, 0.25),
        ("poetry", 0.03, 0.09),
        ("requests", 0.03, 0.08),
        (None, 0.02, 0.07),
        *[
            (name, 0, 0.03)
            for name in ("pdm", "conda", "Artifactory", "Nexus", "devpi", "Browser", "Homebrew", "twine")
        ],
    ],
)
def test_installer_mix(
    installer_shares: dict[str | None, float], installer: str | None, low: float, high: float
) -> None:
    assert low < installer_shares[installer] < high


def test_mirrors_and_scripts_report_no_python(con: duckdb.DuckDBPyConnection) -> None:
    reporting = dict(
        _rows(
            con,
            "SELECT details.installer.name, avg((details.python IS NOT NULL)::INT) FROM ev "
            "WHERE details.installer.name IN ('bandersnatch', 'requests', 'Browser', 'pip') "
            "OR details.installer IS NULL GROUP BY 1",
        )
    )
    assert reporting["bandersnatch"] < 0.3
    assert reporting["requests"] == reporting["Browser"] == reporting[None] == 0
    assert reporting["pip"] == 1


def test_bandersnatch_fetches_every_file_of_a_release(
    run: sample.SampleSummary, con: duckdb.DuckDBPyConnection
) -> None:
    files_per_release = {p.project: len(p.filenames("1.0")) for p in run.packages}
    assert files_per_release["fastjsonish"] == 37
    rows = _rows(
        con,
        "SELECT project, timestamp::DATE, file.version, count(*) FROM ev "
        "WHERE details.installer.name = 'bandersnatch' GROUP BY ALL",
    )
    assert rows
    assert [(project, n) for project, _, _, n in rows if n % files_per_release[project] != 0] == []


def test_bandersnatch_spikes_on_release_days(run: sample.SampleSummary, con: duckdb.DuckDBPyConnection) -> None:
    compared = 0
    for profile in run.packages:
        per_day = dict(
            _rows(
                con,
                "SELECT timestamp::DATE, count(*) FROM ev "
                "WHERE project = $p AND details.installer.name = 'bandersnatch' GROUP BY 1",
                {"p": profile.project},
            )
        )
        days = [run.start + dt.timedelta(days=i) for i in range(DAYS)]
        releases = [r.day for r in profile.releases if run.start <= r.day <= run.end and r.day != run.missing_day]
        # Mirrors fetch a release on its day or the next two; "quiet" days are outside those windows.
        busy = {r + dt.timedelta(days=k) for r in releases for k in range(3)}
        quiet = [d for d in days if d not in busy and d != run.missing_day]
        if not releases or len(quiet) < 3:
            continue
        compared += 1
        on_release = statistics.mean(per_day.get(d, 0) for d in releases)
        assert on_release > 2 * statistics.mean(per_day.get(d, 0) for d in quiet), profile.project
    assert compared >= 2


def test_missing_day_has_no_rows(run: sample.SampleSummary, con: duckdb.DuckDBPyConnection) -> None:
    per_day = dict(_rows(con, "SELECT timestamp::DATE, count(*) FROM ev GROUP BY 1"))
    assert sample.MISSING_DAY not in per_day
    expected = {run.start + dt.timedelta(days=i) for i in range(DAYS)} - {sample.MISSING_DAY}
    assert set(per_day) == expected


def test_malformed_python_values_exist_but_are_rare(con: duckdb.DuckDBPyConnection) -> None:
    malformed, reporting = con.execute(
        "SELECT count(*) FILTER (WHERE NOT regexp_matches(details.python, $re)), count(details.python) FROM ev",
        {"re": PYPISTATS_PYTHON},
    ).fetchone()
    assert 0 < malformed < 0.01 * reporting
    values = {r[0] for r in _rows(con, "SELECT DISTINCT details.python FROM ev WHERE details.python IS NOT NULL")}
    assert values & set(sample.MALFORMED_PYTHONS)
    assert {"3.11", "3.12"} <= {v[:4] for v in values}


def test_pip_has_more_downloads_on_weekdays(con: duckdb.DuckDBPyConnection) -> None:
    per_day = _rows(
        con,
        "SELECT isodow(timestamp) >= 6, count(*) / count(DISTINCT timestamp::DATE) FROM ev "
        "WHERE details.installer.name = 'pip' GROUP BY 1",
    )
    average = dict(per_day)
    assert average[False] > 1.3 * average[True]


def test_timestamps_spread_over_the_whole_day(con: duckdb.DuckDBPyConnection) -> None:
    hours = dict(_rows(con, "SELECT hour(timestamp), count(*) FROM ev GROUP BY 1"))
    assert set(hours) == set(range(24))
    assert max(hours.values()) < 1.5 * min(hours.values())


# -- package profiles ---------------------------------------------------------------------------


def test_demo_packages_are_normalized_and_distinct() -> None:
    assert [n for n in sample.DEMO_PACKAGES if sample.normalize(n) != n] == []
    start = dt.date(2026, 4, 5)
    profiles = [sample.package_profile(n, start=start, days=sample.DEMO_DAYS) for n in sample.DEMO_PACKAGES]
    by_name = {p.project: p for p in profiles}
    assert max(profiles, key=lambda p: p.base_daily).project == "acme-http"
    assert min(profiles, key=lambda p: p.base_daily).project == "tinycli-kit"
    assert max(profiles, key=lambda p: len(p.releases)).project == "pelican-widgets"
    assert by_name["fastjsonish"].compiled
    assert not by_name["acme-http"].compiled
    assert sample.MISSING_DAY not in {r.day for p in profiles for r in p.releases}


@pytest.mark.parametrize("name", ["pkg-0001", "pkg-0002", "Some_Package.Name", "x"])
def test_hashed_profiles_have_a_valid_release_history(name: str) -> None:
    start = dt.date(2026, 4, 5)
    profile = sample.package_profile(name, seed=3, start=start, days=210)
    assert profile == sample.package_profile(name, seed=3, start=start, days=210)
    assert profile.project == sample.normalize(name)
    assert 3 <= len(profile.releases) <= 12
    assert profile.releases[0].day < start
    versions = [Version(r.version) for r in profile.releases]
    assert versions == sorted(set(versions))
    days = [r.day for r in profile.releases]
    assert days == sorted(set(days))
    assert days[-1] <= start + dt.timedelta(days=209)
    assert 20 <= profile.base_daily <= 3000
    assert 30 <= profile.mirror_instances <= 80


def test_generated_names_work_end_to_end(tmp_path: Path) -> None:
    names = ["pkg-0001", "Pkg_0002", "pkg-0003"]
    summary = _generate(tmp_path / "generic", packages=names, scale=0.1)
    con = _connect(summary)
    assert {r[0] for r in _rows(con, "SELECT DISTINCT project FROM ev")} == {"pkg-0001", "pkg-0002", "pkg-0003"}
    assert summary.events == _scalar(con, "SELECT count(*) FROM ev") > 0


# -- arguments ------------------------------------------------------------------------------------


def test_previous_event_files_are_replaced(tmp_path: Path) -> None:
    """In a folder of an earlier sample (its marker); any other non-empty folder is refused (test_safety)."""
    out = tmp_path / "events"
    out.mkdir()
    (out / "SYNTHETIC.json").write_text("{}")
    (out / "old.parquet").write_bytes(b"stale")
    (out / "old.jsonl").write_text("{}\n")
    (out / "notes.txt").write_text("kept")
    summary = _generate(out, scale=0.02, days=3)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*(p.name for p in summary.files), "notes.txt", "SYNTHETIC.json"]
    )


@pytest.mark.parametrize(
    "kwargs",
    [{"fmt": "csv"}, {"days": 0}, {"scale": -1.0}, {"packages": []}],
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _generate(tmp_path / "bad", **kwargs)


def test_an_interrupted_sample_is_written_again_never_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the demo's events are written leaves a folder still known as synthetic, so the next
    run may replace it (it was refused as "not synthetic"), and not complete, so the demo does not build
    on part of the events (it did once the marker of an earlier sample was there)."""
    out = tmp_path / "events"
    _generate(out)
    assert sample.is_complete(out)
    write_chunks = sample._write_chunks

    def interrupted(con, chunks, rng, out_dir, fmt, say):  # noqa: ANN001, ANN202
        write_chunks(con, chunks[:1], rng, out_dir, fmt, say)
        raise KeyboardInterrupt

    monkeypatch.setattr(sample, "_write_chunks", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _generate(out)
    assert not sample.is_complete(out)
    sample.refuse_foreign_folder(out)  # still the tool's own folder

    monkeypatch.setattr(sample, "_write_chunks", write_chunks)
    again = _generate(out)
    assert sample.is_complete(out)
    assert sorted(p.name for p in out.iterdir()) == sorted([sample.SYNTHETIC_MARKER, *again.per_file])
