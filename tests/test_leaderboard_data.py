"""The leaderboard's data: every project ClickPy holds, ranked exactly by package-manager installs.

The expected rankings are computed here, in plain Python over the very events the ClickPy fake is
filled with, from the definitions (issue 22): installs = downloads by a package manager, downloads =
every download, rank by installs then name, downloads_rank by downloads then name among all projects.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Sleeps, event, write_config, write_events

from generator import build, cli, leaderboard_fetch
from generator import config as config_mod
from generator.errors import ConfigError, SourceError
from generator.leaderboard import RankedProject, Ranking
from generator.leaderboard_rank import Candidate, Split, latest_complete_end, settled
from generator.sources.clickpy import ClickHouseHTTP, RetryPolicy
from generator.store import open_store
from tests.fakes.clickhouse_server import ClickPyData, FakeClickHouse

END = dt.date(2026, 10, 31)
TODAY = END + dt.timedelta(days=1)
FIRST = END - dt.timedelta(days=29)

# The definitions, written out again here rather than read from generator.categories.
PACKAGE_MANAGERS = {"pip", "uv", "poetry", "pdm", "conda", "pex", "setuptools", "distribute"}
MIRRORS = {"bandersnatch", "devpi", "z3c.pypimirror", "Artifactory", "Nexus", "pep381client"}

# Per project, (installer, downloads a day, on which days of the window: None is every day).
TRAFFIC: dict[str, list[tuple[str | None, int, tuple[int, ...] | None]]] = {
    "alpha": [("pip", 10, None)],  # installs 300
    "bravo": [("pip", 9, None), ("bandersnatch", 20, None)],  # installs 270, downloads 870
    "charlie": [("uv", 9, None)],  # installs 270: a tie with bravo, which comes first by name
    "delta": [("requests", 30, None), ("pip", 1, None)],  # the most downloads, 30 installs
    "echo": [(None, 25, None), ("pip", 2, None)],  # unknown installer
    "foxtrot": [("pip", 8, None)],
    "golf": [("poetry", 5, None), ("mystery-bot", 1, None)],  # an unclassified client counts as scripts
    "hotel": [("pip", 95, (3, 17, 18))],  # a pip loop: all of its installs on three days
    "boto3": [("pip", 1, None)],  # ClickPy's probe project: downloaded every day; ties delta's 30 installs
}


def traffic_events(first: dt.date = FIRST, days: int = 30, before: int = 2) -> list[dict[str, Any]]:
    """TRAFFIC over `days` days from `first`, and a little of it on `before` days before (outside the window)."""
    out = []
    for offset in range(-before, days):
        day = (first + dt.timedelta(days=offset)).isoformat()
        for project, lines in TRAFFIC.items():
            for installer, per_day, on in lines:
                if on is not None and offset not in on:
                    continue
                count = per_day if offset >= 0 else 1
                out += [event(day=day, project=project, installer=installer) for _ in range(count)]
    return out


def expected_ranking(events: list[dict[str, Any]], as_of: dt.date, top: int) -> list[RankedProject]:
    """The definitions, applied to the events one by one."""
    first = as_of - dt.timedelta(days=29)
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    daily: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for e in events:
        day = dt.date.fromisoformat(e["timestamp"][:10])
        if not first <= day <= as_of:
            continue
        installer = (e["details"]["installer"] or {}).get("name")
        kind = (
            "installs"
            if installer in PACKAGE_MANAGERS
            else "mirrors"
            if installer in MIRRORS
            else "unknown"
            if not installer
            else "scripts"
        )
        counts[e["project"]][kind] += 1
        counts[e["project"]]["downloads"] += 1
        if kind == "installs":
            daily[e["project"]][day.isoformat()] += 1
    by_downloads = sorted(counts, key=lambda p: (-counts[p]["downloads"], p))
    by_installs = sorted((p for p in counts if counts[p]["installs"]), key=lambda p: (-counts[p]["installs"], p))
    return [
        RankedProject(
            rank=i,
            project=p,
            installs=counts[p]["installs"],
            downloads=counts[p]["downloads"],
            downloads_rank=by_downloads.index(p) + 1,
            mirrors=counts[p]["mirrors"],
            scripts=counts[p]["scripts"],
            unknown=counts[p]["unknown"],
            peak_days=sum(sorted(daily[p].values(), reverse=True)[:3]),
        )
        for i, p in enumerate(by_installs[:top], start=1)
    ]


EVENTS = traffic_events()


@pytest.fixture(scope="module")
def clickpy_data() -> Iterator[ClickPyData]:
    with ClickPyData(EVENTS) as data:
        yield data


@pytest.fixture
def fake(clickpy_data: ClickPyData) -> Iterator[FakeClickHouse]:
    with FakeClickHouse(clickpy_data) as server:
        yield server


@pytest.fixture
def http(fake: FakeClickHouse, sleeps: Sleeps) -> ClickHouseHTTP:
    return ClickHouseHTTP(fake.url, retry=RetryPolicy(sleep=sleeps, jitter=lambda: 1.0, max_attempts=3))


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch: pytest.MonkeyPatch, sleeps: Sleeps) -> None:
    monkeypatch.setattr(leaderboard_fetch, "RETRY", RetryPolicy(sleep=sleeps, jitter=lambda: 1.0, max_attempts=3))


def candidates_sent(fake: FakeClickHouse) -> list[tuple[str, str]]:
    return [
        (r.params["offset"], r.params["limit"])
        for r in fake.received
        if "pypi_downloads_per_day" in r.tables and "limit" in r.params
    ]


# -- the ranking against ClickPy's tables ---------------------------------------------------------------
@pytest.mark.parametrize("top", [25, 9, 5, 3, 1])
def test_the_ranking_is_the_definitions_applied_to_the_events(http: ClickHouseHTTP, top: int) -> None:
    """Ties by name (bravo before charlie at 270, boto3 before delta at 30); 9 projects ranked when N = 25."""
    ranking, _proof, _asked = leaderboard_fetch.fetch_ranking(http, END, top, source="test")
    assert list(ranking.rows) == expected_ranking(EVENTS, END, top)


def test_fewer_projects_than_n_gives_every_project_with_installs(http: ClickHouseHTTP) -> None:
    ranking, proof, _ = leaderboard_fetch.fetch_ranking(http, END, 25, source="test")
    assert len(ranking.rows) == len(TRAFFIC)
    assert ranking.top == 25
    assert proof.settled
    assert "every project ClickPy holds" in proof.reason


def test_the_window_is_the_30_utc_days_ending_on_the_as_of_date(http: ClickHouseHTTP) -> None:
    earlier = END - dt.timedelta(days=1)
    ranking, _, _ = leaderboard_fetch.fetch_ranking(http, earlier, 25, source="test")
    assert (ranking.window_start, ranking.as_of, ranking.data_through) == (
        earlier - dt.timedelta(days=29),
        earlier,
        earlier,
    )
    assert list(ranking.rows) == expected_ranking(EVENTS, earlier, 25)


def test_widening_when_the_first_candidates_cannot_prove_the_top(fake: FakeClickHouse, http: ClickHouseHTTP) -> None:
    """M = N = 5: delta, bravo, echo, alpha, hotel by downloads; hotel's 285 downloads are not below the 5th
    installs among them (delta's 30), so charlie and foxtrot (downloads ranks 6 and 7) could enter, and do."""
    ranking, proof, asked = leaderboard_fetch.fetch_ranking(http, END, 5, source="test", first_candidates=5)
    assert list(ranking.rows) == expected_ranking(EVENTS, END, 5)
    assert {r.project for r in ranking.rows} >= {"charlie", "foxtrot"}
    assert candidates_sent(fake) == [("0", "5"), ("5", "5")]
    assert asked == 9
    assert proof.settled


def test_the_proof_settles_without_asking_for_every_project(fake: FakeClickHouse, http: ClickHouseHTTP) -> None:
    """N = 2, M = 4, then 8: golf's 180 downloads (the 8th) are below hotel's 285 installs (the 2nd): boto3,
    outside, cannot enter."""
    ranking, proof, asked = leaderboard_fetch.fetch_ranking(http, END, 2, source="test", first_candidates=4)
    assert [r.project for r in ranking.rows] == ["alpha", "hotel"]
    assert asked == 8
    assert proof.settled
    assert (proof.last_downloads, proof.nth_installs) == (180, 285)
    assert candidates_sent(fake) == [("0", "4"), ("4", "4")]


def test_each_query_is_sent_once_with_every_value_bound(fake: FakeClickHouse, http: ClickHouseHTTP) -> None:
    leaderboard_fetch.fetch_ranking(http, END, 25, source="test")
    bodies = [r.sql for r in fake.received]
    assert len(bodies) == len(set(zip(bodies, [tuple(sorted(r.params.items())) for r in fake.received], strict=True)))
    assert len(fake.received) == 2  # the candidates and one batch of names
    for received in fake.received:
        assert "alpha" not in received.sql
        assert END.isoformat() not in received.sql


@pytest.mark.parametrize(
    ("candidates", "installs", "top", "total", "settles"),
    [
        # d_M < i_N: settled; d_M = i_N: not (an outside project with a smaller name could tie and win)
        ([100, 90, 50], [95, 80, 40], 2, 10, True),
        ([100, 90, 80], [95, 80, 40], 2, 10, False),
        # fewer than N with installs, projects outside: not settled; every project a candidate: settled
        ([100, 90], [0, 80], 2, 10, False),
        ([100, 90], [0, 80], 2, 2, True),
        ([], [], 3, 0, True),
    ],
)
def test_the_proof(candidates: list[int], installs: list[int], top: int, total: int, settles: bool) -> None:
    cands = [Candidate(f"p{i}", d, i + 1) for i, d in enumerate(candidates)]
    splits = {c.project: Split(c.project, c.downloads, n, 0, 0, 0) for c, n in zip(cands, installs, strict=True)}
    assert settled(cands, splits, top, total).settled is settles


def held_days(until: dt.date, missing: int | None = None) -> set[dt.date]:
    """40 days held up to `until`, less the day `missing` days before it."""
    return {until - dt.timedelta(days=i) for i in range(40) if i != missing}


@pytest.mark.parametrize(
    ("held", "lookback", "expected"),
    [
        pytest.param(held_days(END), leaderboard_fetch.LOOKBACK_DAYS, END, id="held to the as-of date"),
        pytest.param(
            held_days(END - dt.timedelta(days=1)),
            leaderboard_fetch.LOOKBACK_DAYS,
            END - dt.timedelta(days=1),
            id="held to the day before",
        ),
        pytest.param(
            held_days(END - dt.timedelta(days=9)), leaderboard_fetch.LOOKBACK_DAYS, None, id="beyond the lookback"
        ),
        pytest.param(held_days(END, missing=3), 2, None, id="a gap in the window makes it incomplete"),
    ],
)
def test_the_last_complete_window(held: set[dt.date], lookback: int, expected: dt.date | None) -> None:
    assert latest_complete_end(held, END, lookback) == expected


# -- silent cuts and errors ---------------------------------------------------------------------------
def test_a_result_cut_by_max_result_rows_is_detected(clickpy_data: ClickPyData, sleeps: Sleeps) -> None:
    """ClickHouse's max_result_rows with result_overflow_mode = 'break' stops after the block that crosses the
    limit, with no error: fewer rows than asked although more exist must not read as "no more projects"."""
    profile = {"max_result_rows": "3", "result_overflow_mode": "break", "max_block_size": "2"}
    with FakeClickHouse(clickpy_data, profile=profile) as limited:
        http = ClickHouseHTTP(limited.url, retry=RetryPolicy(sleep=sleeps, max_attempts=1))
        with pytest.raises(SourceError, match="candidates query was cut short") as info:
            leaderboard_fetch.fetch_ranking(http, END, 25, source="test")
    assert "where its ranking of 9 projects holds 9 from 1" in str(info.value)
    assert "\n" not in str(info.value)


def test_the_batches_keep_each_url_short() -> None:
    names = [f"project-{i:05d}" for i in range(2000)]
    batches = leaderboard_fetch.batches(names)
    assert [n for b in batches for n in b] == names
    assert len(batches) > 1
    from urllib.parse import urlencode

    from generator.sources.clickpy import format_param

    assert (
        max(len(urlencode({"param_projects": format_param(b)})) for b in batches)
        <= leaderboard_fetch.BATCH_PARAM_BYTES + 20
    )


# -- the build step, the store, the export --------------------------------------------------------------
def lb_config(tmp_path: Path, url: str, top: int = 25, as_of: dt.date = END) -> config_mod.Config:
    events = write_events(tmp_path / "events", [e for e in EVENTS if e["project"] == "alpha"])
    extra = f'[leaderboard]\ntop = {top}\nclickpy_url = "{url}"\n'
    return config_mod.load(write_config(tmp_path / "stats.toml", events, ["alpha"], as_of.isoformat(), extra=extra))


def run_step(cfg: config_mod.Config, as_of: dt.date = END) -> leaderboard_fetch.Outcome:
    with open_store(cfg.store.path) as store:
        return leaderboard_fetch.update(cfg, store, "local", as_of, synthetic=False, today=TODAY)


def shown(cfg: config_mod.Config, as_of: dt.date = END, note: str | None = "") -> Any:
    with open_store(cfg.store.path) as store:
        return leaderboard_fetch.leaderboard(store, as_of, cfg.leaderboard.top, note)


def test_a_build_keeps_the_ranking_and_does_not_ask_again(fake: FakeClickHouse, tmp_path: Path) -> None:
    cfg = lb_config(tmp_path, fake.url)
    assert cli.main(["build", "--config", str(cfg.path), "--out", str(tmp_path / "site")]) == 0
    board = shown(cfg)
    assert list(board.current.rows) == expected_ranking(EVENTS, END, 25)
    assert board.stale_note is None
    assert board.synthetic is False
    assert board.current.source == f"ClickPy ({fake.url})"
    asked = len(fake.received)
    assert asked == 3  # coverage, candidates, one batch
    assert cli.main(["build", "--config", str(cfg.path), "--out", str(tmp_path / "site")]) == 0
    assert len(fake.received) == asked  # the store keeps the day's ranking: nothing sent again


def published_rows(site: Path) -> list[dict[str, str]]:
    with (site / "top" / "leaderboard.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_published_csv_is_the_definitions_applied_to_the_events(fake: FakeClickHouse, tmp_path: Path) -> None:
    """The site's top/leaderboard.csv, built against the ClickPy fake, against a ranking computed from the events."""
    cfg = lb_config(tmp_path, fake.url)
    assert cli.main(["build", "--config", str(cfg.path), "--out", str(tmp_path / "site")]) == 0
    columns = ("rank", "project", "installs", "downloads", "downloads_rank", "rank_change")
    published = [tuple(row[c] for c in columns) for row in published_rows(tmp_path / "site")]
    expected = [
        (str(r.rank), r.project, str(r.installs), str(r.downloads), str(r.downloads_rank), str(r.rank_change))
        for r in expected_ranking(EVENTS, END, 25)
    ]
    assert published == expected


def test_the_published_rank_changes_appear_once_yesterday_is_stored(fake: FakeClickHouse, tmp_path: Path) -> None:
    cfg = lb_config(tmp_path, fake.url)
    yesterday = END - dt.timedelta(days=1)
    site = tmp_path / "site"
    assert cli.main(["build", "--config", str(cfg.path), "--out", str(site), "--as-of", str(yesterday)]) == 0
    assert {row["rank_1_day_ago"] for row in published_rows(site)} == {""}
    assert cli.main(["build", "--config", str(cfg.path), "--out", str(site), "--as-of", str(END)]) == 0
    before = {r.project: r.rank for r in expected_ranking(EVENTS, yesterday, 25)}
    assert {row["project"]: row["rank_1_day_ago"] for row in published_rows(site)} == {
        r.project: str(before.get(r.project, "")) for r in expected_ranking(EVENTS, END, 25)
    }
    assert "Since yesterday" in (site / "top" / "index.html").read_text(encoding="utf-8")


def test_rank_changes_appear_once_two_days_are_stored(fake: FakeClickHouse, tmp_path: Path) -> None:
    cfg = lb_config(tmp_path, fake.url)
    yesterday = END - dt.timedelta(days=1)
    run_step(cfg, yesterday)
    assert shown(cfg, yesterday).earlier == {}
    run_step(cfg, END)
    board = shown(cfg)
    assert set(board.earlier) == {1}
    assert board.earlier[1].as_of == yesterday
    assert list(board.earlier[1].rows) == expected_ranking(EVENTS, yesterday, 25)


def test_rankings_survive_the_data_export(fake: FakeClickHouse, tmp_path: Path) -> None:
    cfg = lb_config(tmp_path, fake.url)
    run_step(cfg, END - dt.timedelta(days=1))
    run_step(cfg, END)
    with open_store(cfg.store.path) as store:
        tables = store.export_parquet(tmp_path / "export")
        before = [store.ranking(d) for d in store.ranking_days()]
    assert {"leaderboard_rankings", "leaderboard_rows"} <= set(tables)
    with open_store(tmp_path / "new-runner" / "store.duckdb") as fresh:
        fresh.load_export(tmp_path / "export")
        fresh.load_export(tmp_path / "export")  # twice: the day's ranking is replaced, not doubled
        assert [fresh.ranking(d) for d in fresh.ranking_days()] == before


def test_a_stall_keeps_the_last_complete_ranking_and_says_why(tmp_path: Path) -> None:
    """ClickPy stopped loading after END - 1: the as-of day's window is partial, so it is not ranked; the
    last complete window is ranked once (a first build still has something to show), and labelled."""
    yesterday = END - dt.timedelta(days=1)
    with ClickPyData(EVENTS, last_day=yesterday) as stalled, FakeClickHouse(stalled) as fake:
        cfg = lb_config(tmp_path, fake.url)
        outcome = run_step(cfg)
        assert outcome.ranked is not None
        assert outcome.ranked.as_of == yesterday
        assert f"through {yesterday}" in outcome.note
        board = shown(cfg, note=outcome.note)
        assert board.current.as_of == yesterday
        assert list(board.current.rows) == expected_ranking(EVENTS, yesterday, 25)
        assert f"30 days ending {yesterday}" in board.stale_note
        assert "never ranked" in board.stale_note
        sent = len(fake.received)
        run_step(cfg)  # the next build during the stall: only the coverage probe
        assert len(fake.received) == sent + 1


def test_a_quota_error_keeps_the_last_ranking_with_one_warning(
    fake: FakeClickHouse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = lb_config(tmp_path, fake.url)
    run_step(cfg, END - dt.timedelta(days=1))
    fake.fail_next(201)
    caplog.set_level(logging.WARNING)
    outcome = run_step(cfg)
    assert outcome.ranked is None
    assert "quota" in outcome.note.lower()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "\n" not in warnings[0].getMessage()
    assert "2026-11-01 13:00:00" in warnings[0].getMessage()
    board = shown(cfg, note=outcome.note)
    assert board.current.as_of == END - dt.timedelta(days=1)
    assert "quota" in board.stale_note.lower()


def test_an_unreachable_clickpy_is_one_warning_and_the_build_exits_0(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = lb_config(tmp_path, "http://127.0.0.1:9")
    caplog.set_level(logging.WARNING)
    assert cli.main(["build", "--config", str(cfg.path), "--out", str(tmp_path / "site")]) == 0
    said = [r.getMessage() for r in caplog.records if r.name == leaderboard_fetch.__name__]
    assert len(said) == 1
    assert "cannot reach http://127.0.0.1:9" in said[0]
    assert "\n" not in said[0]
    assert shown(cfg) is None  # nothing kept yet: no leaderboard


def test_no_fetch_shows_the_kept_ranking_and_says_it_did_not_ask(fake: FakeClickHouse, tmp_path: Path) -> None:
    cfg = lb_config(tmp_path, fake.url)
    run_step(cfg, END - dt.timedelta(days=1))
    board = shown(cfg, note=None)
    assert "did not ask ClickPy" in board.stale_note


def test_a_lower_top_shows_the_prefix_of_the_kept_ranking(fake: FakeClickHouse, tmp_path: Path) -> None:
    cfg = lb_config(tmp_path, fake.url)
    run_step(cfg)
    with open_store(cfg.store.path) as store:
        board = leaderboard_fetch.leaderboard(store, END, 3)
    assert board is not None
    assert list(board.current.rows) == expected_ranking(EVENTS, END, 3)


# -- the demo: synthetic, from its own store --------------------------------------------------------------
def test_synthetic_data_is_ranked_from_the_store_and_asks_clickpy_nothing(fake: FakeClickHouse, tmp_path: Path) -> None:
    events = traffic_events()
    events_dir = write_events(tmp_path / "events", events)
    path = write_config(tmp_path / "stats.toml", events_dir, list(TRAFFIC), END.isoformat())
    build.build(config_mod.load(path), as_of=END, out_dir=tmp_path / "site")  # the store holds every project
    path.write_text(path.read_text() + f'[leaderboard]\ntop = 4\nclickpy_url = "{fake.url}"\n')
    cfg = config_mod.load(path)
    with open_store(cfg.store.path) as store:
        leaderboard_fetch.update(cfg, store, "local", END, synthetic=True, today=TODAY)
        board = leaderboard_fetch.leaderboard(store, END, 4)
    assert fake.received == []
    assert board is not None
    assert board.synthetic
    assert board.stale_note is None
    assert list(board.current.rows) == expected_ranking(events, END, 4)


# -- config ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("top = -1", "[leaderboard].top must be between 0 (no leaderboard) and 20,000, got -1"),
        ("top = 50000", "[leaderboard].top must be between 0 (no leaderboard) and 20,000, got 50000"),
        ('top = "25"', "[leaderboard].top must be a int, got '25'"),
        ('clickpy_url = "ftp://x"', "[leaderboard].clickpy_url must be an absolute http(s) URL, got 'ftp://x'"),
        ("size = 3", "unknown key [leaderboard].size (allowed: top, clickpy_url)"),
    ],
)
def test_config_errors_are_one_line(tmp_path: Path, section: str, message: str) -> None:
    path = write_config(
        tmp_path / "stats.toml", tmp_path, ["alpha"], END.isoformat(), extra=f"[leaderboard]\n{section}\n"
    )
    with pytest.raises(ConfigError) as info:
        config_mod.load(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("kind", "endpoint", "configured", "expected"),
    [
        ("clickpy", "http://mirror.example", "", "http://mirror.example"),
        ("local", "", "", "ENV"),
        ("clickpy", "http://mirror.example", "http://other.example", "http://other.example"),
    ],
)
def test_the_endpoint(kind: str, endpoint: str, configured: str, expected: str, tmp_path: Path) -> None:
    from generator.sources.clickpy import service_url

    cfg = config_mod.Config(
        path=tmp_path / "stats.toml",
        packages=("alpha",),
        source=config_mod.SourceConfig(kind=kind, path=tmp_path, api_endpoint=endpoint),
        leaderboard=config_mod.LeaderboardConfig(top=5, clickpy_url=configured),
    )
    assert leaderboard_fetch.service_url(cfg) == (service_url() if expected == "ENV" else expected)


def test_no_section_means_no_leaderboard(tmp_path: Path) -> None:
    cfg = config_mod.load(write_config(tmp_path / "stats.toml", tmp_path, ["alpha"], END.isoformat()))
    assert cfg.leaderboard.top == 0
    assert not cfg.leaderboard.enabled


def test_rankings_are_stored_compactly(tmp_path: Path) -> None:
    row = RankedProject(1, "alpha", 300, 300, 4, 0, 0, 0, 30)
    ranking = Ranking(END, FIRST, END, "test", 25, (row,))
    with open_store(tmp_path / "store.duckdb") as store:
        store.record_ranking(ranking)
        store.record_ranking(ranking)
        assert store.ranking(END) == ranking
        assert store.ranking_days() == [END]
        assert store.latest_ranking(END + dt.timedelta(days=3)) == ranking
        assert store.latest_ranking(END - dt.timedelta(days=1)) is None


def test_a_new_ranking_drops_those_older_than_the_kept_days_and_keeps_the_ones_compared(tmp_path: Path) -> None:
    """The rank changes read 1 and 7 days back: those stay; a ranking of KEPT_DAYS + 1 days before goes."""
    row = RankedProject(1, "alpha", 300, 300, 4, 0, 0, 0, 30)
    days = [END - dt.timedelta(days=n) for n in (leaderboard_fetch.KEPT_DAYS + 1, leaderboard_fetch.KEPT_DAYS, 7, 1)]
    with open_store(tmp_path / "store.duckdb") as store:
        for day in days:
            store.record_ranking(Ranking(day, day - dt.timedelta(days=29), day, "test", 25, (row,)))
        newest = Ranking(END, FIRST, END, "test", 25, (row,))
        store.record_ranking(newest, keep_from=leaderboard_fetch.kept_from(newest))
        assert store.ranking_days() == [*days[1:], END]
        assert store.ranking(days[0]) is None


# -- plan and init ----------------------------------------------------------------------------------------------
def test_plan_says_what_the_leaderboard_sends_and_stops_once_it_is_kept(
    fake: FakeClickHouse, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = lb_config(tmp_path, fake.url, top=5000)
    assert cli.main(["plan", "--config", str(cfg.path)]) == 0
    said = capsys.readouterr().out
    assert (
        f"ClickPy ({fake.url}), for the leaderboard of the top 5,000 projects of all PyPI over {FIRST} to {END}" in said
    )
    assert "the top 10,000 come back" in said
    assert "about 30 queries splitting" in said
    assert fake.received == []  # plan sends nothing
    run_step(lb_config(tmp_path, fake.url, top=5000))
    assert cli.main(["plan", "--config", str(cfg.path)]) == 0
    assert "is kept in the store: ClickPy is not asked" in capsys.readouterr().out


def test_init_adds_the_section(tmp_path: Path) -> None:
    assert cli.main(["init", str(tmp_path / "new"), "--packages", "requests", "--leaderboard", "500"]) == 0
    assert config_mod.load(tmp_path / "new" / "stats.toml").leaderboard.top == 500
    assert cli.main(["init", str(tmp_path / "plain"), "--packages", "requests"]) == 0
    assert "[leaderboard]" not in (tmp_path / "plain" / "stats.toml").read_text()
