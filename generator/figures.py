"""A package page's figures and tables, built from its analysis: the waterfall, the sources, the
installers, the breakdowns, the cross-checks, the time series and sparkline, the mirrors and
releases, the windows, the reconciliation matrix; and the cost page's tables.

Arranging only: every number comes from `analysis` (or `headline`, `cost`); charts are filled by
`generator.drawing` in the page worker.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from generator import analysis, categories, dimensions
from generator.analysis import PackageReport
from generator.tables import Column, Table, clean_text, fmt_int, fmt_signed

if TYPE_CHECKING:  # for annotations only: drawing (vl-convert) and headline are imported where they are used
    from generator.cost import CostLine
    from generator.drawing import Chart
    from generator.headline import Matrix
    from generator.pages import SiteData


@dataclass(frozen=True)
class Figure:
    id: str
    title: str
    intro: str
    table: Table
    chart: Chart | None = None
    note: str = ""
    bars: tuple[BarRow, ...] = ()
    """The table drawn as HTML rows with CSS bars instead of a chart (waterfall, breakdowns)."""
    unavailable: str = ""
    """Set when the source cannot give this figure: the page shows this sentence, no numbers."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# -- bars drawn in HTML and CSS ----------------------------------------------------------------
@dataclass(frozen=True)
class BarRow:
    """One row of a table drawn with a CSS bar: whole percents, as the stylesheet's classes name them.

    The page's Content-Security-Policy allows no inline style, so a bar's offset and width are
    classes (`o0`…`o100`, `w0`…`w100` in style.css); a non-zero value never rounds to no bar.
    """

    label: str
    value: int
    text: str
    """The value as the row prints it (signed for a subtraction)."""
    share: float | None
    offset: int
    width: int
    tone: str
    """A CSS class naming the bar's colour: a category key, "ink" or "faint"."""
    kind: str = ""


def bar_percent(value: int, whole: int) -> int:
    """A bar's width in whole percents of `whole`: at least 1 for any non-zero value."""
    if whole <= 0 or value <= 0:
        return 0
    return max(1, min(100, round(100 * value / whole)))


# -- building a package page's figures -------------------------------------------------------
def waterfall_figure(report: PackageReport) -> Figure:
    steps = report.waterfall
    heading = f"From all downloads to {report.population.number}"
    table = Table(
        "waterfall",
        f"{heading}, {report.honest_window.label()}",
        (Column("Step"), Column("Downloads", "int"), Column("Share of all downloads", "pct")),
        tuple((s.label, -s.value if s.kind == "minus" else s.value, s.share) for s in steps),
    )
    note = ""
    if not report.ci_available:  # the source has no CI flag: the waterfall stops at package managers
        note = f"CI flag {analysis.NOT_AVAILABLE}: the last step cannot leave CI installs out."
    whole = steps[0].value if steps else 0
    rows = []
    running = 0
    for s in steps:
        if s.kind == "minus":
            running -= s.value
            offset, text = bar_percent(running, whole), fmt_signed(-s.value)
            tone = s.category or "faint"
        else:
            running = s.value
            offset, text, tone = 0, fmt_int(s.value), "ink" if s.kind == "total" else (s.category or "ink")
        width = min(bar_percent(s.value, whole), 100 - offset)
        rows.append(BarRow(s.label, s.value, text, s.share, offset, width, tone, s.kind))
    return Figure("waterfall", heading, note, table, bars=tuple(rows))


def sources_table(report: PackageReport) -> Table:
    rows = []
    for f in report.figures:
        rules = "; ".join(
            f"{r.label}: {r.count:+,}" + (f" ({', '.join(f'{d} {c:+,}' for d, c in r.parts)})" if r.parts else "")
            for r in f.rules
        )
        rows.append((f.name, f.window_label, f.value, f.delta, rules))
    return Table(
        "sources",
        "What each source says, and why it differs from the honest number",
        (
            Column("Source"),
            Column("Window"),
            Column("Downloads", "int"),
            Column("Difference from honest", "signed"),
            Column("Named rules"),
        ),
        tuple(rows),
    )


