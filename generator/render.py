"""Render: analysis results → HTML pages, CSV tables and JSON, through Jinja2 (autoescape on).

Numbers are computed in `analysis`; this stage only arranges them into tables and charts and
hands them to templates, which format and escape. Files go to a `SiteWriter`, which publishes
the whole site at once (see `generator.sitewriter`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypedDict

import jinja2
import markdown

from generator import (
    __version__,
    analysis,
    api,
    categories,
    dimensions,
    layout,
    leaderboard_view,
    othersites,
    resources,
    vocabulary,
)
from generator.analysis import PackageReport
from generator.errors import RenderError
from generator.leaderboard_view import PageRank
from generator.pages import PackagePage, SiteData

if TYPE_CHECKING:  # for annotations only: charts (vl-convert) and headline are imported where they are used
    from generator.cost import CostLine
    from generator.drawing import Chart
    from generator.headline import FirstScreen, Matrix

MARKDOWN_EXTENSIONS = ["tables", "fenced_code", "toc", "attr_list", "footnotes"]
MAPPING_MARKER = "<!-- installer-mapping -->"
VOCABULARY_MARKER = "<!-- vocabulary -->"
OTHER_SITES_MARKER = "<!-- other-sites -->"
LEADERBOARD_EXCLUSIONS_MARKER = "<!-- leaderboard-exclusions -->"
LEADERBOARD_DATA_MARKER = "<!-- leaderboard-data -->"
CONTENT_PAGES = ("methodology", "glossary", "faq", "about")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


# -- tables ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"
    """How the template formats the cell: text, int, signed, pct, date."""


@dataclass(frozen=True)
class Table:
    id: str
    """A slug: the HTML id and the CSV file's stem."""
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]

    @property
    def csv_name(self) -> str:
        return f"{self.id}.csv"


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


def clean_text(value: str) -> str:
    """Strip NUL, control and bidi-override characters from data-derived text (user agents are forged)."""
    return _CONTROL.sub("", value)


