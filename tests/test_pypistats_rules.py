"""pypistats.org's counting rules, end to end: events → local source → store → analysis.

Each test builds a tiny event set where the expected figure is obvious by construction.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import event, write_events

from generator import analysis
from generator.dates import Window
from generator.sources import Job
from generator.sources.local import LocalSource
from generator.store import open_store

AS_OF = dt.date(2026, 10, 31)


def figures(tmp_path: Path, events: list[dict], as_of: dt.date = AS_OF) -> dict[str, int]:
    """Run events through the real source, store and analysis; return each emulated source's figure."""
    source = LocalSource(write_events(tmp_path / "events", events))
    window = Window(as_of - dt.timedelta(days=199), as_of)
    with open_store(tmp_path / "store.duckdb") as store:
        result = source.fetch(Job(window, ("acme",)))
        store.replace_days("local", ["acme"], list(window), result.rows)
        rows = store.rows("local", "acme", ("total",))
    emus = analysis.emulations(as_of, window.start)
    return {e.key: analysis.explain(rows, e, emus[0]).value for e in emus}


def test_a_null_installer_is_in_with_mirrors_but_not_in_without_mirrors(tmp_path: Path) -> None:
    f = figures(tmp_path, [event(day="2026-10-30", installer=None, python=None)])
    assert f["pypistats_with"] == 1
    assert f["pypistats_without"] == 0
    assert f["honest"] == 0


def test_a_malformed_python_version_is_dropped_from_both_series(tmp_path: Path) -> None:
    events = [event(day="2026-10-30", python="10.1"), event(day="2026-10-30", python=""), event(day="2026-10-30")]
    f = figures(tmp_path, events)
    assert f["pypistats_with"] == 1
    assert f["pypistats_without"] == 1
    assert f["bigquery_30"] == 3  # BigQuery counts every row
    assert f["honest"] == 3  # a real pip install whatever its python string


def test_a_null_python_is_kept(tmp_path: Path) -> None:
    f = figures(tmp_path, [event(day="2026-10-30", python=None)])
    assert f["pypistats_with"] == f["pypistats_without"] == 1


def test_artifactory_is_a_pypistats_mirror_but_nexus_is_not(tmp_path: Path) -> None:
    events = [event(day="2026-10-30", installer="Artifactory"), event(day="2026-10-30", installer="Nexus")]
    f = figures(tmp_path, events)
    assert f["pypistats_with"] == 2
    assert f["pypistats_without"] == 1  # Nexus stays: pypistats.org counts it as a real download
    assert f["honest"] == 0  # for us both are proxies


def test_the_month_is_the_30_days_ending_on_the_as_of_date(tmp_path: Path) -> None:
    first_in, first_out = AS_OF - dt.timedelta(days=29), AS_OF - dt.timedelta(days=30)
    events = [event(day=first_in.isoformat()), event(day=first_out.isoformat()), event(day=AS_OF.isoformat())]
    f = figures(tmp_path, events)
    assert f["pypistats_month"] == 2
    assert f["pypistats_week"] == 1
    assert f["pypistats_day"] == 1


def test_retention_keeps_181_dates_including_the_cut_off_day(tmp_path: Path) -> None:
    kept, dropped = AS_OF - dt.timedelta(days=180), AS_OF - dt.timedelta(days=181)
    events = [event(day=kept.isoformat()), event(day=dropped.isoformat())]
    f = figures(tmp_path, events)
    # The naive script sums both series over the 181 retained dates: the kept pip row counts twice.
    assert f["naive_sum"] == 2
    assert f["bigquery_all"] == 2


def test_the_naive_script_counts_each_real_download_twice(tmp_path: Path) -> None:
    events = [event(day="2026-10-30"), event(day="2026-10-30", installer="bandersnatch", python=None)]
    f = figures(tmp_path, events)
    assert f["naive_sum"] == 3  # pip in both series, bandersnatch only in with-mirrors


def test_pypinfo_default_counts_pip_only(tmp_path: Path) -> None:
    events = [event(day="2026-10-30", installer=i) for i in ("pip", "uv", "poetry")]
    f = figures(tmp_path, events)
    assert f["pypinfo"] == 1
    assert f["honest"] == 3


def test_ci_flagged_installs_are_left_out_of_the_honest_number_only(tmp_path: Path) -> None:
    events = [event(day="2026-10-30", ci=True), event(day="2026-10-30", ci=None)]
    f = figures(tmp_path, events)
    assert f["honest"] == 1
    assert f["pypistats_without"] == 2
