"""The leaderboard's pages in a built site: top/, its CSV and JSON, the report page's rank, the index's rank.

The leaderboard is set on SiteData by a small fixture (the fetch is tested on its own): these tests
check what the pages make of whatever Leaderboard the build holds.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from htmltools import parse
from leaderboard_fixtures import builder, entry, generated, ranking, small

from generator import incremental, layout, publishing
from generator import site as site_pages
from generator.leaderboard import Leaderboard
from generator.pages import SiteData
from generator.sitewriter import SiteWriter


@pytest.fixture
def build_with(tmp_path: Path) -> Callable[[Leaderboard | None], Path]:
    return builder(tmp_path)


@pytest.fixture(scope="module")
def site_with_board(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: the tests below only read it."""
    return builder(tmp_path_factory.mktemp("leaderboard-site"))(small())


def test_top_pages_csv_and_json_are_written(site_with_board: Path) -> None:
    for rel in ("top/index.html", layout.LEADERBOARD_CSV, layout.LEADERBOARD_JSON):
        assert (site_with_board / rel).is_file(), rel


def test_the_csv_is_the_ranking(site_with_board: Path) -> None:
    text = (site_with_board / layout.LEADERBOARD_CSV).read_text(encoding="utf-8")
    records = list(csv.DictReader(io.StringIO(text)))
    assert [r["project"] for r in records] == [e.project for e in small().current.rows]


def test_the_top_page_names_what_it_ranks(site_with_board: Path) -> None:
    text = " ".join(parse((site_with_board / "top/index.html").read_text(encoding="utf-8")).text)
    assert "package-manager installs, CI included" in text


def top_rows(site: Path, page: str = "top/index.html") -> dict[str, list[str]]:
    table = parse((site / page).read_text(encoding="utf-8")).tables["top"]
    return {row[1].split(" ")[0]: row for row in table[1:]}


@pytest.mark.parametrize(
    ("project", "cells"),
    [
        ("acme", ["2", "800,000", "4 up 2", "810,000"]),
        ("requests", ["3", "700,000", "2 down 1", "2,000,000"]),
        ("boto3", ["1", "900,000", "1 same", "1,000,000"]),
    ],
)
def test_each_row_shows_both_ranks_and_the_difference_in_words(site_with_board: Path, project, cells) -> None:
    row = top_rows(site_with_board)[project]
    assert [row[0], row[2], row[3], row[4]] == cells


@pytest.mark.parametrize(
    ("project", "since"),
    [("acme", ["up 1", "new"]), ("boto3", ["same", "up 1"]), ("tiny-lib", ["new", "new"])],
)
def test_each_row_shows_its_rank_change_since_yesterday_and_last_week(site_with_board: Path, project, since) -> None:
    assert top_rows(site_with_board)[project][-2:] == since


def test_a_ranked_package_of_this_site_links_its_report_page(site_with_board: Path) -> None:
    links = parse((site_with_board / "top/index.html").read_text(encoding="utf-8")).links
    assert "../packages/acme/index.html" in links
    assert "https://pypi.org/project/boto3/" in links


def test_the_report_page_shows_its_leaderboard_rank(site_with_board: Path) -> None:
    html = (site_with_board / "packages/acme/index.html").read_text(encoding="utf-8")
    text = " ".join(" ".join(parse(html).text).split())
    assert "Rank 2 of the top 5 on the PyPI leaderboard" in text
    assert "../../top/index.html#p-acme" in parse(html).links


def test_a_report_page_outside_the_top_shows_no_rank(site_with_board: Path) -> None:
    html = (site_with_board / "packages/zeta/index.html").read_text(encoding="utf-8")
    assert "PyPI leaderboard" not in html


def test_the_index_shows_the_leaderboard_rank(site_with_board: Path) -> None:
    table = parse((site_with_board / "index.html").read_text(encoding="utf-8")).tables["packages"]
    rows = {row[0]: row for row in table[1:]}
    assert (rows["acme"][-1], rows["zeta"][-1]) == ("2", "not in the top 5")


def test_the_nav_links_the_leaderboard(site_with_board: Path) -> None:
    assert "top/index.html" in parse((site_with_board / "index.html").read_text(encoding="utf-8")).links