def installers_table(report: PackageReport) -> Table:
    if not report.ci_available:  # no CI flag in the source: no CI column (zeros would be wrong)
        return Table(
            "installers",
            f"Every installer seen, {report.honest_window.label()} (CI flag {analysis.NOT_AVAILABLE})",
            (Column("Installer"), Column("Category"), Column("Downloads", "int"), Column("Share", "pct"))
            + (Column("pypistats.org mirror?"),),
            tuple(
                (
                    clean_text(i.name),
                    categories.CATEGORY_LABELS[i.category],
                    i.downloads,
                    i.share,
                    "yes" if i.pypistats_mirror else "no",
                )
                for i in report.installers
            ),
        )
    return Table(
        "installers",
        f"Every installer seen, {report.honest_window.label()}",
        (
            Column("Installer"),
            Column("Category"),
            Column("Downloads", "int"),
            Column("CI-flagged", "int"),
            Column("Share", "pct"),
            Column("pypistats.org mirror?"),
        ),
        tuple(
            (
                clean_text(i.name),
                categories.CATEGORY_LABELS[i.category],
                i.downloads,
                i.ci,
                i.share,
                "yes" if i.pypistats_mirror else "no",
            )
            for i in report.installers
        ),
    )


def breakdown_caption(b: analysis.Breakdown, window: str) -> str:
    """ "Linux distribution, honest installs on Linux, <window>", and the days it counts when it leaves some out."""
    scope = f"{b.scope} {b.within}" if b.within else b.scope
    caption = f"{b.title}, {scope}, {window}"
    if b.old_days and b.coverage is not None:  # else it counts the days the page's own coverage note gives
        caption += f", counting {b.coverage.held} of its {b.coverage.days} days"
    return caption


def old_days_note(b: analysis.Breakdown) -> str:
    """Why some held days are not counted in a breakdown, and how to get them back ("" when none are)."""
    inside = dimensions.get(b.key).within if b.old_days else None
    if inside is None:
        return ""
    days = f"{b.old_days} day{'s' if b.old_days != 1 else ''}"
    return (
        f"Not counted: {days} of this window, fetched before these rows carried the {inside.dimension.noun}"
        f" (installs on other systems could not be told from installs {inside.words}). To count them, fetch"
        " them again: build with --refresh refetches every day of the history; [source].refetch_days = 30"
        " for one build refetches the last 30 days."
    )


def breakdown_figures(report: PackageReport) -> list[Figure]:
    out = []
    for b in report.breakdowns:
        items = [(clean_text(label), n) for label, n in b.items]
        whole = b.scope == analysis.ALL_DOWNLOADS_SCOPE  # a source without the installer for it
        table = Table(
            b.table,
            breakdown_caption(b, report.honest_window.label()),
            (Column(b.title), Column("Downloads" if whole else "Installs", "int"), Column("Share", "pct")),
            tuple((label, n, analysis.share(n, b.total)) for label, n in items),
        )
        if b.unavailable:
            out.append(Figure(table.id, b.title, "", table, None, unavailable=b.unavailable))
            continue
        largest = max((n for _, n in items), default=0)
        bars = tuple(
            BarRow(label, n, fmt_int(n), analysis.share(n, b.total), 0, bar_percent(n, largest), "package_manager")
            for label, n in items
        )
        out.append(Figure(table.id, b.title, "", table, bars=bars, note=old_days_note(b)))
    return out


