"""The PyPI leaderboard's data model: every project ClickPy holds, ranked by package-manager installs.

The shared vocabulary of the leaderboard's stages: the fetch (ClickPy queries and the exact-ranking
proof) produces a `Ranking`, the store keeps one per as-of day, and the pages compare today's with
earlier ones. Plain frozen dataclasses, no I/O.

Definitions (issue 22, and README "The leaderboard"):
- `installs`: downloads whose installer is in the "Package managers" category
  (`generator.categories.PACKAGE_MANAGER`). ClickPy has no CI flag, so CI is included.
- `downloads`: all downloads, every installer, unknown (NULL or empty) included.
- `rank`: 1-based by installs descending, ties by project name ascending.
- `downloads_rank`: the same over downloads, among all projects ClickPy holds.
- `rank_change = downloads_rank - rank` (positive: the project ranks higher by installs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class RankedProject:
    """One project's line on the leaderboard, for the 30-day window ending on the ranking's as-of day."""

    rank: int
    project: str
    installs: int
    downloads: int
    downloads_rank: int
    mirrors: int
    """Downloads by installers in the mirrors-and-proxies category."""
    scripts: int
    """Downloads by scripts, browsers and packagers, and by other named (unclassified) clients."""
    unknown: int
    """Downloads with no installer name (NULL or empty)."""
    peak_days: int
    """Installs on the project's 3 busiest days of the window (a pip loop shows as most installs on a few days)."""

    @property
    def rank_change(self) -> int:
        return self.downloads_rank - self.rank


@dataclass(frozen=True)
class Ranking:
    """The leaderboard for one as-of day: the top N projects, exact."""

    as_of: dt.date
    """The last UTC day of the window (the site's as-of date)."""
    window_start: dt.date
    """as_of - 29: the window is 30 UTC days, the package pages' own."""
    data_through: dt.date
    """The last day ClickPy held completely when the ranking was made (equals as_of for a complete window)."""
    source: str
    """Where the counts came from, for the page and the JSON (e.g. "ClickPy (https://sql-clickhouse.clickhouse.com)")."""
    top: int
    """N, as configured: `rows` holds N projects, fewer only when fewer projects have installs."""
    rows: tuple[RankedProject, ...]


@dataclass(frozen=True)
class Leaderboard:
    """What the site's pages need: the ranking to show, and the earlier ones to compare it with."""

    current: Ranking
    """The ranking the pages show: the as-of day's, or the last complete one when ClickPy has stalled."""
    earlier: dict[int, Ranking]
    """Rankings the store holds for `current.as_of` minus 1 and minus 7 days, by that number of days."""
    stale_note: str | None = None
    """Set when ClickPy had not loaded the whole window: why `current` is an older ranking (shown on the page)."""
    synthetic: bool = False
    """Ranked from the demo's synthetic events, not ClickPy: every page says so."""
