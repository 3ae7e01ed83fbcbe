"""The leaderboard's pages, computed: every number, word and width the top/ pages, the report pages and the
index show. Pure functions over `generator.leaderboard`; the templates only format.

What a reader sees (README "The leaderboard"):
- each ranked project's rank by package-manager installs (CI included), its rank by all downloads and
  the difference in words ("up 312": counting installs only moves it up 312 places);
- where the rest of its downloads came from (mirrors and proxies; scripts, browsers and packagers;
  unknown installer), as the numbers and a stacked bar of whole percents of that rest;
- its rank change since yesterday and since 7 days ago, when the store holds those rankings ("new"
  when it was not in the top N then);
- side lists: the biggest risers and fallers between the two rankings, new entries, anomalies.

An anomaly is a project with most of its 30-day installs on its busiest few days (`ANOMALY_SHARE`,
`RankedProject.peak_days`): a pip loop in a container or a one-off burst, which neither the
installer rule nor a CI flag takes out. It stays ranked; the page says so rather than hide it.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generator import categories, layout
from generator.config import normalize_name
from generator.leaderboard import Leaderboard, RankedProject, Ranking

# -- the pages (their paths: generator.layout) ------------------------------------------------------
PAGE_SIZE = 250
"""Rows per HTML page: 250 keeps every page under 200 KB; the CSV holds them all."""


def page_count(rows: int, page_size: int = PAGE_SIZE) -> int:
    """How many top/ pages `rows` ranked projects take (one, empty, when none)."""
    return max(1, -(-rows // page_size))


def page_of(rank: int, page_size: int = PAGE_SIZE) -> int:
    return (rank - 1) // page_size + 1


def row_anchor(project: str) -> str:
    """The id of a project's row on its page (a report page links it)."""
    return f"p-{project}"


# -- the names the pages use --------------------------------------------------------------------
WHAT = "package-manager installs, CI included"
"""How every page names what the leaderboard ranks: ClickPy has no CI flag."""
PAGE_TITLE = "PyPI leaderboard: package-manager installs, CI included"
PEAK_DAYS = 3
"""`RankedProject.peak_days` counts the installs on this many busiest days of the window."""
ANOMALY_SHARE = 0.5
"""An anomaly has more than this share of its 30-day installs on its `PEAK_DAYS` busiest days.

Spread evenly, 3 days hold 10% of 30; even a package whose installs follow a weekly release train
keeps well under half. Most of a month on three days is a burst: a loop, a misconfigured job."""
SIDE_LIST = 10
"""Entries in each side list."""
SINCE = ((1, "yesterday"), (7, "7 days ago"))
"""The earlier rankings a row compares with: days before the as-of date, and their words."""

REST = (
    (categories.MIRROR, "mirrors"),
    (categories.SCRIPT, "scripts"),
    (categories.UNKNOWN, "unknown"),
)
"""The rest of the downloads, as the leaderboard splits it: (category, RankedProject field).

Other named (unclassified) clients are counted with scripts, browsers and packagers (see RankedProject)."""
REST_LABELS = {
    categories.MIRROR: categories.CATEGORY_LABELS[categories.MIRROR],
    categories.SCRIPT: categories.CATEGORY_LABELS[categories.SCRIPT] + " (and other named clients)",
    categories.UNKNOWN: "Unknown installer",
}


# -- the stacked bar -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    """One part of a stacked bar: a category, its count, and its width in whole percents of the bar."""

    key: str
    """A category key (its colour class t-<key> in style.css), or "ci"."""
    label: str
    count: int
    width: int


def stack_widths(counts: Sequence[int]) -> tuple[int, ...]:
    """Whole percents of the counts' sum that add up to exactly 100 (0 each when the sum is 0).

    Largest remainder, and any non-zero count gets at least 1%: a bar never hides a part the numbers show.
    """
    total = sum(c for c in counts if c > 0)
    if total <= 0:
        return tuple(0 for _ in counts)
    exact = [100 * max(c, 0) / total for c in counts]
    widths = [math.floor(x) for x in exact]
    for i, c in enumerate(counts):
        if c > 0 and widths[i] == 0:
            widths[i] = 1
    order = sorted(range(len(counts)), key=lambda i: (-(exact[i] - math.floor(exact[i])), i))
    while sum(widths) < 100:
        for i in order:
            if counts[i] > 0 and sum(widths) < 100:
                widths[i] += 1
    while sum(widths) > 100:  # only when several tiny parts were raised to 1%
        i = max(range(len(widths)), key=lambda j: widths[j])
        widths[i] -= 1
    return tuple(widths)


