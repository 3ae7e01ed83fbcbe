"""A number for a window covers the window or says how many of its days it covers.

The data ends on 2026-10-09 and the report is for 2026-10-31, as with a stale export in a daily cron:
the last 30 days hold 8 days of data. Every place that shows a 30-day figure must say "8 of 30 days
held", the badge must not say "/month", the feed must not report the missing days as a fall, the
build warns, and the page counts missing days one way everywhere.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import event, run_cli, write_events
from htmltools import parse

from generator import analysis, badges
from generator.dates import Window, WindowCoverage, last_days, window_coverage
from generator.store import AggRow

FIRST, LAST = dt.date(2026, 9, 10), dt.date(2026, 10, 9)
STALE_AS_OF = "2026-10-31"
ATOM = "{http://www.w3.org/2005/Atom}"


# -- the model ---------------------------------------------------------------------------------------
MONTH = last_days(dt.date(2026, 10, 31), 30)


@pytest.mark.parametrize(
    ("held", "qualified", "badge"),
    [
        (range(30), "809 installs", "809/month"),
        (range(8), "809 installs in the 8 of 30 days held", "809 in 8 of 30 days"),
        (range(29), "809 installs in the 29 of 30 days held", "809 in 29 of 30 days"),
        ((), "809 installs with none of the 30 days held", "no data"),
    ],
)
def test_a_window_figure_says_how_many_of_its_days_it_counts(held: range, qualified: str, badge: str) -> None:
    days = [MONTH.end - dt.timedelta(days=i) for i in held] + [dt.date(2020, 1, 1)]  # outside: not counted
    coverage = window_coverage(MONTH, days)
    assert coverage.qualify("809 installs") == qualified
    assert badges.message(809, False, coverage) == badge


def test_coverage_survives_json() -> None:
    coverage = WindowCoverage(Window(dt.date(2026, 10, 2), dt.date(2026, 10, 31)), 8)
    assert WindowCoverage.from_json(json.loads(json.dumps(coverage.to_json()))) == coverage


# -- the report's five windows, computed once in analysis ----------------------------------------------
# The store holds 40 days for this package, ending five days before the as-of date: a pip install and a
# mirror download each day. Each window counts only the days it holds, and says how many those are.
WINDOW_AS_OF = dt.date(2026, 10, 31)
HELD_DAYS = [WINDOW_AS_OF - dt.timedelta(days=i) for i in range(5, 45)]


@pytest.fixture(scope="module")
def windows() -> dict[str, analysis.ReportWindow]:
    rows = [AggRow(d, installer, False, False, "total", None, 1) for d in HELD_DAYS for installer in ("pip", "devpi")]
    report = analysis.analyse("acme", WINDOW_AS_OF, rows, [], [], set(HELD_DAYS), last_days(WINDOW_AS_OF, 180))
    return {w.key: w for w in report.windows}


@pytest.mark.parametrize(
    ("key", "label", "days", "held"),
    [
        ("day", "Last day", 1, 0),
        ("week", "7 days", 7, 2),
        ("month", "30 days", 30, 25),
        ("180 days", "180 days", 180, 40),
        ("all time", "All held", 45, 40),  # from the first day held (or the 30 days, if later) to the as-of date
    ],
)
def test_each_window_says_how_many_of_its_days_the_store_holds(
    windows: dict[str, analysis.ReportWindow], key: str, label: str, days: int, held: int
) -> None:
    window = windows[key]
    assert (window.label, window.days, window.held) == (label, days, held)


@pytest.mark.parametrize(("key", "held"), [("day", 0), ("week", 2), ("month", 25), ("180 days", 40), ("all time", 40)])
def test_a_window_counts_only_the_days_it_holds(windows: dict[str, analysis.ReportWindow], key: str, held: int) -> None:
    """One honest install a held day; the mirror's download is in all downloads, not in the honest number."""
    assert (windows[key].honest, windows[key].all) == (held, 2 * held)


def test_the_windows_come_in_the_order_the_page_and_the_json_list_them(
    windows: dict[str, analysis.ReportWindow],
) -> None:
    assert list(windows) == ["day", "week", "month", "180 days", "all time"]


# -- a site whose data stops before the as-of date ------------------------------------------------------
def days(first: dt.date, last: dt.date) -> list[str]:
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