def csv_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas: a text cell starting with = + - @ (or tab/CR) gets a leading '."""
    if isinstance(value, str):
        value = clean_text(value)
        if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + value
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def table_csv(table: Table) -> str:
    """The table as CSV, with the same rows and columns as the HTML table."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.label for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


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
    table = Table(
        "waterfall",
        f"From all downloads to the honest number, {report.honest_window.label()}",
        (Column("Step"), Column("Downloads", "int"), Column("Share of all downloads", "pct")),
        tuple((s.label, -s.value if s.kind == "minus" else s.value, s.share) for s in steps),
    )
    note = ""
    heading = "From all downloads to the honest number"
    if not report.ci_available:  # the source has no CI flag: the waterfall stops at package managers
        heading = "From all downloads to package-manager installs"
        note = f"CI flag {analysis.NOT_AVAILABLE}: the last step cannot leave CI installs out."
        table = replace(
            table, caption=f"From all downloads to package-manager installs, {report.honest_window.label()}"
        )
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
    honest_label = "Honest installs" if ci else "Package-manager installs, CI included"
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
    what = "honest installs" if report.ci_available else "package-manager installs (CI included)"
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
    words = "honest installs, last 30 days" if report.ci_available else "package-manager installs, last 30 days"
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


# -- what maintainers ask ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    """A question the page answers with a weekly share chart and a table: its sentence says the answer."""

    id: str
    title: str
    answer: str
    table: Table
    chart: Chart | None
    key: tuple[str, ...]
    """The chart's series, in its colour order (the page's key; style.css colours c0, c1, …)."""


def _share_chart(s: analysis.ShareOverTime, what: str, chart_id: str) -> tuple[Any, tuple[str, ...]]:
    from generator import drawing

    if len(s.weeks) < 2 or not s.labels:
        return None, ()
    key = tuple(clean_text(label) for label in s.labels)
    chart = drawing.share_over_time(
        [(w.end, w.counts) for w in s.weeks],
        list(s.labels),
        title=f"Share of {what} per week",
        description=f"Share of {what} by week from {s.weeks[0].end} to {s.weeks[-1].end}, stacked to 100%;"
        f" {len(s.labels)} bands: {', '.join(key)}.",
        chart_id=chart_id,
    )
    return chart, key


def python_question(report: PackageReport) -> Question | None:
    """Can I drop Python 3.X? Installs per Python version, and what dropping it and older ones would affect."""
    b = next((b for b in report.breakdowns if b.key == dimensions.PYTHON_MINOR.name and not b.unavailable), None)
    if b is None or not b.total:
        return None
    lines = analysis.drop_lines(b)
    who = report.population
    table = Table(
        "drop-python",
        f"{who.capitalize()} by Python version, {report.honest_window.label()}, oldest first; share of {who}",
        (
            Column("Python version"),
            Column("Installs", "int"),
            Column("Share", "pct"),
            Column("It and older", "int"),
            Column("Share, it and older", "pct"),
        ),
        tuple((d.version, d.installs, d.share, d.and_older, d.and_older_share) for d in lines),
    )
    answer = ""
    if lines:
        oldest = lines[0]
        answer = (
            f"Dropping Python {oldest.version} would affect {oldest.installs:,} installs"
            f" ({fmt_pct(oldest.share)} of {who}) {report.coverage.phrase('in the last 30 days')}."
        )
    chart: Chart | None = None
    key: tuple[str, ...] = ()
    if report.python_weekly is not None:
        chart, key = _share_chart(report.python_weekly, f"{who} by Python version", "chart-python")
    return Question("python-h", "Can I drop an old Python version?", answer, table, chart, key)


def upgrade_question(report: PackageReport) -> Question | None:
    """Are users upgrading? Installs per package version over time, with each release's upload date on PyPI
    (or, where it is not known, its first day in the data)."""
    b = next((b for b in report.breakdowns if b.key == dimensions.VERSION.name and not b.unavailable), None)
    if b is None or not b.total:
        return None
    who = report.population
    by_version = {r.version: r for r in report.releases}
    table = Table(
        "versions-in-use",
        f"{who.capitalize()} by package version, {report.honest_window.label()}, newest first; share of {who}",
        (
            Column("Version"),
            Column(UPLOADED, "date"),
            Column("First seen in the data", "date"),
            Column("Installs", "int"),
            Column("Share", "pct"),
        ),
        tuple(
            (
                label,
                getattr(by_version.get(label), "uploaded", None),
                getattr(by_version.get(label), "first_seen", None),
                n,
                analysis.share(n, b.total),
            )
            for label, n in [
                *reversed([i for i in b.items if i[0] != "other"]),
                *[i for i in b.items if i[0] == "other"],
            ]
        ),
    )
    newest = max((r for r in report.releases), key=lambda r: (r.day, r.first_seen, r.version), default=None)
    answer = ""
    if newest is not None:
        n = dict(b.items).get(newest.version, 0)
        when_out = (
            f"uploaded to PyPI {newest.uploaded}" if newest.uploaded else f"first seen in the data {newest.first_seen}"
        )
        head = f"The newest version in the data, {clean_text(newest.version)} ({when_out}),"
        part = fmt_pct(analysis.share(n, b.total))
        when = report.coverage.phrase("in the last 30 days")  # says how many days, when some are missing
        if n:
            answer = f"{head} has {n:,} of the {b.total:,} {who} {when} ({part})."
        else:
            answer = f"{head} has none of the {b.total:,} {who} {when}: only other clients fetched it."
    chart: Chart | None = None
    key: tuple[str, ...] = ()
    if report.version_weekly is not None:
        chart, key = _share_chart(report.version_weekly, f"{who} by package version", "chart-versions")
    return Question("upgrade-h", "Are users upgrading?", answer, table, chart, key)


def environment() -> jinja2.Environment:
    """The Jinja2 environment: autoescape on everywhere, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.templates())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=fmt_int, signed=fmt_signed, pct=fmt_pct, day=fmt_day, cell=fmt_cell, clean=clean_text)
    env.globals.update(category_labels=categories.CATEGORY_LABELS, generator_version=__version__)
    return env