def segments(parts: Sequence[tuple[str, str, int]]) -> tuple[Segment, ...]:
    """(key, label, count) → segments whose widths add up to 100% of the parts' sum."""
    widths = stack_widths([count for _, _, count in parts])
    return tuple(Segment(key, label, count, w) for (key, label, count), w in zip(parts, widths, strict=True))


def rest_segments(row: RankedProject) -> tuple[Segment, ...]:
    return segments([(key, REST_LABELS[key], getattr(row, field)) for key, field in REST])


# -- rank movements ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Movement:
    """A row's rank against an earlier ranking."""

    days: int
    since: str
    """"yesterday", "7 days ago"."""
    before: int | None
    """Its rank then; None when it was not in that day's top N."""

    @property
    def new(self) -> bool:
        return self.before is None

    def change(self, rank: int) -> int:
        """Places gained since then (positive: moved up); 0 for a new entry."""
        return 0 if self.before is None else self.before - rank


def difference_words(change: int) -> str:
    """ "up 312", "down 12", "same": the places a project moves when ranked by installs, or since a day."""
    if change > 0:
        return f"up {change:,}"
    if change < 0:
        return f"down {-change:,}"
    return "same"


def direction(change: int) -> str:
    """A CSS class and the arrow's meaning: up, down or same."""
    return "up" if change > 0 else "down" if change < 0 else "same"


# -- rows ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One project's line on a top/ page."""

    entry: RankedProject
    href: str
    """Its report page on this site (relative to top/), else its PyPI page."""
    on_site: bool
    rest: int
    """Downloads that are not package-manager installs."""
    rest_share: float
    """`rest` as a share of all downloads."""
    segments: tuple[Segment, ...]
    movements: tuple[Movement, ...]
    """Against each earlier ranking the store holds (yesterday, 7 days ago), in that order."""
    peak_share: float
    """Share of its 30-day installs on its `PEAK_DAYS` busiest days."""

    @property
    def anomaly(self) -> bool:
        return self.peak_share > ANOMALY_SHARE

    @property
    def difference(self) -> str:
        return difference_words(self.entry.rank_change)

    @property
    def direction(self) -> str:
        return direction(self.entry.rank_change)


def share(part: int, whole: int) -> float:
    return part / whole if whole > 0 else 0.0


def site_projects(projects: Iterable[str]) -> frozenset[str]:
    return frozenset(normalize_name(p) for p in projects)


def project_href(project: str, on_site: bool, root: str = "../") -> str:
    """The project's report page on this site, else its page on PyPI."""
    name = normalize_name(project)
    return f"{root}{layout.package_page(name)}" if on_site else f"https://pypi.org/project/{name}/"


def earlier_ranks(leaderboard: Leaderboard) -> list[tuple[int, str, dict[str, int]]]:
    """(days, words, rank by project) for each earlier ranking the store holds."""
    out = []
    for days, words in SINCE:
        ranking = leaderboard.earlier.get(days)
        if ranking is not None:
            out.append((days, words, {r.project: r.rank for r in ranking.rows}))
    return out


def rows(leaderboard: Leaderboard, on_site: frozenset[str] = frozenset()) -> list[Row]:
    """Every ranked project's row, in rank order."""
    before = earlier_ranks(leaderboard)
    out = []
    for entry in leaderboard.current.rows:
        here = normalize_name(entry.project) in on_site
        rest = max(entry.downloads - entry.installs, 0)
        out.append(
            Row(
                entry,
                project_href(entry.project, here),
                here,
                rest,
                share(rest, entry.downloads),
                rest_segments(entry),
                tuple(Movement(days, words, ranks.get(entry.project)) for days, words, ranks in before),
                share(entry.peak_days, entry.installs),
            )
        )
    return out


# -- side lists ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SideLists:
    risers: tuple[Row, ...]
    """Ranked highest above their rank by all downloads (the largest positive rank_change)."""
    fallers: tuple[Row, ...]
    """Ranked lowest below their rank by all downloads: most of their downloads are not installs."""
    new: tuple[Row, ...]
    """Not in the top N of the nearest earlier ranking held."""
    new_since: str
    """The words of that ranking ("yesterday"), "" when none is held."""
    anomalies: tuple[Row, ...]


def side_lists(all_rows: Sequence[Row], size: int = SIDE_LIST) -> SideLists:
    by_change = sorted(all_rows, key=lambda r: (-r.entry.rank_change, r.entry.rank))
    risers = [r for r in by_change if r.entry.rank_change > 0]
    fallers = sorted(
        (r for r in all_rows if r.entry.rank_change < 0), key=lambda r: (r.entry.rank_change, r.entry.rank)
    )
    since = all_rows[0].movements[0].since if all_rows and all_rows[0].movements else ""
    new = [r for r in all_rows if r.movements and r.movements[0].new]
    anomalies = [r for r in all_rows if r.anomaly]
    return SideLists(tuple(risers[:size]), tuple(fallers[:size]), tuple(new[:size]), since, tuple(anomalies[:size]))


