"""What maintainers ask, answered on a package page: can I drop an old Python version, are users
upgrading? Each question is a sentence that says the answer, a table and a weekly share chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from generator import analysis, dimensions
from generator.analysis import PackageReport
from generator.figures import UPLOADED
from generator.tables import Column, Table, clean_text, fmt_pct

if TYPE_CHECKING:  # for annotations only: drawing (vl-convert) is imported where it is used
    from generator.drawing import Chart


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
    who = report.population.noun
    table = Table(
        "drop-python",
        f"{report.population.label} by Python version, {report.honest_window.label()}, oldest first; share of {who}",
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
    who = report.population.noun
    by_version = {r.version: r for r in report.releases}
    table = Table(
        "versions-in-use",
        f"{report.population.label} by package version, {report.honest_window.label()}, newest first; share of {who}",
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