def cross_check_figures(report: PackageReport) -> list[Figure]:
    """Per-day differences between this page's source and each other source the store holds."""
    from generator.sources import source_title

    out = []
    for c in report.cross_checks:
        this, other = c.this_source, c.other_source
        table = Table(
            f"cross-check-{_slug(other)}",
            f"Days on which {this} and {other} differ, of the {c.days_compared} days both hold",
            (
                Column("Day", "date"),
                Column(f"All downloads: {this}", "int"),
                Column(f"All downloads: {other}", "int"),
                Column("Difference in all downloads", "signed"),
                Column(f"Package-manager installs, CI included: {this}", "int"),
                Column(f"Package-manager installs, CI included: {other}", "int"),
                Column("Difference in package-manager installs", "signed"),
            ),
            tuple(
                (d.day, d.this_all, d.other_all, d.all_difference, d.this_pm, d.other_pm, d.pm_difference)
                for d in c.differing
            ),
        )
        if c.agree:
            intro = f"The two sources agree exactly on all {c.days_compared} days both hold."
        else:
            intro = (
                f"{len(c.differing)} of the {c.days_compared} days both hold differ: {c.this_total:,} downloads from"
                f" {source_title(this)} against {c.other_total:,} from {source_title(other)}"
                f" ({c.this_total - c.other_total:+,})."
            )
        out.append(Figure(table.id, f"Cross-check: {this} against {other}", intro, table))
    return out


def timeseries_figure(report: PackageReport) -> Figure:
    """The honest number over time: daily, its 7-day mean, CI-flagged and all downloads for context."""
    from generator import drawing

    series = report.series
    cats = categories.CATEGORIES
    ci = report.ci_available
    honest_label = report.population.label
    table = Table(
        "daily",
        "Daily downloads (UTC days; missing days are absent, not zero)",
        (Column("Day", "date"), Column(honest_label, "int"))
        + ((Column("CI-flagged installs", "int"),) if ci else ())
        + tuple(Column(categories.CATEGORY_LABELS[c], "int") for c in cats)
        + (Column("Total", "int"),),
        tuple(
            (p.day, p.honest if ci else p.by_category[categories.PACKAGE_MANAGER])
            + ((p.ci,) if ci else ())
            + tuple(p.by_category[c] for c in cats)
            + (p.total,)
            for p in series
        ),
    )
    chart = None
    if series:
        first, last = series[0].day, series[-1].day
        days = [
            drawing.HonestDay(
                p.day,
                p.honest if ci else p.by_category[categories.PACKAGE_MANAGER],
                p.ci if ci else None,
                p.total,
                p.honest_mean if ci else _pm_mean(series, i),
            )
            for i, p in enumerate(series)
        ]
        chart = drawing.honest_over_time(
            days,
            missing_days=list(report.freshness.missing),
            breaks=[(d, label) for d, label in STRUCTURAL_BREAKS if first <= d <= last],
            title=f"{honest_label} per day, and all downloads",
            description=f"{honest_label} per UTC day from {first} to {last}, with their 7-day mean"
            + (" and CI-flagged installs" if ci else "")
            + "; below, all downloads per day.",
            chart_id="chart-daily",
        )
    return Figure("daily", "Daily installs", "", table, chart)


def _pm_mean(series: Sequence[analysis.DayPoint], index: int) -> float | None:
    """7-day mean of package-manager installs (CI included), for a source with no CI flag."""
    day = series[index].day
    held = [
        p.by_category[categories.PACKAGE_MANAGER]
        for p in series[max(0, index - 6) : index + 1]
        if (day - p.day).days < 7
    ]
    return sum(held) / len(held) if len(held) >= 4 else None


def _spark_values(report: PackageReport, days: int = 180) -> list[tuple[dt.date, float | None]] | None:
    """The 7-day mean of the headline's installs per day over the last `days` days (None: a gap)."""
    if report.ci_available:
        by_day = {p.day: p.honest_mean for p in report.series}
    else:
        by_day = {p.day: _pm_mean(report.series, i) for i, p in enumerate(report.series)}
    window = [report.as_of - dt.timedelta(days=days - 1 - i) for i in range(days)]
    held = [d for d, v in by_day.items() if v is not None]
    values = [(d, by_day.get(d)) for d in window if held and d >= min(held)]
    return values if len([v for _, v in values if v is not None]) >= 2 else None