# -- pages -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TopPage:
    path: str
    number: int
    count: int
    rows: tuple[Row, ...]

    @property
    def first(self) -> int:
        return self.rows[0].entry.rank if self.rows else 0

    @property
    def last(self) -> int:
        return self.rows[-1].entry.rank if self.rows else 0

    @property
    def canonical(self) -> str:
        return layout.top_url(self.number)

    @property
    def href(self) -> str:
        """Its link from another top/ page."""
        return layout.top_file(self.number)


def pages(all_rows: Sequence[Row], page_size: int = PAGE_SIZE) -> list[TopPage]:
    """The rows in pages of `page_size`; one (empty) page when nothing is ranked."""
    chunks = [tuple(all_rows[i : i + page_size]) for i in range(0, len(all_rows), page_size)] or [()]
    return [TopPage(layout.top_page(n), n, len(chunks), chunk) for n, chunk in enumerate(chunks, start=1)]


@dataclass(frozen=True)
class SitePackage:
    """A package of this site on the leaderboard: its leaderboard installs beside its report page's number."""

    project: str
    rank: int
    installs: int
    """Package-manager installs, CI included, as the leaderboard counts them (ClickPy)."""
    page_number: int
    """The report page's headline: the honest number (CI left out) when its source has a CI flag."""
    ci_left_out: bool
    href: str

    @property
    def difference(self) -> int:
        return self.installs - self.page_number


def site_packages(all_rows: Sequence[Row], numbers: Mapping[str, tuple[int, bool]]) -> list[SitePackage]:
    """This site's packages that are ranked, by rank; `numbers` is each package's (headline, CI left out)."""
    out = []
    for r in all_rows:
        name = normalize_name(r.entry.project)
        if name in numbers:
            number, ci_left_out = numbers[name]
            out.append(SitePackage(name, r.entry.rank, r.entry.installs, number, ci_left_out, r.href))
    return out


# -- a report page's rank, and the index's -----------------------------------------------------------
@dataclass(frozen=True)
class PageRank:
    """A package's place on the leaderboard, as its report page and the index show it."""

    rank: int
    top: int
    installs: int
    downloads_rank: int
    page: str
    """Its top/ page and row, relative to the site's root ("top/index.html#p-acme")."""
    movements: tuple[Movement, ...]

    @property
    def difference(self) -> str:
        return difference_words(self.downloads_rank - self.rank)


def rank_of(leaderboard: Leaderboard | None, project: str, page_size: int = PAGE_SIZE) -> PageRank | None:
    """The project's place when it is in the top N, else None."""
    return ranks_by_project(leaderboard, [project], page_size).get(normalize_name(project))


def ranks_by_project(
    leaderboard: Leaderboard | None, projects: Iterable[str], page_size: int = PAGE_SIZE
) -> dict[str, PageRank]:
    """The leaderboard place of each of `projects` that is ranked (normalized name → place), in one pass."""
    if leaderboard is None:
        return {}
    wanted = site_projects(projects)
    before = earlier_ranks(leaderboard)
    out = {}
    for e in leaderboard.current.rows:
        name = normalize_name(e.project)
        if name in wanted and name not in out:
            out[name] = PageRank(
                e.rank,
                leaderboard.current.top,
                e.installs,
                e.downloads_rank,
                f"{layout.top_page(page_of(e.rank, page_size))}#{row_anchor(e.project)}",
                tuple(Movement(days, words, ranks.get(e.project)) for days, words, ranks in before),
            )
    return out


# -- the downloads: top/leaderboard.csv and top/leaderboard.json --------------------------------------
CSV_COLUMNS = (
    "rank",
    "project",
    "installs",
    "downloads",
    "downloads_rank",
    "rank_change",
    "mirrors",
    "scripts",
    "unknown",
    "peak_3_days",
    "rank_1_day_ago",
    "rank_7_days_ago",
)
"""The contract's six columns first (issue 22), then the rest of the row. An empty rank_N_days_ago is
"not in that day's top N" when the JSON's `earlier` holds that day, else "no ranking stored"."""


def _record(row: RankedProject, before: Sequence[tuple[int, str, dict[str, int]]]) -> dict[str, Any]:
    ranks = {days: ranks for days, _, ranks in before}
    return {
        "rank": row.rank,
        "project": row.project,
        "installs": row.installs,
        "downloads": row.downloads,
        "downloads_rank": row.downloads_rank,
        "rank_change": row.rank_change,
        "mirrors": row.mirrors,
        "scripts": row.scripts,
        "unknown": row.unknown,
        "peak_3_days": row.peak_days,
        "rank_1_day_ago": ranks[1].get(row.project) if 1 in ranks else None,
        "rank_7_days_ago": ranks[7].get(row.project) if 7 in ranks else None,
    }


