"""What each other site counts: one declaration per figure a package page reconciles.

Each figure another site shows (pypistats.org with and without mirrors and its `recent` windows, the
naive sum of its `overall` API, pypinfo's default, BigQuery's COUNT(*), pepy and ClickPy), and this
site's honest number that they are reconciled to, is declared once below: its key, its name, the rule
set it applies to each row, its window, its methodology section and the page that documents its rule,
its column in the reconciliation matrix, its badge and its part on the first screen. Analysis (the
emulations and the reasons behind each difference), the first screen and matrix (generator.headline),
the badges, the index and the methodology read it; `tests/test_othersites.py` fails when a figure's key
is spelled anywhere else in the code.

Plain data: no I/O, and no import from the rest of the generator but the site's layout (analysis sits
above it and applies the rule sets to rows). Called "other sites" because "sources" already names where rows come from
(generator.sources: local files, BigQuery, ClickPy).
"""

from __future__ import annotations

from dataclasses import dataclass

from generator import layout

# -- windows -------------------------------------------------------------------------------------------
MONTH_DAYS = 30
"""The honest number's window, and pypistats.org's "month": the last 30 UTC days ending on the as-of date."""
RETAINED_DATES = 181
"""pypistats.org keeps 180 days of history plus the newest: 181 dates."""


@dataclass(frozen=True)
class Span:
    """Over which days a figure counts: the `days` UTC days ending on the as-of date."""

    days: int | None
    """None: every day the store holds (from its first day, or the month's first day if that is earlier)."""
    words: str
    """The window in plain words, for the methodology's table."""


MONTH = Span(MONTH_DAYS, f"the last {MONTH_DAYS} days")
WEEK = Span(7, "the last 7 days")
DAY = Span(1, "the as-of date alone")
RETAINED = Span(RETAINED_DATES, f"the {RETAINED_DATES} dates pypistats.org keeps")
HELD = Span(None, "every day the store holds")


# -- rule sets -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    """Which rows one series keeps: a rule set, as flags the analysis applies to each row."""

    words: str
    """What it keeps, in plain words (the methodology's table)."""
    package_managers_only: bool = False
    """Only installers in the package_manager category (generator.categories)."""
    drops_ci: bool = False
    """Leaves out rows flagged as CI."""
    pip_only: bool = False
    """Only `installer.name = 'pip'` (pypinfo's default)."""
    drops_malformed_python: bool = False
    """Leaves out a non-NULL details.python that does not match pypistats.org's `^[0-9]\\.[0-9]+.{0,}$`."""
    drops_mirrors: bool = False
    """pypistats.org's `installer NOT IN (its four mirror tools)`: in SQL this also drops a NULL installer."""


EVERY_ROW = Series("every row, mirrors included")
HONEST_INSTALLS = Series("package-manager installs not flagged as CI", package_managers_only=True, drops_ci=True)
WITH_MIRRORS = Series("rows whose Python version is well-formed or NULL", drops_malformed_python=True)
WITHOUT_MIRRORS = Series(
    "rows whose Python version is well-formed or NULL, less pypistats.org's four mirror tools and NULL installers",
    drops_malformed_python=True,
    drops_mirrors=True,
)
PIP_ONLY = Series("rows whose installer is pip", pip_only=True)


# -- who shows it ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Site:
    """Whose figure it is."""

    name: str


THIS_SITE = Site("this site")
BIGQUERY = Site("BigQuery")
CLICKPY_PEPY = Site("ClickPy and pepy")
PYPISTATS = Site("pypistats.org")
"""pypistats.org's own figures and what a script makes of its API: its NULL-installer rule applies to them."""
PYPINFO = Site("pypinfo")


@dataclass(frozen=True)
class Link:
    """A page the methodology cites for a rule, with the words it cites it by."""

    text: str
    url: str


@dataclass(frozen=True)
class Badge:
    """A figure's badge: `badges/<folder>/<name>.{json,svg}` ("" is badges/ itself) and its label."""

    folder: str
    label: str


