"""The leaderboard's exact ranking, and the proof that it is exact. Pure: no I/O.

ClickPy can rank every project by all downloads cheaply (one grouped scan of its per-day table),
but splitting downloads by installer means reading its much larger installer table. So the fetch
(generator.leaderboard_fetch) asks for the split of *candidates* only: the top M projects by all
downloads. This module ranks those candidates by installs and says whether M was enough.

The proof (`settled`). Candidates are a prefix of the ranking of ALL projects by downloads
(descending, ties by name), so every project outside them has downloads <= d_M, the downloads of
the M-th (last) candidate. A project's installs never exceed its downloads (installs are the
downloads of some installers). So an outside project has installs <= d_M. Let i_N be the installs
of the N-th project when the candidates are ranked by installs (descending, ties by name). If
d_M < i_N, every outside project has installs < i_N: it ranks below the N-th candidate whatever
its name, so the top N among the candidates IS the top N of all projects. Equality is not
enough: an outside project with installs = i_N = d_M and a smaller name would rank above it.
When the candidates are every project ClickPy holds, nothing is outside: settled, even with fewer
than N projects that have installs. When fewer than N candidates have installs and some project
is outside, that project could have installs and enter. Otherwise (d_M >= i_N) M is too small:
the fetch widens M and asks for the next slice.

downloads_rank needs no proof: it is the candidate's position in the ranking of all projects.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from generator import categories
from generator.leaderboard import RankedProject

WINDOW_DAYS = 30
"""The leaderboard's window: the package pages' own, 30 UTC days ending on the as-of date."""
PEAK_DAYS = 3
"""peak_days sums the installs of this many busiest days (a pip loop shows as most installs on a few days)."""

PACKAGE_MANAGERS: tuple[str, ...] = categories.names_in(categories.PACKAGE_MANAGER)
"""Installer names whose downloads are installs (generator.categories, the one mapping)."""
MIRRORS: tuple[str, ...] = categories.names_in(categories.MIRROR)
"""Installer names of mirrors and proxies."""


@dataclass(frozen=True)
class Candidate:
    """One project of the ranking of all projects by downloads (a row of the candidates query)."""

    project: str
    downloads: int
    downloads_rank: int


@dataclass(frozen=True)
class Split:
    """A candidate's downloads over the window, split by installer category."""

    project: str
    downloads: int
    installs: int
    mirrors: int
    unknown: int
    peak_days: int

    @property
    def scripts(self) -> int:
        """Scripts, browsers and packagers, and other named clients: everything not counted elsewhere."""
        return self.downloads - self.installs - self.mirrors - self.unknown


@dataclass(frozen=True)
class Proof:
    """Whether the candidates settle the top N, and the figures that say so."""

    settled: bool
    reason: str
    last_downloads: int
    """d_M: the downloads of the last candidate (0 with no candidate)."""
    nth_installs: int | None
    """i_N: the installs of the N-th project by installs among the candidates (None: fewer have installs)."""


def window(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """The 30 UTC days ending on `as_of`, as (first day, last day)."""
    return as_of - dt.timedelta(days=WINDOW_DAYS - 1), as_of


def by_installs(splits: Iterable[Split]) -> list[Split]:
    """The projects with installs, by installs descending, ties by project name ascending."""
    return sorted((s for s in splits if s.installs > 0), key=lambda s: (-s.installs, s.project))


def settled(candidates: Sequence[Candidate], splits: Mapping[str, Split], top: int, total_projects: int) -> Proof:
    """Whether the top `top` by installs among `candidates` is the top of all `total_projects` (module docstring)."""
    last = candidates[-1].downloads if candidates else 0
    ranked = by_installs(splits[c.project] for c in candidates)
    nth = ranked[top - 1].installs if len(ranked) >= top else None
    if len(candidates) >= total_projects:
        return Proof(True, f"the {len(candidates):,} candidates are every project ClickPy holds", last, nth)
    if nth is None:
        return Proof(
            False,
            f"only {len(ranked):,} of the {len(candidates):,} candidates have installs, fewer than {top:,},"
            f" and {total_projects - len(candidates):,} projects are outside them",
            last,
            nth,
        )
    if last < nth:
        return Proof(
            True,
            f"the last candidate's {last:,} downloads are below the {top:,}th installs ({nth:,}): no project"
            " outside the candidates can enter",
            last,
            nth,
        )
    return Proof(
        False,
        f"the last candidate's {last:,} downloads are not below the {top:,}th installs ({nth:,})",
        last,
        nth,
    )


def rank(candidates: Sequence[Candidate], splits: Mapping[str, Split], top: int) -> tuple[RankedProject, ...]:
    """The top `top` candidates by installs (only those with installs), as the leaderboard's rows."""
    downloads_rank = {c.project: c.downloads_rank for c in candidates}
    rows = []
    for position, split in enumerate(by_installs(splits[c.project] for c in candidates)[:top], start=1):
        rows.append(
            RankedProject(
                rank=position,
                project=split.project,
                installs=split.installs,
                downloads=split.downloads,
                downloads_rank=downloads_rank[split.project],
                mirrors=split.mirrors,
                scripts=split.scripts,
                unknown=split.unknown,
                peak_days=split.peak_days,
            )
        )
    return tuple(rows)


def peak(daily_installs: Iterable[int], days: int = PEAK_DAYS) -> int:
    """The installs of the `days` busiest days."""
    return sum(heapq.nlargest(days, daily_installs))


def by_downloads(downloads: Mapping[str, int]) -> list[Candidate]:
    """Every project with downloads, ranked by downloads descending, ties by name (for a store's own rows)."""
    order = sorted(((n, p) for p, n in downloads.items() if n > 0), key=lambda t: (-t[0], t[1]))
    return [Candidate(p, n, i) for i, (n, p) in enumerate(order, start=1)]


def latest_complete_end(held: Iterable[dt.date], as_of: dt.date, lookback: int) -> dt.date | None:
    """The latest day E in [as_of - lookback, as_of] such that all 30 days ending on E are held."""
    days = set(held)
    for back in range(lookback + 1):
        end = as_of - dt.timedelta(days=back)
        first, _ = window(end)
        if all(first + dt.timedelta(days=i) in days for i in range(WINDOW_DAYS)):
            return end
    return None