def sparkline_chart(report: PackageReport) -> Chart | None:
    """The first screen's small chart: the 7-day mean of the honest number over the last 180 days.

    The mean, not the daily count: weekday swings would hide the trend at this size. Missing days
    break the line.
    """
    from generator import drawing

    values = _spark_values(report)
    if values is None:
        return None
    known = [v for _, v in values if v is not None]
    what = report.population.brief
    return drawing.sparkline(
        values,
        title=f"7-day mean of {what} per day, {values[0][0]} to {values[-1][0]}",
        description=f"From {known[0]:,.0f} a day on {values[0][0]} to {known[-1]:,.0f} a day on {values[-1][0]};"
        f" the highest was {max(known):,.0f}.",
        chart_id="chart-spark",
    )


def social_card(report: PackageReport) -> bytes | None:
    """The package's og:image: its honest number and the 7-day mean's 180-day line, 1200x630 PNG."""
    from generator import drawing

    spark = _spark_values(report)
    if spark is None:
        return None
    words = f"{report.population.installs}, last 30 days"
    return drawing.social_card_png(report.project, fmt_int(report.honest), words, spark)


# Annotated on time series where they fall inside the range (see content/methodology.md#breaks).
STRUCTURAL_BREAKS: tuple[tuple[dt.date, str], ...] = (
    (dt.date(2018, 7, 26), "linehaul rewrite"),
    (dt.date(2021, 1, 1), "file_downloads table"),
    (dt.date(2024, 6, 18), "outage"),
    (dt.date(2025, 8, 1), "outage (August 2025)"),
    (dt.date(2026, 8, 24), "only .whl/.tar.gz/.zip counted"),
)


def mirror_figures(report: PackageReport) -> list[Figure]:
    tools = Table(
        "mirror-tools",
        "Mirror and proxy tools that fetched this package",
        (Column("Tool"), Column("Last 30 days", "int"), Column("All days in the store", "int")),
        tuple((clean_text(name), dict(report.mirror_tools_30).get(name, 0), n) for name, n in report.mirror_tools_all),
    )
    per_release = Table(
        "releases",
        "Downloads per release, oldest first: mirror and other downloads over all days in the store,"
        " and the mirror tools that fetched it",
        (
            Column("Version"),
            Column(UPLOADED, "date"),
            Column("First seen in the data", "date"),
            Column("Mirror downloads", "int"),
            Column("Days mirrors fetched it", "int"),
            Column("Other downloads", "int"),
            Column("Mirror tools"),
        ),
        tuple(
            (
                clean_text(r.version),
                r.uploaded,
                r.first_seen,
                r.mirror_downloads,
                r.mirror_days,
                r.other_downloads,
                ", ".join(r.mirror_tools),
            )
            for r in report.releases
        ),
    )
    return [
        Figure("mirror-tools", "Which mirrors fetched it", "", tools),
        Figure("releases", "Mirror downloads per release", release_sentence(report.releases), per_release),
    ]


UPLOADED = "Uploaded to PyPI"
"""The column of each release's PyPI upload date; "–" where it is not known."""


def release_sentence(releases: Sequence[analysis.Release]) -> str:
    """What the per-release rows show: when the dates come from, and whether mirrors fetch once or keep fetching."""
    if not releases:
        return ""
    undated = sum(r.uploaded is None for r in releases)
    if undated == len(releases):
        dates = (
            f"{UPLOADED}: not known for any release here (PyPI was not asked, did not answer, or does"
            " not list them), so each release is placed by the day it was first seen in the data."
        )
    elif undated:
        dates = (
            f"{UPLOADED}: the date of its first file on PyPI; not known for {undated} of the {len(releases)}"
            " releases, which are placed by the day first seen in the data."
        )
    else:
        dates = f"{UPLOADED}: the date of each release's first file on PyPI."
    mirrored = [r for r in releases if r.mirror_downloads]
    continuous = [r for r in mirrored if r.continuous_mirrors]
    if not mirrored:
        mirrors = "No mirror tool fetched any release in the data."
    elif continuous:
        most = max(continuous, key=lambda r: (r.mirror_days, r.version))
        mirrors = (
            f"Mirrors keep fetching: {len(continuous)} of the {len(mirrored)} releases mirrors fetched were fetched"
            f" on more than {analysis.ONE_TIME_SYNC_DAYS} days ({clean_text(most.version)} on {most.mirror_days}),"
            " as continuous syncs do, so mirror downloads follow the mirrors' schedules, not only new releases."
        )
    else:
        mirrors = (
            f"Each release's mirror downloads came on at most {analysis.ONE_TIME_SYNC_DAYS} days:"
            " as a one-time sync per mirror after a release does."
        )
    return f"{dates} {mirrors}"


