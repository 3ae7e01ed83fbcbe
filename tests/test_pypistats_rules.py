"""pypistats.org's counting rules, end to end: events → local source → store → analysis.

Each test builds a tiny event set where the expected figure is obvious by construction.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from conftest import event, write_events

from generator import analysis
from generator.dates import Window
from generator.plan import Job
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


def day(offset: int) -> str:
    """The date `offset` days before the as-of date."""
    return (AS_OF - dt.timedelta(days=offset)).isoformat()


# (why, the events, the figures they must give: emulated source → count)
CASES = [
    (
        "a null installer is in with mirrors but not in without mirrors",
        [event(day="2026-10-30", installer=None, python=None)],
        {"pypistats_with": 1, "pypistats_without": 0, "honest": 0},
    ),
    (
        "a malformed python version is dropped from both series",
        [event(day="2026-10-30", python="10.1"), event(day="2026-10-30", python=""), event(day="2026-10-30")],
        {
            "pypistats_with": 1,
            "pypistats_without": 1,
            "bigquery_30": 3,  # BigQuery counts every row
            "honest": 3,  # a real pip install whatever its python string
        },
    ),
    (
        "a null python is kept",
        [event(day="2026-10-30", python=None)],
        {"pypistats_with": 1, "pypistats_without": 1},
    ),
    (
        "artifactory is a pypistats mirror but nexus is not",
        [event(day="2026-10-30", installer="Artifactory"), event(day="2026-10-30", installer="Nexus")],
        {
            "pypistats_with": 2,
            "pypistats_without": 1,  # Nexus stays: pypistats.org counts it as a real download
            "honest": 0,  # for us both are proxies
        },
    ),
    (
        "the month is the 30 days ending on the as-of date",
        [event(day=day(29)), event(day=day(30)), event(day=day(0))],
        {"pypistats_month": 2, "pypistats_week": 1, "pypistats_day": 1},
    ),
    (
        # The naive script sums both series over the 181 retained dates: the kept pip row counts twice.
        "retention keeps 181 dates including the cut-off day",
        [event(day=day(180)), event(day=day(181))],
        {"naive_sum": 2, "bigquery_all": 2},
    ),
    (
        "the naive script counts each real download twice",
        [event(day="2026-10-30"), event(day="2026-10-30", installer="bandersnatch", python=None)],
        {"naive_sum": 3},  # pip in both series, bandersnatch only in with-mirrors
    ),
    (
        "pypinfo's default counts pip only",
        [event(day="2026-10-30", installer=i) for i in ("pip", "uv", "poetry")],
        {"pypinfo": 1, "honest": 3},
    ),
    (
        "CI-flagged installs are left out of the honest number only",
        [event(day="2026-10-30", ci=True), event(day="2026-10-30", ci=None)],
        {"honest": 1, "pypistats_without": 2},
    ),
]


@pytest.mark.parametrize(("why", "events", "expected"), CASES, ids=[case[0] for case in CASES])
def test_each_rule_gives_the_figure_it_must(
    tmp_path: Path, why: str, events: list[dict[str, Any]], expected: dict[str, int]
) -> None:
    f = figures(tmp_path, events)
    for key, count in expected.items():
        assert f[key] == count, f"{why}: {key}"
