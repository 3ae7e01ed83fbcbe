"""The site's index, computed: one row per package in the leaderboard's table design. Pure; templates format.

Each row: the headline number (honest installs, or package-manager installs with CI when the source
has no CI flag) beside pypistats.org's figure and all downloads; where the rest of the downloads came
from (CI-flagged installs when the source flags them, mirrors and proxies, scripts, browsers and
packagers, unknown installer) as numbers and the leaderboard's stacked bar; the trend; the last 30
days' line; and its leaderboard rank when the site has a leaderboard and the package is in its top N.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from generator import categories, layout, othersites
from generator.leaderboard_view import PageRank, Segment, segments
from generator.pages import PackageSummary

PYPISTATS_FIGURE = othersites.PYPISTATS_MONTH.key
"""pypistats.org's `recent` last_month (30 days, without mirrors): the figure most readers have seen."""
CI = "ci"
REST_LABELS = {
    CI: "CI",
    categories.MIRROR: "mirrors",
    categories.SCRIPT: "scripts",
    categories.UNKNOWN: "unknown",
}
"""Short: every row repeats them; the index's introduction says what each holds."""
TREND_FLAT = 0.05
"""A change of at most 5% either way on the previous 30 days reads as flat."""


@dataclass(frozen=True)
class IndexRow:
    project: str
    href: str
    """Its report page, relative to the site's root."""
    headline: int
    pypistats: int | None
    downloads: int
    rest: tuple[Segment, ...]
    """CI (when flagged), mirrors, scripts (with other named clients), unknown: numbers and bar widths."""
    rest_share: float
    trend: float | None
    coverage_note: str
    """ "" for a complete 30 days, else how many days the store holds."""
    spark: tuple[tuple[dt.date, float | None], ...]
    place: PageRank | None

    @property
    def trend_direction(self) -> str:
        if self.trend is None:
            return "none"
        return "up" if self.trend > TREND_FLAT else "down" if self.trend < -TREND_FLAT else "same"

    def segment(self, key: str) -> Segment | None:
        return next((s for s in self.rest if s.key == key), None)


def rest_segments(summary: PackageSummary) -> tuple[Segment, ...]:
    """The downloads that are not the headline, by where they came from."""
    counts = dict(summary.by_category)
    parts = []
    if summary.ci_available:
        parts.append((CI, REST_LABELS[CI], summary.ci or 0))
    parts += [
        (categories.MIRROR, REST_LABELS[categories.MIRROR], counts.get(categories.MIRROR, 0)),
        (
            categories.SCRIPT,
            REST_LABELS[categories.SCRIPT],
            counts.get(categories.SCRIPT, 0) + counts.get(categories.OTHER, 0),
        ),
        (categories.UNKNOWN, REST_LABELS[categories.UNKNOWN], counts.get(categories.UNKNOWN, 0)),
    ]
    return segments(parts)


def spark_values(summary: PackageSummary, as_of: dt.date) -> tuple[tuple[dt.date, float | None], ...]:
    """The headline's installs per day over the last 30 days (None: a day not held); () with fewer than 2 held."""
    days = len(summary.daily)
    values = tuple(
        (as_of - dt.timedelta(days=days - 1 - i), None if v is None else float(v)) for i, v in enumerate(summary.daily)
    )
    return values if sum(v is not None for _, v in values) >= 2 else ()


def index_row(summary: PackageSummary, as_of: dt.date, place: PageRank | None = None) -> IndexRow:
    figures = {f.key: f.value for f in summary.figures}
    rest = rest_segments(summary)
    other = sum(s.count for s in rest)
    return IndexRow(
        summary.project,
        layout.package_page(summary.project),
        summary.honest,
        figures.get(PYPISTATS_FIGURE),
        summary.raw_30,
        rest,
        other / summary.raw_30 if summary.raw_30 else 0.0,
        summary.trend,
        summary.coverage.note(),
        spark_values(summary, as_of),
        place,
    )


def index_rows(
    summaries: Sequence[PackageSummary], as_of: dt.date, places: Mapping[str, PageRank] | None = None
) -> list[IndexRow]:
    places = places or {}
    return [index_row(s, as_of, places.get(s.project)) for s in summaries]
