"""The leaderboard's page figures (generator.leaderboard_view): words, widths, movements, side lists, downloads."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from leaderboard_fixtures import AS_OF, entry, generated, ranking, small

from generator import categories
from generator import leaderboard_view as view
from generator.leaderboard import Leaderboard


@pytest.mark.parametrize(
    ("counts", "widths"),
    [
        ([1, 1, 2], (25, 25, 50)),
        ([0, 0, 0], (0, 0, 0)),
        ([1, 0, 0], (100, 0, 0)),
        ([1, 1, 1], (34, 33, 33)),
        ([1, 1000, 0], (1, 99, 0)),
        ([1, 1, 100_000], (1, 1, 98)),
    ],
)
def test_a_stacked_bar_fills_exactly_100_percent_and_shows_every_part(counts, widths) -> None:
    assert view.stack_widths(counts) == widths


@pytest.mark.parametrize(
    ("change", "words", "css"),
    [(312, "up 312", "up"), (-12, "down 12", "down"), (0, "same", "same"), (1500, "up 1,500", "up")],
)
def test_a_rank_difference_is_said_in_words(change, words, css) -> None:
    assert (view.difference_words(change), view.direction(change)) == (words, css)


def rows_by_project(lb: Leaderboard, on_site: frozenset[str] = frozenset()) -> dict[str, view.Row]:
    return {r.entry.project: r for r in view.rows(lb, on_site)}


@pytest.mark.parametrize(
    ("project", "yesterday", "week"),
    [
        ("boto3", 1, 2),  # same place as yesterday, up 1 on the week
        ("acme", 3, None),  # up 1 on yesterday, not in the top then
        ("requests", 2, 1),
        ("tiny-lib", None, None),
    ],
)
def test_each_row_carries_its_rank_then(project, yesterday, week) -> None:
    row = rows_by_project(small())[project]
    assert [m.before for m in row.movements] == [yesterday, week]


def test_a_movement_counts_places_gained() -> None:
    row = rows_by_project(small())["acme"]
    assert [(m.since, m.change(row.entry.rank), m.new) for m in row.movements] == [
        ("yesterday", 1, False),
        ("7 days ago", 0, True),
    ]


def test_without_earlier_rankings_a_row_has_no_movements() -> None:
    lb = Leaderboard(current=small().current, earlier={})
    assert [r.movements for r in view.rows(lb) if r.movements != ()] == []


def test_the_rest_is_split_into_mirrors_scripts_and_unknown() -> None:
    row = rows_by_project(small())["requests"]
    assert [(s.key, s.count, s.width) for s in row.segments] == [
        (categories.MIRROR, 300_000, 23),
        (categories.SCRIPT, 900_000, 69),
        (categories.UNKNOWN, 100_000, 8),
    ]


def test_a_project_on_this_site_links_its_report_page_else_pypi() -> None:
    rows = rows_by_project(small(), view.site_projects(["Tiny_Lib"]))
    assert (rows["tiny-lib"].href, rows["boto3"].href) == (
        "../packages/tiny-lib/index.html",
        "https://pypi.org/project/boto3/",
    )


@pytest.mark.parametrize(("peak", "anomaly"), [(500_000, False), (500_001, True), (100_000, False)])
def test_an_anomaly_has_most_of_its_installs_on_three_days(peak, anomaly) -> None:
    lb = Leaderboard(current=ranking([entry(1, "x", 1_000_000, 1_000_000, 1, peak_days=peak)]), earlier={})
    assert view.rows(lb)[0].anomaly is anomaly


def test_side_lists() -> None:
    lists = view.side_lists(view.rows(small()))
    assert [r.entry.project for r in lists.risers] == ["acme"]
    assert [r.entry.project for r in lists.fallers] == ["requests", "numpy"]
    assert ([r.entry.project for r in lists.new], lists.new_since) == (["tiny-lib"], "yesterday")
    assert [r.entry.project for r in lists.anomalies] == ["acme"]


@pytest.mark.parametrize(("n", "count", "last"), [(0, 1, 0), (5, 1, 5), (250, 1, 250), (251, 2, 251), (5000, 20, 5000)])
def test_long_lists_are_split_into_pages(n, count, last) -> None:
    lb = Leaderboard(current=generated(n), earlier={})
    pages = view.pages(view.rows(lb))
    assert (len(pages), pages[-1].last) == (count, last)


def test_a_report_page_finds_its_own_rank_and_row() -> None:
    lb = Leaderboard(current=generated(600), earlier={})
    place = view.rank_of(lb, "Project_00300")
    assert place is not None
    assert (place.rank, place.top, place.page) == (301, 600, "top/page-2.html#p-project-00300")


@pytest.mark.parametrize(
    ("board", "project"),
    [
        pytest.param(small, "not-ranked", id="a package outside the top"),
        pytest.param(lambda: None, "boto3", id="no leaderboard"),
    ],
)
def test_a_package_outside_the_top_has_no_rank(board: Callable[[], Leaderboard | None], project: str) -> None:
    assert view.rank_of(board(), project) is None


def test_site_packages_show_the_report_pages_number_beside_the_leaderboards() -> None:
    rows = view.rows(small(), view.site_projects(["acme"]))
    [acme] = view.site_packages(rows, {"acme": (760_000, True)})
    assert (acme.rank, acme.installs, acme.page_number, acme.difference) == (2, 800_000, 760_000, 40_000)


# -- downloads -----------------------------------------------------------------------------------------
def test_the_csv_header_starts_with_the_contracts_columns() -> None:
    text = view.leaderboard_csv(small())
    assert text.splitlines()[0].startswith("rank,project,installs,downloads,downloads_rank,rank_change")


def test_the_csv_has_one_row_per_ranked_project_in_rank_order() -> None:
    records = list(csv.DictReader(io.StringIO(view.leaderboard_csv(small()))))
    assert [(r["rank"], r["project"], r["rank_change"]) for r in records] == [
        ("1", "boto3", "0"),
        ("2", "acme", "2"),
        ("3", "requests", "-1"),
        ("4", "numpy", "-1"),
        ("5", "tiny-lib", "0"),
    ]


def test_the_csv_leaves_a_rank_then_empty_when_it_was_not_ranked() -> None:
    records = {r["project"]: r for r in csv.DictReader(io.StringIO(view.leaderboard_csv(small())))}
    assert (records["acme"]["rank_1_day_ago"], records["acme"]["rank_7_days_ago"]) == ("3", "")


def test_a_name_that_starts_a_formula_is_neutralised_in_the_csv() -> None:
    lb = Leaderboard(current=ranking([entry(1, "=cmd", 10, 10, 1)]), earlier={})
    assert list(csv.reader(io.StringIO(view.leaderboard_csv(lb))))[1][1] == "'=cmd"


def test_the_json_holds_the_same_rows_and_the_window() -> None:
    lb = small()
    doc = json.loads(view.leaderboard_json(lb))
    records = list(csv.DictReader(io.StringIO(view.leaderboard_csv(lb))))
    assert [str(r["installs"]) for r in doc["rows"]] == [r["installs"] for r in records]
    assert doc["window"] == {"start": "2026-11-06", "end": AS_OF.isoformat(), "days": 30}
    assert (doc["data_through"], doc["source"]) == (AS_OF.isoformat(), lb.current.source)
    assert doc["earlier"] == {"1_days_ago": "2026-12-04", "7_days_ago": "2026-11-28"}


def test_the_methodology_names_every_excluded_installer_from_the_categories() -> None:
    text = view.exclusions_markdown()
    excluded = [i.name for i in categories.INSTALLERS if i.category != categories.PACKAGE_MANAGER]
    assert [name for name in excluded if f"`{name}`" not in text] == []
