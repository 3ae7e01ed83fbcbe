"""Leaderboards built by hand for the page tests: the pages render whatever Leaderboard they are given."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import event, write_config, write_events

from generator import build, config
from generator.leaderboard import Leaderboard, RankedProject, Ranking

AS_OF = dt.date(2026, 12, 5)


def entry(
    rank: int,
    project: str,
    installs: int,
    downloads: int,
    downloads_rank: int,
    *,
    mirrors: int | None = None,
    scripts: int = 0,
    unknown: int = 0,
    peak_days: int | None = None,
) -> RankedProject:
    """A ranked project; the rest of its downloads are mirrors unless split otherwise."""
    rest = downloads - installs
    if mirrors is None:
        mirrors = rest - scripts - unknown
    return RankedProject(
        rank=rank,
        project=project,
        installs=installs,
        downloads=downloads,
        downloads_rank=downloads_rank,
        mirrors=mirrors,
        scripts=scripts,
        unknown=unknown,
        peak_days=installs // 10 if peak_days is None else peak_days,
    )


def ranking(rows: list[RankedProject], as_of: dt.date = AS_OF, top: int | None = None) -> Ranking:
    return Ranking(
        as_of=as_of,
        window_start=as_of - dt.timedelta(days=29),
        data_through=as_of,
        source="ClickPy (https://sql-clickhouse.clickhouse.com)",
        top=len(rows) if top is None else top,
        rows=tuple(rows),
    )


def generated(n: int, *, name_length: int = 0, as_of: dt.date = AS_OF, shift: int = 0) -> Ranking:
    """n projects with realistic spreads: installs falling with rank, downloads ranks shuffled around them."""
    rows = []
    for i in range(n):
        rank = i + 1
        name = f"project-{(i + shift) % (n + shift):05d}"
        if name_length:
            name = (name + "-long-name-of-a-project" * 3)[:name_length].rstrip("-")
        installs = 10_000_000 // rank + 1000
        downloads = installs + installs // (3 + i % 7) + (i % 11) * 1000
        downloads_rank = max(1, rank + ((i * 37) % 41) - 20)
        rows.append(
            entry(
                rank,
                name,
                installs,
                downloads,
                downloads_rank,
                scripts=(downloads - installs) // 3,
                unknown=(downloads - installs) // 4,
                peak_days=installs // 10 if i % 97 else installs * 3 // 4,
            )
        )
    return ranking(rows, as_of)


def small() -> Leaderboard:
    """Five projects, a ranking of yesterday and one of 7 days ago."""
    today = ranking(
        [
            entry(1, "boto3", 900_000, 1_000_000, 1, mirrors=60_000, scripts=30_000, unknown=10_000),
            entry(2, "acme", 800_000, 810_000, 4, mirrors=5_000, scripts=5_000, peak_days=700_000),
            entry(3, "requests", 700_000, 2_000_000, 2, mirrors=300_000, scripts=900_000, unknown=100_000),
            entry(4, "numpy", 600_000, 950_000, 3, mirrors=200_000, scripts=100_000, unknown=50_000),
            entry(5, "tiny-lib", 500_000, 500_000, 5, mirrors=0),
        ],
        top=5,
    )
    yesterday = ranking(
        [
            entry(1, "boto3", 890_000, 990_000, 1),
            entry(2, "requests", 700_000, 2_000_000, 2),
            entry(3, "acme", 650_000, 660_000, 4),
            entry(4, "numpy", 600_000, 950_000, 3),
            entry(5, "gone", 400_000, 400_000, 5),
        ],
        as_of=AS_OF - dt.timedelta(days=1),
        top=5,
    )
    week = ranking(
        [entry(1, "requests", 700_000, 2_000_000, 1), entry(2, "boto3", 690_000, 990_000, 2)],
        as_of=AS_OF - dt.timedelta(days=7),
        top=5,
    )
    return Leaderboard(current=today, earlier={1: yesterday, 7: week})


def site_events() -> list[dict[str, Any]]:
    """Two packages, 30 days: acme with CI, a mirror and a script; zeta with an unknown installer."""
    day = AS_OF
    out = []
    for i in range(30):
        ts = str(day - dt.timedelta(days=i))
        out += [event(ts, "acme", installer="pip")] * 4
        out += [event(ts, "acme", installer="pip", ci=True)]
        out += [event(ts, "acme", installer="bandersnatch"), event(ts, "acme", installer="requests")]
        out += [event(ts, "zeta", installer="uv"), event(ts, "zeta", installer=None)]
    return out


def builder(folder: Path) -> Callable[[Leaderboard | None], Path]:
    """Builds a two-package site in `folder` whose SiteData holds the leaderboard given."""
    events_dir = write_events(folder / "events", site_events())
    cfg = config.load(write_config(folder / "stats.toml", events_dir, ["acme", "zeta"], AS_OF.isoformat()))

    def _build(board: Leaderboard | None) -> Path:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(build.leaderboard_fetch, "leaderboard", lambda *args, **kwargs: board)
            out = folder / "site"
            build.build(cfg, as_of=AS_OF, out_dir=out)
        return out

    return _build
