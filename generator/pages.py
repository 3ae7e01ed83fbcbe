"""The site's data between the late stages: what the page workers, the index, publishing and the
incremental build's manifest read.

Plain dataclasses, no rendering: the incremental build keeps `PackageSummary` in its manifest
without importing Jinja2, Markdown or the charts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from generator import population as populations
from generator.config import BudgetConfig, SiteConfig
from generator.dates import WindowCoverage
from generator.population import Population

if TYPE_CHECKING:
    from generator.analysis import PackageReport
    from generator.api import Document
    from generator.cost import CostSummary, PackageCost
    from generator.feeds import History
    from generator.leaderboard import Leaderboard
    from generator.store import BeforeStore


@dataclass(frozen=True)
class FigureValue:
    """One source's figure, by key, as the badges read it."""

    key: str
    value: int


@dataclass(frozen=True)
class PackageSummary:
    """What the rest of the site needs from a package once its own page is written.

    The index, badges, feed and sitemap read only these fields. A page worker returns it with the
    page's files, and the build manifest keeps it, so a package whose page is reused from the
    previous build needs neither its rows nor its analysis.
    """

    project: str
    honest: int
    raw_30: int
    trend: float | None
    ci_available: bool
    capabilities: frozenset[str]
    figures: tuple[FigureValue, ...]
    coverage: WindowCoverage
    """The days of the last 30 the store holds: every 30-day figure above counts only those."""
    by_category: tuple[tuple[str, int], ...] = ()
    """All downloads of the last 30 days by installer category (generator.categories), for the index's bar."""
    ci: int | None = None
    """CI-flagged package-manager installs of the last 30 days; None when the source has no CI flag."""
    daily: tuple[int | None, ...] = ()
    """The headline's installs on each of the last 30 days, oldest first (None: a day the store lacks)."""

    @property
    def ratio(self) -> float:
        """Honest share of raw downloads in the last 30 days."""
        return self.honest / self.raw_30 if self.raw_30 else 0.0

    @property
    def population(self) -> Population:
        """Who its headline counts, as its page said it (the same words: generator.population)."""
        return populations.of(self.ci_available)

    @classmethod
    def of(cls, report: PackageReport) -> PackageSummary:
        from generator.categories import CATEGORIES, PACKAGE_MANAGER

        window = report.honest_window
        days = {p.day: p for p in report.series if p.day in window}
        ci = report.ci_available
        return cls(
            report.project,
            report.honest,
            report.raw_30,
            report.trend,
            ci,
            frozenset(report.capabilities),
            tuple(FigureValue(f.key, f.value) for f in report.figures),
            report.coverage,
            tuple((c, sum(p.by_category.get(c, 0) for p in days.values())) for c in CATEGORIES),
            report.ci,
            tuple(
                None if d not in days else days[d].honest if ci else days[d].by_category.get(PACKAGE_MANAGER, 0)
                for d in window
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "honest": self.honest,
            "raw_30": self.raw_30,
            "trend": self.trend,
            "ci_available": self.ci_available,
            "capabilities": sorted(self.capabilities),
            "figures": {f.key: f.value for f in self.figures},
            "coverage": self.coverage.to_json(),
            "by_category": dict(self.by_category),
            "ci": self.ci,
            "daily": list(self.daily),
        }

    @classmethod
    def from_json(cls, project: str, doc: dict[str, Any]) -> PackageSummary:
        trend = doc["trend"]
        return cls(
            project,
            int(doc["honest"]),
            int(doc["raw_30"]),
            None if trend is None else float(trend),
            bool(doc["ci_available"]),
            frozenset(str(c) for c in doc["capabilities"]),
            tuple(FigureValue(str(k), int(v)) for k, v in doc["figures"].items()),
            WindowCoverage.from_json(doc["coverage"]),
            tuple((str(k), int(v)) for k, v in doc.get("by_category", {}).items()),
            None if doc.get("ci") is None else int(doc["ci"]),
            tuple(None if v is None else int(v) for v in doc.get("daily", [])),
        )


@dataclass
class PackagePage:
    """A package page being rendered (in a page worker): everything its templates read."""

    report: PackageReport
    """The package's analysis."""
    cost: PackageCost | None = None
    """Its share of the cost ledger's billable jobs, when there are any."""
    api: dict[str, Document] = field(default_factory=dict)
    """Its pypistats.org-compatible API documents by path under api/packages/<name>/ (the page links them)."""
    before_store: BeforeStore | None = None
    """Its downloads before the store's first day as ClickPy holds them, when fetched ([source].clickpy_all_time)."""


@dataclass
class ListedPackage:
    """A package as the rest of the site sees it once its page is written: the index, search, badges,
    feed and sitemap read only its summary, never its analysis (which stayed in the page worker)."""

    report: PackageSummary
    """Its summary; named `report` as on a PackagePage (the index template reads `p.report`)."""
    cost: PackageCost | None = None
    """Its share of the cost ledger's billable jobs, as its page showed it."""


@dataclass
class SiteData:
    title: str
    description: str
    base_url: str
    as_of: dt.date
    source: str
    synthetic: bool
    packages: list[ListedPackage]
    """Every package, once its page is written (build.render_packages fills it; empty while pages render)."""
    generated_by: str = "pypi-stats-site"
    cost: CostSummary | None = None
    """The cost page's figures, when the ledger has billable jobs."""
    price_per_tib: float = BudgetConfig.price_per_tib
    """The on-demand price every dollar figure uses ([budget].price_per_tib)."""
    change_threshold: float = SiteConfig.change_threshold
    """How far the honest number must move to enter the feed ([site].change_threshold)."""
    honest_history: History = field(default_factory=dict)
    """Every build's honest numbers by as-of date (the feed's input), kept in the store's meta table."""
    store_export: dict[str, bytes] = field(default_factory=dict)
    """The store's data export by file name, written under data/store/."""
    backfill: str = ""
    """While a BigQuery backfill is in progress, what every page says about it (see build.backfill_note)."""
    leaderboard: Leaderboard | None = None
    """The PyPI leaderboard ([leaderboard].top), when configured and fetched."""

    @property
    def billed(self) -> bool:
        """Some BigQuery job has been billed: the cost page has something to say, so the main nav links it."""
        return self.cost is not None and bool(self.cost.runs)

    @property
    def ci_included(self) -> bool:
        """The source has no CI flag (ClickPy): the headline number includes CI, and must not be called honest."""
        return any(not p.report.ci_available for p in self.packages)

    @property
    def population(self) -> Population:
        """Who the index's and the feed's numbers count: CI included as soon as one package's number does."""
        return populations.CI_INCLUDED if self.ci_included else populations.HONEST
