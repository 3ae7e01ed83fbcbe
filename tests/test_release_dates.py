"""Release dates from PyPI's JSON API: shown on the package page, asked once per release, and never
pretended when PyPI cannot be asked (the page then says "first seen in the data")."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from pathlib import Path

import pytest
from conftest import event, write_config, write_events

from generator import cli, figures
from generator.analysis import Release
from generator.sources import pypi_releases
from generator.sources.retry import RetryPolicy
from generator.store import open_store
from tests.fakes.pypi_json import FakePyPIJson

AS_OF = "2026-10-31"
UTC = dt.UTC


def _events(tmp_path: Path, versions: dict[str, list[str]]) -> Path:
    """Events of package acme: each version downloaded with pip on the listed days, and by bandersnatch too."""
    rows = []
    for version, days in versions.items():
        for day in days:
            rows.append(event(day=day, version=version))
            rows.append(event(day=day, version=version, installer="bandersnatch"))
    return write_events(tmp_path / "events", rows)


def _build(cfg: Path, out: Path) -> int:
    return cli.main(["build", "--config", str(cfg), "--out", str(out)])


def _table(site: Path, name: str) -> dict[str, dict[str, str]]:
    """A package table's CSV, by version."""
    text = (site / "packages" / "acme" / f"{name}.csv").read_text(encoding="utf-8")
    return {row["Version"]: row for row in csv.DictReader(io.StringIO(text))}


@pytest.fixture
def pypi(monkeypatch: pytest.MonkeyPatch) -> FakePyPIJson:
    fake = FakePyPIJson(
        {
            "acme": {
                # 1.0's wheel came a day after its sdist: the release's date is its first file's.
                "1.0": [dt.datetime(2026, 9, 2, 8, 0, tzinfo=UTC), dt.datetime(2026, 9, 1, 23, 30, tzinfo=UTC)],
                "2.0": [dt.datetime(2026, 10, 20, 12, 0, tzinfo=UTC)],
                "3.0": [],  # a release whose files were all deleted: no date
            }
        }
    ).start()
    monkeypatch.setenv(pypi_releases.URL_ENV, fake.url)
    yield fake
    fake.stop()


def test_upload_dates_from_pypi_are_on_the_page(tmp_path: Path, pypi: FakePyPIJson) -> None:
    events = _events(tmp_path, {"1.0": ["2026-10-02", "2026-10-25"], "2.0": ["2026-10-22"], "3.0": ["2026-10-30"]})
    cfg = write_config(tmp_path / "stats.toml", events, ["acme"], AS_OF)
    assert _build(cfg, tmp_path / "site") == 0
    releases = _table(tmp_path / "site", "releases")
    in_use = _table(tmp_path / "site", "versions-in-use")
    expected = {
        "1.0": ("2026-09-01", "2026-10-02"),
        "2.0": ("2026-10-20", "2026-10-22"),
        "3.0": ("", "2026-10-30"),  # no date: an empty CSV cell ("–" on the page)
    }
    for version, (uploaded, first_seen) in expected.items():
        assert (releases[version]["Uploaded to PyPI"], releases[version]["First seen in the data"]) == (
            uploaded,
            first_seen,
        ), version
        assert in_use[version]["Uploaded to PyPI"] == uploaded, version
        assert releases[version]["Mirror tools"] == "bandersnatch", version
    assert (releases["1.0"]["Mirror downloads"], releases["1.0"]["Days mirrors fetched it"]) == ("2", "2")
    html = (tmp_path / "site" / "packages" / "acme" / "index.html").read_text(encoding="utf-8")
    assert "not known for 1 of the 3 releases" in html
    assert pypi.requests == ["/acme/json"]
    assert pypi.user_agents[0].startswith("pypi-stats-site/")


def test_each_release_is_asked_about_once(tmp_path: Path, pypi: FakePyPIJson) -> None:
    events = _events(tmp_path, {"1.0": ["2026-10-02"]})
    cfg = write_config(tmp_path / "stats.toml", events, ["acme"], AS_OF)
    assert _build(cfg, tmp_path / "site") == 0
    assert _build(cfg, tmp_path / "site") == 0
    assert pypi.requests == ["/acme/json"], "the second build knew every release's date"
    # PyPI's first answer listed 2.0 too: its downloads need no new request.
    write_events(tmp_path / "events", [event(day="2026-10-30", version="2.0")], name="later.jsonl")
    assert cli.main(["build", "--config", str(cfg), "--out", str(tmp_path / "site"), "--refresh"]) == 0
    assert pypi.requests == ["/acme/json"]
    # A version released since, which the store has no date for, makes the next build ask again, once.
    pypi.projects["acme"]["4.0"] = [dt.datetime(2026, 10, 29, 9, 0, tzinfo=UTC)]
    write_events(tmp_path / "events", [event(day="2026-10-30", version="4.0")], name="newest.jsonl")
    assert cli.main(["build", "--config", str(cfg), "--out", str(tmp_path / "site"), "--refresh"]) == 0
    assert _build(cfg, tmp_path / "site") == 0
    assert pypi.requests == ["/acme/json", "/acme/json"]
    assert _table(tmp_path / "site", "releases")["4.0"]["Uploaded to PyPI"] == "2026-10-29"