@pytest.fixture(scope="module")
def stale(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Built for 2026-10-09 (a full month held), then for 2026-10-31 from the same, stale, data."""
    work = tmp_path_factory.mktemp("stale")
    events = write_events(
        work / "events",
        [event(d, time=f"10:00:{k:02d}") for d in days(FIRST, LAST) for k in range(10)]
        + [event(d, installer="bandersnatch") for d in days(FIRST, LAST)],
    )
    cfg = work / "stats.toml"
    cfg.write_text(
        '[site]\ntitle = "Stale"\nbase_url = "https://stats.example.test/"\n[packages]\nnames = ["acme"]\n'
        f'[source]\nkind = "local"\npath = "{events}"\nhistory_days = 40\n[store]\npath = "{work / "store.duckdb"}"\n',
        encoding="utf-8",
    )
    for as_of in (LAST.isoformat(), STALE_AS_OF):
        proc = run_cli("build", "--config", str(cfg), "--out", str(work / "site"), "--as-of", as_of)
        assert proc.returncode == 0, proc.stderr
    return work / "site", proc.stderr


def test_the_headline_says_how_many_days_it_counts(stale: tuple[Path, str]) -> None:
    site, _ = stale
    text = " ".join(" ".join(parse((site / "packages/acme/index.html").read_text()).text).split())
    assert "80 honest installs in the 8 of 30 days held" in text
    assert "honest installs in the last 30 days" not in text
    assert "Not a 30-day figure: the store holds 8 of the last 30 days (22 missing)" in text


def test_the_index_and_search_json_carry_the_days_held(stale: tuple[Path, str]) -> None:
    site, _ = stale
    table = parse((site / "index.html").read_text()).tables["packages"]
    assert table[1][:2] == ["acme", "80 in the 8 of 30 days held"]
    assert table[1][3] == "not enough history"  # no trend from a month that is not all held
    (entry,) = json.loads((site / "search.json").read_text())["packages"]
    assert (entry["honest_30_days"], entry["days_held_of_30"]) == (80, 8)


@pytest.mark.parametrize(
    ("badge", "message"),
    [("acme", "80 in 8 of 30 days"), ("with-mirrors/acme", "88 in 8 of 30 days")],
)
def test_the_badge_does_not_call_a_part_a_month(stale: tuple[Path, str], badge: str, message: str) -> None:
    site, _ = stale
    assert json.loads((site / f"badges/{badge}.json").read_text())["message"] == message
    assert f">{message}</text>" in (site / f"badges/{badge}.svg").read_text()


def test_the_api_says_which_periods_are_short(stale: tuple[Path, str]) -> None:
    site, _ = stale
    doc = json.loads((site / "api/packages/acme/recent").read_text())
    assert doc["data"] == {"last_day": 0, "last_month": 80, "last_week": 0}
    assert doc["days_held"] == {"last_day": 0, "last_month": 8, "last_week": 0}


def test_the_feed_does_not_report_missing_days_as_a_fall(stale: tuple[Path, str]) -> None:
    site, _ = stale
    root = ET.fromstring((site / "feed.xml").read_bytes())
    assert root.findall(f"{ATOM}entry") == []  # 300 → 80 would have been "down 73%"


def test_the_build_warns(stale: tuple[Path, str]) -> None:
    _, stderr = stale
    assert (
        "warning: 1 package(s) lack some of the last 30 days (to 2026-10-31) in the store: acme (8 of 30 days held);"
        in stderr
    )


def test_the_page_counts_missing_days_one_way(stale: tuple[Path, str]) -> None:
    """The matrix, the windows table and Data freshness give each window the same days held and missing."""
    site, _ = stale
    html = (site / "packages/acme/index.html").read_text()
    page = parse(html)
    freshness = html[html.index('id="freshness-h"') :]
    listed = {  # window length -> (held, missing), from Data freshness
        int(m["days"]): (int(m["held"]), int(m["missing"] or 0))
        for m in re.finditer(
            r"(?P<held>\d+) of (?P<days>\d+) days? held(?:, <span class=\"warn\">(?P<missing>\d+) missing)?", freshness
        )
    }
    assert listed[30] == (8, 22)
    # The windows table: days held of each window.
    for label, _honest, _all, held, days in page.tables["windows"][1:]:
        if int(days) in listed:
            assert int(held) == listed[int(days)][0], label
    # The matrix's foot: each source's days missing.
    foot = page.tables["matrix"][-1]
    flagged = {int(m) for cell in foot[1:] for m in re.findall(r"(\d+) days? missing", cell)}
    assert 22 in flagged
    assert flagged <= {missing for _, missing in listed.values()}
    assert "Missing days</dt><dd>none" not in html
    data = json.loads((site / "data/acme.json").read_text())
    assert {(w["days"], (w["held"], w["days"] - w["held"])) for w in data["days_held"]} >= set(listed.items())


def test_a_window_with_no_day_held_has_no_month_badge_and_no_recent_document(tmp_path: Path) -> None:
    events = write_events(tmp_path / "events", [event(d) for d in days(FIRST, LAST)])
    cfg = tmp_path / "stats.toml"
    cfg.write_text(
        f'[packages]\nnames = ["acme"]\n[source]\nkind = "local"\npath = "{events}"\n'
        f'[store]\npath = "{tmp_path / "store.duckdb"}"\n',
        encoding="utf-8",
    )
    proc = run_cli("build", "--config", str(cfg), "--out", str(tmp_path / "site"), "--as-of", "2026-11-30")
    assert proc.returncode == 0, proc.stderr
    site = tmp_path / "site"
    assert json.loads((site / "badges/acme.json").read_text())["message"] == "no data"
    assert not (site / "api/packages/acme/recent").exists()  # pypistats.org answers 404
    text = " ".join(" ".join(parse((site / "packages/acme/index.html").read_text()).text).split())
    assert "0 honest installs with none of the 30 days held" in text