def windows_table(report: PackageReport) -> Table:
    what = report.population.label
    return Table(
        "windows",
        f"{what} and all downloads by window, ending {report.as_of.isoformat()}",
        (
            Column("Window"),
            Column(what, "int"),
            Column("All downloads", "int"),
            Column("Days held", "int"),
            Column("Days in the window", "int"),
        ),
        tuple((w.label, w.honest, w.all, w.held, w.days) for w in report.windows),
    )


def matrix_table(m: Matrix) -> Table:
    """The reconciliation matrix as a table: the page's, and its CSV."""

    def cell(n: int | None) -> Any:
        return "" if n is None else n

    return Table(
        "matrix",
        "From the honest number to each source's figure",
        (Column("Rule"),) + tuple(Column(f"{c.name} · {c.window}", "signed") for c in m.columns),
        ((m.honest_name,) + tuple(m.honest for _ in m.columns),)
        + tuple((analysis.RULES[r],) + tuple(cell(m.cell(r, c)) for c in m.columns) for r in m.rules)
        + (("The source's figure",) + tuple(c.value for c in m.columns),),
    )


def cost_tables(site: SiteData) -> list[Table]:
    """The cost page's tables: per run, per month, all time, and a daily run per package."""
    summary = site.cost
    if summary is None or not summary.runs:
        return []
    cols = (
        Column("Period"),
        Column("Jobs", "int"),
        Column("Days fetched", "int"),
        Column("Packages", "int"),
        Column("Guaranteed ceiling"),
        Column("Bytes billed"),
        Column("Dollars billed"),
        Column("Ceiling in dollars"),
    )

    def line(c: CostLine) -> tuple[Any, ...]:
        from generator.cost import format_bytes, format_dollars

        return (
            c.label,
            c.jobs,
            c.days,
            c.packages,
            format_bytes(c.ceiling_bytes),
            format_bytes(c.billed_bytes),
            format_dollars(c.dollars),
            format_dollars(c.ceiling_dollars),
        )

    tables = [
        Table("cost-cumulative", "All time", cols, (line(summary.cumulative),)),
        Table(
            "cost-months",
            "Per month (the first 1 TiB a month is free on Google Cloud)",
            cols,
            tuple(line(c) for c in summary.months),
        ),
        Table("cost-runs", "Per run, newest first", cols, tuple(line(c) for c in summary.runs)),
    ]
    daily = summary.daily_run
    if daily is not None:
        from generator.cost import format_bytes, format_dollars

        tables.insert(
            1,
            Table(
                "cost-daily",
                f"A daily run, averaged over the last {daily.runs} daily run(s)",
                (Column("Measure"), Column("Per run"), Column("Per package")),
                tuple(
                    (label, fmt(getattr(daily, figure)), fmt(daily.per_package(figure)))
                    for label, figure, fmt in (
                        ("Guaranteed ceiling", "ceiling_bytes", format_bytes),
                        ("Bytes billed", "billed_bytes", format_bytes),
                        ("Dollars billed", "dollars", format_dollars),
                        ("Ceiling in dollars", "ceiling_dollars", format_dollars),
                    )
                ),
            ),
        )
    return tables