def test_offline_the_page_says_first_seen_and_a_later_build_fills_in(
    tmp_path: Path, pypi: FakePyPIJson, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _events(tmp_path, {"1.0": ["2026-10-02"], "2.0": ["2026-10-22"]})
    cfg = write_config(tmp_path / "stats.toml", events, ["acme"], AS_OF)
    monkeypatch.setattr(pypi_releases, "RetryPolicy", lambda: RetryPolicy(sleep=lambda s: None, max_attempts=2))
    pypi.fail_status = 503
    with caplog.at_level(logging.WARNING):
        assert _build(cfg, tmp_path / "site") == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "release dates" in r.msg]
    assert len(warnings) == 1, warnings
    assert "acme" in warnings[0], warnings
    assert "HTTP 503" in warnings[0], warnings
    assert len(pypi.requests) == 2, "transient 503s are retried by the project's retry policy"
    html = (tmp_path / "site" / "packages" / "acme" / "index.html").read_text(encoding="utf-8")
    assert "The newest version in the data, 2.0 (first seen in the data 2026-10-22)" in html
    assert {r["Uploaded to PyPI"] for r in _table(tmp_path / "site", "releases").values()} == {""}
    pypi.fail_status = 0
    assert _build(cfg, tmp_path / "site") == 0
    html = (tmp_path / "site" / "packages" / "acme" / "index.html").read_text(encoding="utf-8")
    assert "The newest version in the data, 2.0 (uploaded to PyPI 2026-10-20)" in html


def test_an_unreachable_pypi_is_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    events = _events(tmp_path, {"1.0": ["2026-10-02"]})
    closed = FakePyPIJson().start()
    url = closed.url
    closed.stop()  # nothing listens there now: connection refused, as offline
    cfg = write_config(tmp_path / "stats.toml", events, ["acme"], AS_OF)
    cfg.write_text(cfg.read_text().replace("[store]", f'pypi_url = "{url}"\n[store]'), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert _build(cfg, tmp_path / "site") == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "release dates" in r.msg]
    assert len(warnings) == 1, warnings
    assert "cannot reach" in warnings[0], warnings
    assert _table(tmp_path / "site", "releases")["1.0"]["Uploaded to PyPI"] == ""


def test_a_project_pypi_does_not_know_is_asked_once_and_shows_first_seen(
    tmp_path: Path, pypi: FakePyPIJson, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [event(day="2026-10-02", project="not-on-pypi", version="0.1")]
    cfg = write_config(tmp_path / "stats.toml", write_events(tmp_path / "events", rows), ["not-on-pypi"], AS_OF)
    with caplog.at_level(logging.WARNING):
        assert _build(cfg, tmp_path / "site") == 0
        assert _build(cfg, tmp_path / "site") == 0
    assert pypi.requests == ["/not-on-pypi/json"], "a 404 is an answer: not asked again"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "release dates" in r.msg]
    html = (tmp_path / "site" / "packages" / "not-on-pypi" / "index.html").read_text(encoding="utf-8")
    assert "The newest version in the data, 0.1 (first seen in the data 2026-10-02)" in html
    with open_store(tmp_path / "store.duckdb") as store:
        assert store.release_uploads(["not-on-pypi"]) == {"not-on-pypi": {"0.1": None}}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ([], None),
        ([{"upload_time_iso_8601": "2026-09-02T08:00:00.123456Z"}], dt.datetime(2026, 9, 2, 8, 0, 0, 123456, UTC)),
        (
            [{"upload_time_iso_8601": "2026-09-02T08:00:00Z"}, {"upload_time_iso_8601": "2026-09-01T23:00:00Z"}],
            dt.datetime(2026, 9, 1, 23, 0, tzinfo=UTC),
        ),
        ([{"upload_time_iso_8601": None}, {"upload_time_iso_8601": "garbage"}], None),
    ],
)
def test_a_release_is_dated_by_its_first_file(files: list[dict[str, object]], expected: dt.datetime | None) -> None:
    assert pypi_releases.upload_times({"releases": {"1.0": files}}) == {"1.0": expected}


def _release(version: str, mirror_days: int, uploaded: dt.date | None = None) -> Release:
    return Release(version, dt.date(2026, 10, 1), 5 * mirror_days, 10, ("bandersnatch",), uploaded, mirror_days)


@pytest.mark.parametrize(
    ("releases", "says"),
    [
        ([_release("1.0", 2), _release("2.0", 1)], "came on at most 3 days: as a one-time sync per mirror"),
        ([_release("1.0", 20), _release("2.0", 1)], "Mirrors keep fetching: 1 of the 2 releases mirrors fetched"),
        ([_release("1.0", 0)], "No mirror tool fetched any release in the data."),
        ([_release("1.0", 1, dt.date(2026, 9, 1))], "the date of each release's first file on PyPI"),
        ([_release("1.0", 1, dt.date(2026, 9, 1)), _release("2.0", 1)], "not known for 1 of the 2 releases"),
        ([_release("1.0", 1)], "not known for any release here"),
    ],
)
def test_the_release_sentence_says_what_the_rows_show(releases: list[Release], says: str) -> None:
    assert says in figures.release_sentence(releases)


def test_release_dates_survive_the_data_export(tmp_path: Path, pypi: FakePyPIJson) -> None:
    """CI restores the store from the site's export: the dates come with it, so PyPI is not asked again."""
    events = _events(tmp_path, {"1.0": ["2026-10-02"]})
    cfg = write_config(tmp_path / "stats.toml", events, ["acme"], AS_OF)
    assert _build(cfg, tmp_path / "site") == 0
    with open_store(tmp_path / "store.duckdb") as store:
        store.export_parquet(tmp_path / "export")
    with open_store(tmp_path / "restored.duckdb") as fresh:
        fresh.load_export(tmp_path / "export")
        restored = fresh.release_uploads(["acme"])["acme"]
    assert restored["1.0"] == dt.datetime(2026, 9, 1, 23, 30)