# -- the figures -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SiteFigure:
    """One figure a package page shows: whose it is, which rows it counts and where the page explains it."""

    key: str
    """Its key in the report (data/<name>.json's `sources`) and in every lookup."""
    name: str
    site: Site
    counts: tuple[Series, ...]
    """Each row counts once for every series that keeps it: the naive sum adds two series."""
    span: Span
    window_label: str
    """The window as the page says it; `{days}` is the number of days it covers."""
    rule: str
    """Its section on the methodology page (content/methodology.md)."""
    link: Link | None = None
    """The page the methodology cites for its rule: the site's code or documentation (None: this site's own)."""
    note: str = ""
    matrix_label: str = ""
    """Its column's header in the reconciliation matrix; "" when another column already shows it."""
    badge: Badge | None = None
    first_screen: str = ""
    """Who the first screen says shows it ("" when the first screen does not show it)."""

    @property
    def anchor(self) -> str:
        """Its link on the methodology page, relative to the site's root."""
        return layout.content_link("methodology", self.rule)

    @property
    def double_counts(self) -> bool:
        return len(self.counts) > 1

    @property
    def drops_malformed_python(self) -> bool:
        return any(s.drops_malformed_python for s in self.counts)

    @property
    def pip_only(self) -> bool:
        return any(s.pip_only for s in self.counts)

    def window_words(self, days: int) -> str:
        """Its window label for a window of `days` days."""
        return self.window_label.format(days=days)


HONEST = SiteFigure(
    "honest",
    "Honest number (this site)",
    THIS_SITE,
    (HONEST_INSTALLS,),
    MONTH,
    "last 30 days",
    "honest-number",
    badge=Badge("", "honest installs"),
)
BIGQUERY_DOCS = Link("PyPI's BigQuery dataset documentation", "https://docs.pypi.org/api/bigquery/")
BIGQUERY_MONTH = SiteFigure(
    "bigquery_30",
    "BigQuery COUNT(*)",
    BIGQUERY,
    (EVERY_ROW,),
    MONTH,
    "last 30 days",
    "rule-raw",
    BIGQUERY_DOCS,
    matrix_label="BigQuery COUNT(*)",
)
BIGQUERY_HELD = SiteFigure(
    "bigquery_all",
    "BigQuery COUNT(*)",
    BIGQUERY,
    (EVERY_ROW,),
    HELD,
    "all {days} days in the store",
    "rule-raw",
    BIGQUERY_DOCS,
)
CLICKPY = SiteFigure(
    "clickpy",
    "ClickPy and pepy.tech",
    CLICKPY_PEPY,
    (EVERY_ROW,),
    HELD,
    "cumulative, {days} days in the store",
    "rule-clickpy",
    Link("ClickHouse/clickpy", "https://github.com/ClickHouse/clickpy"),
    "Both count every row, mirrors included, over all the history they hold: their all-time"
    " totals also cover days before this store's first day.",
    matrix_label="ClickPy and pepy (BigQuery COUNT(*) over every day held)",
    first_screen="pepy and ClickPy",
)
PYPISTATS_CODE = Link(
    "psf/pypistats.org, `pypistats/tasks/pypi.py`",
    "https://github.com/psf/pypistats.org/blob/HEAD/pypistats/tasks/pypi.py",
)
PYPISTATS_WITH = SiteFigure(
    "pypistats_with",
    "pypistats.org with mirrors",
    PYPISTATS,
    (WITH_MIRRORS,),
    MONTH,
    "last 30 days",
    "rule-pypistats",
    PYPISTATS_CODE,
    matrix_label="pypistats.org with mirrors",
    badge=Badge("with-mirrors", "pypistats (with mirrors)"),
)
PYPISTATS_WITHOUT = SiteFigure(
    "pypistats_without",
    "pypistats.org without mirrors",
    PYPISTATS,
    (WITHOUT_MIRRORS,),
    MONTH,
    "last 30 days",
    "rule-pypistats",
    PYPISTATS_CODE,
    # pypistats.org's `recent` last_month is the same rule over the same window: one column shows both.
    matrix_label="pypistats.org without mirrors (and recent: last_month)",
    badge=Badge("without-mirrors", "pypistats (without mirrors)"),
)
PYPISTATS_MONTH = SiteFigure(
    "pypistats_month",
    "pypistats.org recent: last_month",
    PYPISTATS,
    (WITHOUT_MIRRORS,),
    MONTH,
    "30 days ending on the as-of date",
    "rule-month",
    PYPISTATS_CODE,
    first_screen="pypistats.org",
)
PYPISTATS_WEEK = SiteFigure(
    "pypistats_week",
    "pypistats.org recent: last_week",
    PYPISTATS,
    (WITHOUT_MIRRORS,),
    WEEK,
    "7 days",
    "rule-month",
    PYPISTATS_CODE,
    matrix_label="pypistats.org recent: last_week",
)
PYPISTATS_DAY = SiteFigure(
    "pypistats_day",
    "pypistats.org recent: last_day",
    PYPISTATS,
    (WITHOUT_MIRRORS,),
    DAY,
    "1 day",
    "rule-month",
    PYPISTATS_CODE,
    matrix_label="pypistats.org recent: last_day",
)
NAIVE_SUM = SiteFigure(
    "naive_sum",
    "Naive sum of pypistats' overall API",
    PYPISTATS,
    (WITH_MIRRORS, WITHOUT_MIRRORS),
    RETAINED,
    f"{RETAINED_DATES} dates, both series",
    "rule-double-count",
    Link("the pypistats.org API documentation", "https://pypistats.org/api/"),
    matrix_label="Naive sum of pypistats.org's overall API",
)
PYPINFO_DEFAULT = SiteFigure(
    "pypinfo",
    "pypinfo default (pip only)",
    PYPINFO,
    (PIP_ONLY,),
    MONTH,
    "last 30 days",
    "rule-pip-only",
    Link("ofek/pypinfo", "https://github.com/ofek/pypinfo"),
    matrix_label="pypinfo default (pip only)",
)