def _csv_text(value: Any) -> Any:
    """A project name that would start a spreadsheet formula gets a leading ' (as every CSV of the site)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def leaderboard_csv(leaderboard: Leaderboard) -> str:
    """top/leaderboard.csv: one row per ranked project, in rank order."""
    before = earlier_ranks(leaderboard)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in leaderboard.current.rows:
        record = _record(row, before)
        writer.writerow([_csv_text(record[c]) for c in CSV_COLUMNS])
    return buf.getvalue()


def _ranking_meta(ranking: Ranking) -> dict[str, Any]:
    return {
        "as_of": ranking.as_of.isoformat(),
        "window": {"start": ranking.window_start.isoformat(), "end": ranking.as_of.isoformat(), "days": 30},
        "data_through": ranking.data_through.isoformat(),
        "source": ranking.source,
        "top": ranking.top,
    }


def leaderboard_json(leaderboard: Leaderboard) -> str:
    """top/leaderboard.json: the CSV's rows, plus the window, data-through date, source and definitions."""
    current = leaderboard.current
    before = earlier_ranks(leaderboard)
    doc = {
        "title": PAGE_TITLE,
        **_ranking_meta(current),
        "synthetic": leaderboard.synthetic,
        "stale_note": leaderboard.stale_note,
        "definitions": {
            "installs": "downloads whose installer is a package manager ("
            + ", ".join(categories.names_in(categories.PACKAGE_MANAGER))
            + "); CI included: the source has no CI flag",
            "downloads": "all downloads, every installer, unknown (NULL or empty) included",
            "rank": "1-based by installs descending, ties by project name ascending",
            "downloads_rank": "the same over downloads, among all projects the source holds",
            "rank_change": "downloads_rank - rank (positive: ranks higher by installs than by all downloads)",
            "mirrors": categories.CATEGORY_DEFINITIONS[categories.MIRROR],
            "scripts": categories.CATEGORY_DEFINITIONS[categories.SCRIPT] + " Also other named clients.",
            "unknown": "downloads with no installer name (NULL or empty)",
            "peak_3_days": f"installs on the project's {PEAK_DAYS} busiest days of the window",
            "rank_1_day_ago": "its rank in the ranking of the day before (null: not in that day's top N,"
            " or no ranking of that day stored: see earlier)",
            "rank_7_days_ago": "the same, 7 days before",
        },
        "earlier": {f"{days}_days_ago": leaderboard.earlier[days].as_of.isoformat() for days, _, _ in before},
        "rows": [_record(r, before) for r in current.rows],
    }
    return json.dumps(doc, indent=None, separators=(",", ":"), ensure_ascii=True) + "\n"


# -- the methodology's generated lists -----------------------------------------------------------------
def exclusions_markdown() -> str:
    """What the leaderboard leaves out and keeps, by name, from generator.categories (one source of truth)."""

    def names(category: str) -> str:
        return ", ".join(f"`{name}`" for name in categories.names_in(category))

    kept = names(categories.PACKAGE_MANAGER)
    lines = [
        f"- **Counted** (package managers): {kept}.",
        f"- **Left out, {categories.CATEGORY_LABELS[categories.MIRROR].lower()}**: {names(categories.MIRROR)}.",
        f"- **Left out, {categories.CATEGORY_LABELS[categories.SCRIPT].lower()}**: {names(categories.SCRIPT)},"
        " and any installer name this site has not classified (other named clients).",
        "- **Left out, unknown installer**: downloads whose User-Agent named no installer (NULL or empty).",
    ]
    return "\n".join(lines)


def data_markdown(leaderboard: Leaderboard | None) -> str:
    """The methodology's sentence on this site's leaderboard: its window, data-through date and source."""
    if leaderboard is None:
        return "This site publishes no leaderboard."
    r = leaderboard.current
    # Markdown passes HTML through: the source and the note are text, so they are escaped.
    text = (
        f"This site's [leaderboard]({layout.top_page(1)}) ranks the top {r.top:,} projects over"
        f" {r.window_start.isoformat()} to {r.as_of.isoformat()}; its data runs through"
        f" {r.data_through.isoformat()}. Source: {html.escape(r.source)}."
    )
    if leaderboard.stale_note:
        text += f" Not today's ranking: {html.escape(leaderboard.stale_note)}"
    if leaderboard.synthetic:
        text += " It is ranked from synthetic demo events, not from PyPI."
    return text