def test_the_sitemap_lists_the_top_pages() -> None:
    site = SiteData("t", "", "https://example.org/", dt.date(2026, 12, 5), "local", False, [])
    site.leaderboard = Leaderboard(current=generated(600), earlier={})
    paths = publishing.sitemap_paths(site)
    assert [p for p in paths if p.startswith("top/")] == ["top/", "top/page-2.html", "top/page-3.html"]


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        pytest.param(
            {"stale_note": "ClickPy holds days only to 2026-12-03."},
            "ClickPy holds days only to 2026-12-03.",
            id="a stale ranking says why",
        ),
        pytest.param({"synthetic": True}, "Synthetic leaderboard", id="a synthetic leaderboard is labelled"),
    ],
)
def test_the_top_page_says_what_is_unusual_about_its_ranking(build_with, changes: dict[str, object], said: str) -> None:
    board = dataclasses.replace(small(), **changes)
    text = (build_with(board) / "top/index.html").read_text(encoding="utf-8")
    assert said in text


def test_without_a_leaderboard_there_is_no_top_folder_and_no_nav_link(build_with) -> None:
    out = build_with(None)
    assert not (out / "top").exists()
    assert "top/index.html" not in parse((out / "index.html").read_text(encoding="utf-8")).links


def test_the_top_files_belong_to_the_leaderboard_unit() -> None:
    assert {incremental.unit_of(p) for p in ("top/index.html", "top/page-2.html", layout.LEADERBOARD_CSV)} == {
        site_pages.LEADERBOARD_UNIT
    }


def test_a_rebuild_with_another_ranking_renders_the_top_pages_again(build_with) -> None:
    build_with(small())
    changed = Leaderboard(current=ranking([entry(1, "acme", 5, 5, 1)]), earlier={})
    out = build_with(changed)
    assert (
        list(csv.DictReader(io.StringIO((out / layout.LEADERBOARD_CSV).read_text(encoding="utf-8"))))[0]["project"]
        == "acme"
    )
    text = " ".join(" ".join(parse((out / "packages/acme/index.html").read_text(encoding="utf-8")).text).split())
    assert "Rank 1 of the top 1" in text


# -- size: the pages stay light at N = 5,000 --------------------------------------------------------
def write_top(tmp_path: Path, board: Leaderboard) -> dict[str, int]:
    site = SiteData("t", "", "", dt.date(2026, 12, 5), "local", False, [])
    site.leaderboard = board
    writer = SiteWriter(tmp_path / "site")
    try:
        site_pages.write_leaderboard(site_pages.environment(), site, writer)
        return dict(writer.written)
    finally:
        writer.discard()


def test_every_top_page_stays_under_200_kb_for_5000_projects(tmp_path: Path) -> None:
    """Long names, every earlier ranking, an anomaly every 97 rows: the heaviest rows a page can have."""
    board = Leaderboard(
        current=generated(5000, name_length=40),
        earlier={
            1: generated(5000, name_length=40, as_of=dt.date(2026, 12, 4), shift=3),
            7: generated(5000, name_length=40, as_of=dt.date(2026, 11, 28), shift=50),
        },
    )
    sizes = write_top(tmp_path, board)
    html = {k: v for k, v in sizes.items() if k.endswith(".html")}
    assert len(html) == 20
    assert max(html.values()) <= 200_000, max(html.items(), key=lambda kv: kv[1])


def test_the_json_of_a_built_site_holds_the_window_and_source(site_with_board: Path) -> None:
    doc = json.loads((site_with_board / layout.LEADERBOARD_JSON).read_text(encoding="utf-8"))
    assert (doc["window"]["start"], doc["data_through"], doc["source"]) == (
        "2026-11-06",
        "2026-12-05",
        small().current.source,
    )


def test_the_methodology_states_the_rankings_window_and_data_through_date(site_with_board: Path) -> None:
    text = " ".join(" ".join(parse((site_with_board / "methodology.html").read_text(encoding="utf-8")).text).split())
    assert "ranks the top 5 projects over 2026-11-06 to 2026-12-05; its data runs through 2026-12-05" in text


def test_a_project_name_from_the_source_is_escaped(build_with) -> None:
    board = Leaderboard(current=ranking([entry(1, '<img src=x onerror="alert(1)">', 10, 10, 1)]), earlier={})
    html = (build_with(board) / "top/index.html").read_text(encoding="utf-8")
    assert "<img src=x" not in html