def fmt_int(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def fmt_signed(value: int) -> str:
    if value == 0:
        return "0"
    return f"+{value:,}" if value > 0 else f"−{abs(value):,}"


def fmt_pct(value: float | None) -> str:
    if value is None:
        return "–"
    pct = value * 100
    if pct != 0 and abs(pct) < 0.1:
        return "<0.1%" if pct > 0 else "−<0.1%"
    text = f"{abs(pct):.1f}%"
    return f"−{text}" if pct < 0 and text != "0.0%" else text


def fmt_day(value: dt.date | None) -> str:
    return "–" if value is None else value.isoformat()


def fmt_cell(value: Any, kind: str) -> str:
    if kind == "int":
        return fmt_int(value)
    if kind == "signed":
        return fmt_signed(value)
    if kind == "pct":
        return fmt_pct(value)
    if kind == "date":
        return fmt_day(value)
    return clean_text(str(value)) if value is not None else "–"


def markdown_page(name: str, site: SiteData | None = None) -> tuple[str, str]:
    """(title, html) of content/<name>.md; the methodology's markers become the tables and lists they name."""
    path = resources.content() / f"{name}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RenderError(f"{path}: cannot read content page ({exc.strerror})") from None
    text = text.replace(MAPPING_MARKER, installer_mapping_markdown())
    text = text.replace(VOCABULARY_MARKER, vocabulary.markdown())
    text = text.replace(OTHER_SITES_MARKER, othersites.markdown())
    text = text.replace(LEADERBOARD_EXCLUSIONS_MARKER, leaderboard_view.exclusions_markdown())
    text = text.replace(LEADERBOARD_DATA_MARKER, leaderboard_view.data_markdown(site.leaderboard if site else None))
    md = markdown.Markdown(extensions=MARKDOWN_EXTENSIONS)
    html = md.convert(text)
    title_match = re.search(r"^#\s+(.+?)(\s*\{[^}]*\})?\s*$", text, re.MULTILINE)
    return (title_match.group(1) if title_match else name.title()), html


def installer_mapping_markdown() -> str:
    """The installer → category mapping as a Markdown table (one source of truth: categories.py)."""
    lines = [
        "| Installer | Category | pypistats.org mirror? | Why |",
        "|---|---|---|---|",
    ]
    for i in categories.INSTALLERS:
        mirror = "yes" if i.name in categories.PYPISTATS_MIRRORS else "no"
        lines.append(f"| `{i.name}` | {categories.CATEGORY_LABELS[i.category]} | {mirror} | {i.why} |")
    lines.append(
        f"| NULL | {categories.CATEGORY_LABELS[categories.UNKNOWN]} | yes (dropped from without-mirrors)"
        " | the user agent could not be parsed |"
    )
    lines.append(
        f"| any other name | {categories.CATEGORY_LABELS[categories.OTHER]} | no | listed by name on each page |"
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class WindowLine:
    """The honest number over one window, with how many of its days the store holds."""

    label: str
    honest: int
    all: int
    days: int
    held: int


def window_lines(report: PackageReport) -> list[WindowLine]:
    """Honest installs and all downloads over the last day, 7, 30 and 180 days and all days held."""
    from generator.dates import Window, last_days

    first = report.freshness.first_day or report.honest_window.start
    spans = [
        ("Last day", "day", last_days(report.as_of, 1)),
        ("7 days", "week", last_days(report.as_of, 7)),
        ("30 days", "month", last_days(report.as_of, 30)),
        ("180 days", "180 days", last_days(report.as_of, 180)),
        ("All held", "all time", Window(min(first, report.honest_window.start), report.as_of)),
    ]
    out = []
    for label, key, w in spans:
        counts = report.windows.get(key)
        if counts is None:
            continue
        out.append(WindowLine(label, counts["honest"], counts["all"], w.days, report.freshness.coverage(w).held))
    return out


def windows_table(report: PackageReport) -> Table:
    what = "Honest installs" if report.ci_available else "Package-manager installs, CI included"
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
        tuple((w.label, w.honest, w.all, w.held, w.days) for w in window_lines(report)),
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


# The page's sections, in order, for its contents list: (anchor, title).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("waterfall-h", "From all downloads to the honest number"),
    ("sources-h", "Every source, rule by rule"),
    ("daily-h", "The honest number over time"),
    ("python-h", "Can I drop an old Python version?"),
    ("upgrade-h", "Are users upgrading?"),
    ("installers-h", "Installers"),
    ("mirrors-h", "Mirrors and releases"),
    ("breakdowns-h", "Who installs it"),
    ("cross-check-h", "Cross-check between sources"),
    ("freshness-h", "Data freshness"),
    ("badges-h", "Badges and data"),
)


QUESTION_IDS = frozenset({"python-h", "upgrade-h"})


class PackageFigures(TypedDict):
    """A package page's figures, by the name package.html reads them under (`figures.daily`)."""

    waterfall: Figure
    mirrors: list[Figure]
    breakdowns: list[Figure]
    daily: Figure
    cross_checks: list[Figure]


class PackageContext(TypedDict):
    """The names package.html reads: `package_context` makes them, `render_package` passes them."""

    site: SiteData
    page: PackagePage
    report: PackageReport
    figures: PackageFigures
    sources: Table
    first: FirstScreen
    matrix: Matrix
    windows: Table
    rule_names: dict[str, str]
    spark: Chart | None
    has_card: bool
    window_lines: list[WindowLine]
    sections: list[tuple[str, str]]
    questions: list[Question]
    installers: Table
    tables: list[Table]
    """Every table the page shows, each also written as CSV beside it."""
    top_n: int
    api_endpoints: tuple[str, ...]
    root: str
    source_title: str
    page_title: str
    canonical_path: str
    lb_rank: PageRank | None
    """The package's line on the leaderboard, when the site has one and the package is in its top N."""


def package_context(page: PackagePage, site: SiteData) -> PackageContext:
    from generator import headline
    from generator.sources import source_title

    report = page.report
    figures: PackageFigures = {
        "waterfall": waterfall_figure(report),
        "mirrors": mirror_figures(report),
        "breakdowns": breakdown_figures(report),
        "daily": timeseries_figure(report),
        "cross_checks": cross_check_figures(report),
    }
    sources = sources_table(report)
    matrix = headline.matrix(report)
    windows = windows_table(report)
    tables = [
        matrix_table(matrix),
        windows,
        sources,
        installers_table(report),
        figures["waterfall"].table,
        figures["daily"].table,
        *[f.table for f in figures["mirrors"]],
        *[f.table for f in figures["breakdowns"] if not f.unavailable],
        *[f.table for f in figures["cross_checks"]],
    ]
    questions = [q for q in (python_question(report), upgrade_question(report)) if q is not None]
    tables += [q.table for q in questions]
    asked = {q.id for q in questions}
    sections = [
        s
        for s in SECTIONS
        if (s[0] != "cross-check-h" or figures["cross_checks"]) and (s[0] not in QUESTION_IDS or s[0] in asked)
    ]
    if not report.ci_available:
        sections[0] = ("waterfall-h", "From all downloads to package-manager installs")
    spark = sparkline_chart(report)
    return {
        "site": site,
        "page": page,
        "report": report,
        "figures": figures,
        "sources": sources,
        "first": headline.first_screen(report, page.before_store),
        "matrix": matrix,
        "windows": windows,
        "rule_names": analysis.RULES,
        "spark": spark,
        "has_card": spark is not None,  # the og:image is drawn from the same values (social_card)
        "window_lines": window_lines(report),
        "sections": sections,
        "questions": questions,
        "installers": installers_table(report),
        "tables": tables,
        "top_n": analysis.TOP_N,
        "api_endpoints": api.ENDPOINTS,
        "root": "../../",
        "lb_rank": leaderboard_view.rank_of(site.leaderboard, report.project),
        "source_title": source_title(report.source or site.source),
        "page_title": f"{report.project} downloads",
        "canonical_path": layout.package_url(report.project),
    }


def render_package(env: jinja2.Environment, page: PackagePage, site: SiteData) -> tuple[str, list[Table]]:
    """The package page's HTML and the tables to write as CSV beside it."""
    ctx = package_context(page, site)
    try:
        html = env.get_template("package.html").render(**ctx)
    except jinja2.TemplateError as exc:
        raise RenderError(f"{layout.package_page(page.report.project)}: {exc}") from None
    return html, ctx["tables"]


def render_page(env: jinja2.Environment, template: str, out_name: str, **ctx: Any) -> str:
    try:
        return env.get_template(template).render(**ctx)
    except jinja2.TemplateError as exc:
        raise RenderError(f"{out_name}: {exc}") from None


def package_json(page: PackagePage, tables: Sequence[Table]) -> str:
    """Everything the page shows, as one JSON document (data/<name>.json)."""
    r = page.report
    doc = {
        "project": r.project,
        "as_of": r.as_of.isoformat(),
        "honest_30_days": r.honest,
        "ci_flagged_30_days": r.ci,
        "raw_30_days": r.raw_30,
        "windows": r.windows,
        "sources": [
            {
                "key": f.key,
                "name": f.name,
                "window": f.window_label,
                "downloads": f.value,
                "difference": f.delta,
                "missing_days": f.missing_days,
                "rules": [
                    {"rule": x.rule, "label": x.label, "count": x.count, "parts": [list(p) for p in x.parts]}
                    for x in f.rules
                ],
            }
            for f in r.figures
        ],
        "tables": {
            t.id: {"caption": t.caption, "columns": [c.label for c in t.columns], "rows": [list(row) for row in t.rows]}
            for t in tables
        },
        "missing_days": [d.isoformat() for d in r.freshness.missing],
        "days_held": [{"window": label, **c.to_json(), "days": c.days} for label, c in r.freshness.windows],
    }
    if r.source:
        doc["source"] = r.source
    if r.limits:
        doc["not_available_from_source"] = list(r.limits)
    return json.dumps(_clean_json(doc), indent=1, default=_json_default, ensure_ascii=True) + "\n"


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {k: _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


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