FIGURES: tuple[SiteFigure, ...] = (
    HONEST,
    BIGQUERY_MONTH,
    BIGQUERY_HELD,
    CLICKPY,
    PYPISTATS_WITH,
    PYPISTATS_WITHOUT,
    PYPISTATS_MONTH,
    PYPISTATS_WEEK,
    PYPISTATS_DAY,
    NAIVE_SUM,
    PYPINFO_DEFAULT,
)
"""Every figure, in the order a page lists them (its sources table, data/<name>.json): the honest number first."""

MATRIX: tuple[SiteFigure, ...] = (
    PYPISTATS_WITHOUT,
    PYPISTATS_WITH,
    PYPISTATS_WEEK,
    PYPISTATS_DAY,
    NAIVE_SUM,
    PYPINFO_DEFAULT,
    BIGQUERY_MONTH,
    CLICKPY,
)
"""The reconciliation matrix's columns, left to right: what maintainers see most first. ClickPy and pepy
count what BigQuery's COUNT(*) over the store's days counts: one column shows both."""

BY_KEY: dict[str, SiteFigure] = {f.key: f for f in FIGURES}
BADGES: tuple[SiteFigure, ...] = tuple(f for f in FIGURES if f.badge is not None)
"""The figures with a badge, in the order their files are written."""


def by_key(key: str) -> SiteFigure:
    return BY_KEY[key]


def markdown() -> str:
    """Every figure as a Markdown table for the methodology: the rows it counts, its window, where it is explained."""
    lines = ["| Figure | What it counts | Window | Source |", "|---|---|---|---|"]
    for f in FIGURES:
        counts = " + ".join(f"({s.words})" if f.double_counts else s.words for s in f.counts)
        if f.double_counts:
            counts = f"both series added, so most rows count twice: {counts}"
        source = f"[{f.link.text}]({f.link.url})" if f.link is not None else "this page"
        lines.append(f"| [{f.name}](#{f.rule}) | {counts} | {f.span.words} | {source} |")
    return "\n".join(lines)
