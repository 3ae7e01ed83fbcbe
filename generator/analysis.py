"""Analysis: pure functions from aggregate rows to the numbers and explanations a page shows.

Nothing here does I/O. Every figure another site shows is emulated from the same rows by its
published rule, and its difference from the honest number is split into named rules whose
counts add up exactly (see `explain`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from generator import categories as cat
from generator import dimensions, layout, othersites, vocabulary
from generator import population as populations
from generator.dates import Window, WindowCoverage, last_days, window_coverage
from generator.dimensions import Dimension
from generator.population import Population
from generator.sources import ALL_CAPABILITIES
from generator.store import AggRow

HONEST_DAYS = othersites.MONTH_DAYS
PYPISTATS_RETENTION_DAYS = othersites.RETAINED_DATES  # 180 days of history plus the newest
TOP_N = 15

# Named rules (generator.vocabulary): ids are anchors on the methodology page (content/methodology.md).
RULES: dict[str, str] = {r.id: r.name for r in vocabulary.RULES}


# -- small building blocks ------------------------------------------------------------
def total(rows: Iterable[AggRow], keep: Callable[[AggRow], bool] = lambda r: True) -> int:
    """Sum of downloads over rows that pass `keep`."""
    return sum(r.downloads for r in rows if keep(r))


def is_honest(r: AggRow) -> bool:
    """A package-manager install not flagged as CI: the honest number's rows."""
    return r.installer in cat.PACKAGE_MANAGERS and not r.ci


def pypistats_with_mirrors(r: AggRow) -> bool:
    """pypistats.org keeps every row except a malformed details.python."""
    return not r.python_malformed


def pypistats_without_mirrors(r: AggRow) -> bool:
    """`installer NOT IN (mirrors)`: also drops NULL installers, because NULL NOT IN (...) is NULL."""
    return not r.python_malformed and not cat.is_pypistats_mirror(r.installer)


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# -- the sources we emulate ----------------------------------------------------------------
def keeper(series: othersites.Series) -> Callable[[AggRow], bool]:
    """Whether one series of a figure (its rule set, generator.othersites) keeps a row, as one test."""
    tests: list[Callable[[AggRow], bool]] = []
    if series.package_managers_only:
        tests.append(lambda r: cat.category(r.installer) == cat.PACKAGE_MANAGER)
    if series.drops_ci:
        tests.append(lambda r: not r.ci)
    if series.pip_only:
        tests.append(lambda r: r.installer == "pip")
    if series.drops_malformed_python:
        tests.append(lambda r: not r.python_malformed)
    if series.drops_mirrors:  # NOT IN (mirrors): a NULL installer is dropped too
        tests.append(lambda r: not cat.is_pypistats_mirror(r.installer))
    every: Callable[[AggRow], bool] = _every_row
    return functools.reduce(_both, tests, every)


def _every_row(r: AggRow) -> bool:
    return True


def _both(a: Callable[[AggRow], bool], b: Callable[[AggRow], bool]) -> Callable[[AggRow], bool]:
    """a and b as one test (the first test alone when it is every row: one call less for each row)."""
    return b if a is _every_row else lambda r: a(r) and b(r)


@dataclass(frozen=True)
class Emulation:
    """How one source counts: over which days, and how many times each row counts (0, 1 or 2)."""

    figure: othersites.SiteFigure
    """Its declaration: name, rule set, window, methodology section (generator.othersites)."""
    window_label: str
    window: Window
    multiplicity: Callable[[AggRow], int]

    @property
    def key(self) -> str:
        return self.figure.key


def emulate(figure: othersites.SiteFigure, window: Window, window_label: str) -> Emulation:
    """A figure's rule set over its window: each row counts once per series that keeps it."""
    start, end = window.start, window.end
    tests = [keeper(s) for s in figure.counts]
    if len(tests) == 1:
        test = tests[0]
        return Emulation(figure, window_label, window, lambda r: int(start <= r.day <= end and test(r)))
    return Emulation(
        figure, window_label, window, lambda r: sum(1 for t in tests if t(r)) if start <= r.day <= end else 0
    )


def emulations(as_of: dt.date, first_day: dt.date) -> list[Emulation]:
    """Every source's counting rule for a report on `as_of`; the store's history starts at first_day.

    In generator.othersites' order: the honest number first.
    """
    month = last_days(as_of, HONEST_DAYS)
    history = Window(min(first_day, month.start), as_of)

    def window(span: othersites.Span) -> Window:
        return history if span.days is None else last_days(as_of, span.days)

    return [emulate(f, window(f.span), f.window_words(history.days)) for f in othersites.FIGURES]


# -- explaining a difference ---------------------------------------------------------------
@dataclass(frozen=True)
class RuleDelta:
    """One named rule's contribution to a source's difference from the honest number."""

    rule: str
    label: str
    count: int
    parts: tuple[tuple[str, int], ...] = ()
    """The installers (or other details) behind the count, largest first."""

    @property
    def anchor(self) -> str:
        return layout.content_link("methodology", self.rule)


@dataclass(frozen=True)
class SourceFigure:
    key: str
    name: str
    window_label: str
    value: int
    delta: int
    rules: tuple[RuleDelta, ...]
    anchor: str
    note: str = ""
    coverage: WindowCoverage | None = None
    """The days of the figure's window the store holds (None: not computed)."""

    @property
    def missing_days(self) -> int:
        """Days of the window missing from the store: the figure counts only the others."""
        return self.coverage.missing if self.coverage is not None else 0


Reason = tuple[str, str, str]
"""(rule id, label, detail): detail names the installer behind a part, or is empty."""


def _excess_reason(r: AggRow, honest_window: Window, source: othersites.SiteFigure) -> Reason:
    """Why a row the honest number leaves out is in a source's figure."""
    name = r.installer if r.installer is not None else "NULL"
    if not honest_window.start <= r.day <= honest_window.end:
        return "rule-window", RULES["rule-window"], ""
    kind = cat.category(r.installer)
    if kind == cat.MIRROR:
        if r.installer in ("Nexus", "pep381client"):
            return "rule-proxies", RULES["rule-proxies"], name
        return "rule-mirrors", RULES["rule-mirrors"], name
    if kind == cat.UNKNOWN:
        # pypistats.org's without-mirrors `NOT IN` drops NULL installers: its figures count them with mirrors only.
        pypistats = source.site is othersites.PYPISTATS
        return ("rule-null-installer" if pypistats else "rule-unknown"), RULES["rule-unknown"], ""
    if kind == cat.SCRIPT:
        return "rule-scripts", RULES["rule-scripts"], name
    if kind == cat.OTHER:
        return "rule-other", RULES["rule-other"], name
    return "rule-ci", RULES["rule-ci"], name


def _shortfall_reason(r: AggRow, source: Emulation) -> Reason:
    """Why an honest row is missing from a source's figure."""
    if not source.window.start <= r.day <= source.window.end:
        return "rule-window", f"honest installs outside {source.window_label}", ""
    if source.figure.pip_only:
        return "rule-pip-only", "installs by other package managers not counted", r.installer or "NULL"
    if r.python_malformed:
        return "rule-malformed-python", RULES["rule-malformed-python"], ""
    return "rule-window", "rows outside the source's window", ""


def explain(
    rows: Sequence[AggRow], source: Emulation, honest: Emulation, honest_counts: Sequence[int] | None = None
) -> SourceFigure:
    """A source's figure and its difference from the honest number, split into named rules.

    Every row counts `m` times in the source and `h` times in the honest number; the
    difference m - h is attributed row by row, so the rule counts add up exactly.
    `honest_counts` are the rows' honest multiplicities when the caller has them already
    (one pass for all sources instead of one per source).
    """
    if honest_counts is None:
        honest_counts = [honest.multiplicity(r) for r in rows]
    value = 0
    honest_value = 0
    parts: dict[Reason, int] = defaultdict(int)
    for r, h in zip(rows, honest_counts, strict=True):
        m = source.multiplicity(r)
        value += m * r.downloads
        if h == 1:
            honest_value += r.downloads
        if m == h:
            continue
        if m < h:
            parts[_shortfall_reason(r, source)] -= (h - m) * r.downloads
            continue
        extra = m - h
        if h == 0:
            parts[_excess_reason(r, honest.window, source.figure)] += r.downloads
            extra -= 1
        if extra:
            parts[("rule-double-count", RULES["rule-double-count"], "")] += extra * r.downloads
    return SourceFigure(
        source.key,
        source.figure.name,
        source.window_label,
        value,
        value - honest_value,
        _group(parts),
        source.figure.anchor,
        source.figure.note,
    )


def collapsed(rows: Iterable[AggRow], windows: Sequence[Window]) -> list[AggRow]:
    """The rows summed by all that the sources' counting rules read of a row: which of `windows` hold its
    day, its installer, its CI flag and its Python flag. Each sum is one row, dated on a day of its own.

    `explain` attributes a row's downloads by those alone, so each source's figure and rule counts are
    the same from these rows as from the rows they sum, in a few dozen steps instead of thousands a
    source. The sums come in the order of their first row, so equal rule counts keep their order too.
    """
    inside: dict[dt.date, tuple[bool, ...]] = {}
    first: dict[tuple[tuple[bool, ...], str | None, bool | None, bool], AggRow] = {}
    sums: dict[tuple[tuple[bool, ...], str | None, bool | None, bool], int] = defaultdict(int)
    for r in rows:
        held = inside.get(r.day)
        if held is None:
            held = inside[r.day] = tuple(w.start <= r.day <= w.end for w in windows)
        key = (held, r.installer, r.ci, r.python_malformed)
        first.setdefault(key, r)
        sums[key] += r.downloads
    return [replace(r, downloads=sums[key]) for key, r in first.items()]


def figure(figures: Iterable[SourceFigure], which: othersites.SiteFigure) -> SourceFigure:
    """The figure declared as `which` (generator.othersites) among a report's figures."""
    return next(f for f in figures if f.key == which.key)


def _group(parts: dict[Reason, int]) -> tuple[RuleDelta, ...]:
    """One RuleDelta per (rule, label), with its details largest first; rules largest first."""
    grouped: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for (rule, label, detail), count in parts.items():
        if count:
            grouped[(rule, label)].append((detail, count))
    deltas = [
        RuleDelta(
            rule,
            label,
            sum(c for _, c in details),
            tuple(sorted(((d, c) for d, c in details if d), key=lambda dc: (-abs(dc[1]), dc[0]))),
        )
        for (rule, label), details in grouped.items()
    ]
    return tuple(sorted((d for d in deltas if d.count), key=lambda d: (-abs(d.count), d.rule)))


# -- the report's parts ----------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    label: str
    value: int
    kind: str  # "total", "minus" or "subtotal"
    category: str | None
    share: float  # of all downloads in the window


def waterfall(rows: Sequence[AggRow], window: Window, ci_available: bool = True) -> list[Step]:
    """All downloads down to the honest number, one named subtraction at a time.

    Without a CI flag in the source (`ci_available` False) it stops at package-manager installs,
    labelled as including CI: a "CI-flagged: 0" step would be a wrong number.
    """
    rows = [r for r in rows if window.start <= r.day <= window.end]
    by_cat: dict[str, int] = defaultdict(int)
    for r in rows:
        by_cat[cat.category(r.installer)] += r.downloads
    everything = sum(by_cat.values())
    pm = by_cat[cat.PACKAGE_MANAGER]
    ci = total(rows, lambda r: cat.category(r.installer) == cat.PACKAGE_MANAGER and bool(r.ci))

    def step(label: str, value: int, kind: str, category: str | None = None) -> Step:
        return Step(label, value, kind, category, share(value, everything))

    steps = [
        step("All downloads", everything, "total"),
        *(
            step(cat.CATEGORY_LABELS[c], by_cat[c], "minus", c)
            for c in (cat.MIRROR, cat.UNKNOWN, cat.SCRIPT, cat.OTHER)
        ),
        step("Package-manager installs", pm, "subtotal", cat.PACKAGE_MANAGER),
        step("CI-flagged installs", ci, "minus", None),
        step("Honest number (not CI)", pm - ci, "subtotal", cat.PACKAGE_MANAGER),
    ]
    if not ci_available:
        steps[5:] = [step(PM_WITH_CI_LABEL, pm, "subtotal", cat.PACKAGE_MANAGER)]
    return steps


@dataclass(frozen=True)
class InstallerLine:
    name: str
    category: str
    downloads: int
    ci: int
    share: float
    pypistats_mirror: bool


def installers(rows: Sequence[AggRow], window: Window) -> list[InstallerLine]:
    """Every installer name seen in the window, with its category and CI-flagged part."""
    counts: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if window.start <= r.day <= window.end:
            counts[r.installer][0] += r.downloads
            if r.ci:
                counts[r.installer][1] += r.downloads
    whole = sum(c[0] for c in counts.values())
    lines = [
        InstallerLine(
            name if name is not None else "NULL",
            cat.category(name),
            c[0],
            c[1],
            share(c[0], whole),
            cat.is_pypistats_mirror(name),
        )
        for name, c in counts.items()
    ]
    return sorted(lines, key=lambda x: (-x.downloads, x.name))


CI_TABLE = "breakdown-ci"
"""The CI split's table id (it is a split of the totals, not a dimension of the store)."""


@dataclass(frozen=True)
class Breakdown:
    key: str
    title: str
    items: tuple[tuple[str, int], ...]
    total: int
    scope: str = "package-manager installs"
    """Which downloads it counts; "all downloads" when the source cannot split it by installer."""
    unavailable: str = ""
    """Why the source cannot give it at all ("" when it can): the page says so instead of numbers."""
    table: str = CI_TABLE
    """Its table's id and CSV stem (the dimension's, see generator.dimensions)."""
    within: str = ""
    """Its population's qualifier when it counts inside one value of another dimension ("on Linux"), else ""."""
    coverage: WindowCoverage | None = None
    """The window's days it counts, for a breakdown whose rows from older fetches lack what it needs
    (dimensions.Within): only days fetched in its shape count. None: every day the store holds counts."""
    old_days: int = 0
    """Days of the window the store holds but this breakdown does not count: fetched before its rows
    carried the other dimension's value (refetching them brings them back)."""


def top_items(counts: dict[str, int], n: int = TOP_N, dim: Dimension | None = None) -> tuple[tuple[str, int], ...]:
    """The n largest (ties broken by label), in the dimension's order, then one "other" line for the rest."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    head = dim.sort(ordered[:n]) if dim is not None else ordered[:n]
    rest = sum(v for _, v in ordered[n:])
    return tuple(head + ([("other", rest)] if rest else []))


def breakdown(
    rows: Sequence[AggRow],
    dim: Dimension,
    window: Window,
    keep: Callable[[AggRow], bool] | None = None,
    shapes: Mapping[dt.date, int] | None = None,
) -> Breakdown:
    """Downloads by one dimension over the window, the dimension's population (package managers) by default.

    A dimension counted within one value of another (distributions: Linux) counts only rows with that
    value, and only on the days `shapes` (day → dimensions.ROWS_SHAPE of its rows, every held day) says
    were fetched in a shape whose rows carry it; without `shapes`, every day is taken as this code's shape.
    """

    def in_population(r: AggRow) -> bool:
        return cat.category(r.installer) == dim.population

    keep = keep or in_population
    inside = dim.within
    days = None if inside is None or shapes is None else counted_days(inside, shapes)
    counts: dict[str, int] = defaultdict(int)
    label_of = _Labels(dim)
    for r in rows:
        if r.breakdown != dim.name or not window.start <= r.day <= window.end or not keep(r):
            continue
        if inside is not None and (r.within != inside.value or (days is not None and r.day not in days)):
            continue
        counts[label_of.of(r)] += r.downloads
    out = Breakdown(dim.name, dim.title, top_items(counts, dim=dim), sum(counts.values()), table=dim.table)
    if inside is None:
        return out
    held = set(shapes or ())
    counted = held if days is None else days
    return replace(
        out,
        within=inside.words,
        coverage=window_coverage(window, counted) if shapes is not None else None,
        old_days=sum(1 for d in held - counted if d in window),
    )


def counted_days(inside: dimensions.Within, shapes: Mapping[dt.date, int]) -> set[dt.date]:
    """The held days whose rows carry the value a breakdown is counted within (fetched in its shape or later)."""
    return {day for day, shape in shapes.items() if shape >= inside.since_shape}


MALFORMED_SUFFIX = " (malformed: pypistats.org drops it)"


def breakdown_label(dim: Dimension, r: AggRow) -> str:
    """A row's label in a breakdown; a Python version pypistats.org would drop as malformed says so."""
    label = dim.label(r.installer, r.value)
    if dim is dimensions.PYTHON_MINOR and r.python_malformed:
        return label + MALFORMED_SUFFIX
    return label


class _Labels:
    """`breakdown_label` of one dimension's rows, made once per installer, value and Python flag (a page's
    thousands of rows have some dozens of labels)."""

    def __init__(self, dim: Dimension) -> None:
        self.dim = dim
        self.made: dict[tuple[str | None, str | None, bool], str] = {}

    def of(self, r: AggRow) -> str:
        key = (r.installer, r.value, r.python_malformed)
        label = self.made.get(key)
        if label is None:
            label = self.made[key] = breakdown_label(self.dim, r)
        return label


def ci_split(rows: Sequence[AggRow], window: Window) -> Breakdown:
    """Package-manager installs flagged as CI vs not flagged."""
    pm = [r for r in rows if window.start <= r.day <= window.end and cat.category(r.installer) == cat.PACKAGE_MANAGER]
    flagged = total(pm, lambda r: bool(r.ci))
    whole = total(pm)
    return Breakdown("ci", "CI flag", (("not flagged as CI", whole - flagged), ("flagged as CI", flagged)), whole)


@dataclass(frozen=True)
class DayPoint:
    day: dt.date
    by_category: dict[str, int]
    total: int
    rolling_mean: float | None
    """Trailing 7-day mean of all downloads (None with fewer than 4 of the 7 days held)."""
    honest: int = 0
    """Package-manager installs not flagged as CI."""
    ci: int = 0
    """Package-manager installs flagged as CI."""
    honest_mean: float | None = None
    """Trailing 7-day mean of the honest series, over the held days among the 7 (at least 4)."""


def _trailing_means(
    values: Mapping[dt.date, int], days: Iterable[dt.date], span: int = 7, least: int = 4
) -> dict[dt.date, float | None]:
    """Per day of `days` (consecutive dates): the mean over the held days (`values`) among the `span`
    ending on it; None when fewer than `least` are held. One pass, a running sum: the counts are
    whole numbers, so the sum is exact whatever the order."""
    means: dict[dt.date, float | None] = {}
    inside: deque[dt.date] = deque()
    running = 0
    for day in days:
        if day in values:
            inside.append(day)
            running += values[day]
        while inside and (day - inside[0]).days >= span:
            running -= values[inside.popleft()]
        means[day] = running / len(inside) if len(inside) >= least else None
    return means


def daily_series(rows: Sequence[AggRow], days: Window, available: set[dt.date]) -> list[DayPoint]:
    """Per available day: downloads by category, honest and CI-flagged installs, and trailing 7-day means."""
    per_day: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ci_day: dict[dt.date, int] = defaultdict(int)
    for r in rows:
        kind = cat.category(r.installer)
        per_day[r.day][kind] += r.downloads
        if kind == cat.PACKAGE_MANAGER and r.ci:
            ci_day[r.day] += r.downloads
    held = [day for day in days if day in available]
    counts = {day: {c: per_day[day].get(c, 0) for c in cat.CATEGORIES} for day in held}
    totals = {day: sum(counts[day].values()) for day in held}
    honest = {day: counts[day][cat.PACKAGE_MANAGER] - ci_day[day] for day in held}
    total_means, honest_means = _trailing_means(totals, days), _trailing_means(honest, days)
    return [
        DayPoint(day, counts[day], totals[day], total_means[day], honest[day], ci_day[day], honest_means[day])
        for day in held
    ]


@dataclass(frozen=True)
class Release:
    version: str
    first_seen: dt.date
    mirror_downloads: int
    other_downloads: int
    mirror_tools: tuple[str, ...]
    uploaded: dt.date | None = None
    """Its upload date on PyPI (its first file), None where PyPI's date is not known."""
    mirror_days: int = 0
    """Days on which mirror tools fetched it."""

    @property
    def day(self) -> dt.date:
        """Its upload date, else the first day it appears in the data."""
        return self.uploaded or self.first_seen

    @property
    def continuous_mirrors(self) -> bool:
        """Mirror tools fetched it on more days than a one-time sync per mirror takes."""
        return self.mirror_days > ONE_TIME_SYNC_DAYS


ONE_TIME_SYNC_DAYS = 3
"""A mirror's one fetch of a new release falls within a few days of it; more days mean syncs that keep fetching."""


def releases(
    version_rows: Sequence[AggRow], uploads: Mapping[str, dt.datetime | dt.date | None] | None = None
) -> list[Release]:
    """Each package version, the day it first appears in the data (and its PyPI upload date when known),
    and who fetched it."""
    uploads = uploads or {}
    first: dict[str, dt.date] = {}
    mirror: dict[str, int] = defaultdict(int)
    other: dict[str, int] = defaultdict(int)
    tools: dict[str, set[str]] = defaultdict(set)
    days: dict[str, set[dt.date]] = defaultdict(set)
    for r in version_rows:
        if r.breakdown != dimensions.VERSION.name or r.value is None:
            continue
        first[r.value] = min(first.get(r.value, r.day), r.day)
        if cat.category(r.installer) == cat.MIRROR:
            mirror[r.value] += r.downloads
            tools[r.value].add(r.installer or "NULL")
            days[r.value].add(r.day)
        else:
            other[r.value] += r.downloads
    return sorted(
        (
            Release(v, d, mirror[v], other[v], tuple(sorted(tools[v])), _day(uploads.get(v)), len(days[v]))
            for v, d in first.items()
        ),
        key=lambda x: (x.day, x.first_seen, x.version),
    )


def _day(t: dt.datetime | dt.date | None) -> dt.date | None:
    return t.date() if isinstance(t, dt.datetime) else t


def mirror_tools(rows: Sequence[AggRow], window: Window) -> list[tuple[str, int]]:
    """Downloads by each mirror or proxy tool in the window."""
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        if window.start <= r.day <= window.end and cat.category(r.installer) == cat.MIRROR:
            counts[r.installer or "NULL"] += r.downloads
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


@dataclass(frozen=True)
class Freshness:
    as_of: dt.date
    first_day: dt.date | None
    last_day: dt.date | None
    missing: tuple[dt.date, ...]
    """Days after the first day held that the store lacks: the gaps in the charts."""
    window: Window
    windows: tuple[tuple[str, WindowCoverage], ...] = ()
    """Each window the page's figures cover, with the days of it held: the page's one count of missing days."""
    held: frozenset[dt.date] = frozenset()
    """Every day the store holds for this package, up to the as-of date."""

    def coverage(self, window: Window) -> WindowCoverage:
        """How many of `window`'s days the store holds (the same count for every table on the page)."""
        return window_coverage(window, self.held)


def freshness(
    as_of: dt.date, window: Window, available: set[dt.date], figures: Sequence[SourceFigure] = ()
) -> Freshness:
    """The store's days for this package, and the coverage of each distinct window the figures use."""
    present = sorted(available)
    missing = tuple(d for d in window if d not in available and (not present or d >= present[0]))
    windows: dict[Window, tuple[str, WindowCoverage]] = {}
    for f in figures:
        if f.coverage is not None:
            windows.setdefault(f.coverage.window, (f.window_label, f.coverage))
    store = window_coverage(window, available)
    windows.setdefault(window, (f"the store's {window.days} days ([source].history_days)", store))
    return Freshness(
        as_of,
        present[0] if present else None,
        present[-1] if present else None,
        missing,
        window,
        tuple(sorted(windows.values(), key=lambda item: (item[1].days, item[1].window.start))),
        frozenset(d for d in available if d <= as_of),
    )


def trend(rows: Sequence[AggRow], as_of: dt.date, available: set[dt.date]) -> float | None:
    """Honest installs in the last 30 days relative to the 30 before; None unless both are fully held."""
    previous = last_days(as_of - dt.timedelta(days=HONEST_DAYS), HONEST_DAYS)
    current = last_days(as_of, HONEST_DAYS)
    if not (window_coverage(previous, available).complete and window_coverage(current, available).complete):
        return None
    before = total(rows, lambda r: previous.start <= r.day <= previous.end and is_honest(r))
    now = total(rows, lambda r: current.start <= r.day <= current.end and is_honest(r))
    return now / before - 1 if before else None


@dataclass
class PackageReport:
    project: str
    as_of: dt.date
    honest_window: Window
    honest: int
    ci: int | None
    """CI-flagged package-manager installs; None when the source has no CI flag."""
    raw_30: int
    figures: list[SourceFigure]
    waterfall: list[Step]
    installers: list[InstallerLine]
    breakdowns: list[Breakdown]
    series: list[DayPoint]
    releases: list[Release]
    mirror_tools_30: list[tuple[str, int]]
    mirror_tools_all: list[tuple[str, int]]
    freshness: Freshness
    trend: float | None
    windows: tuple[ReportWindow, ...] = ()
    """The last day, 7, 30 and 180 days and all days held: each window's totals and days held."""
    source: str = ""
    """The store source the rows came from ("local", "bigquery", "clickpy")."""
    capabilities: frozenset[str] = ALL_CAPABILITIES
    limits: tuple[str, ...] = ()
    """What the source cannot support, in plain words (empty for a source with every capability)."""
    cross_checks: list[CrossCheck] = field(default_factory=list)
    """Per-day differences from other sources held in the store for this package."""
    python_weekly: ShareOverTime | None = None
    """The headline population's Python versions per week (pypistats.org's retained days)."""
    version_weekly: ShareOverTime | None = None
    """The headline population's package versions per week."""

    population: Population = field(init=False)
    """Who the headline counts, in the words every page, badge and feed uses: the source's CI flag decides."""

    def __post_init__(self) -> None:
        self.population = populations.of(self.ci_available)

    @property
    def ci_available(self) -> bool:
        return "ci" in self.capabilities

    @property
    def ratio(self) -> float:
        """Honest share of raw downloads in the last 30 days."""
        return share(self.honest, self.raw_30)

    @property
    def coverage(self) -> WindowCoverage:
        """The days of the last 30 the store holds: the headline and every 30-day figure count only those."""
        coverage = figure(self.figures, othersites.HONEST).coverage
        return coverage if coverage is not None else WindowCoverage(self.honest_window, self.honest_window.days)


@dataclass(frozen=True)
class ReportWindow:
    """One of the report's five windows: its downloads under each counting rule, and how many of its
    days the store holds (a window held only in part says so, and counts only the days held)."""

    key: str
    """Its name in data/<name>.json: "day", "week", "month", "180 days", "all time"."""
    label: str
    """Its name on the page: "Last day", "7 days", "30 days", "180 days", "All held"."""
    window: Window
    counts: dict[str, int]
    """Downloads under each rule: all, with_mirrors, without_mirrors, pip, honest (in that order)."""
    coverage: WindowCoverage

    @property
    def honest(self) -> int:
        return self.counts["honest"]

    @property
    def all(self) -> int:
        return self.counts["all"]

    @property
    def days(self) -> int:
        return self.window.days

    @property
    def held(self) -> int:
        return self.coverage.held


REPORT_WINDOWS: tuple[tuple[str, str, int | None], ...] = (
    ("day", "Last day", 1),
    ("week", "7 days", 7),
    ("month", "30 days", 30),
    ("180 days", "180 days", 180),
    ("all time", "All held", None),
)
"""The report's windows: (key, label, days ending on the as-of date; None: every day held)."""


def report_windows(
    rows: Sequence[AggRow], as_of: dt.date, history: Window, available: Iterable[dt.date]
) -> tuple[ReportWindow, ...]:
    """Totals for all time and the last 1/7/30/180 days under each counting rule, with the days held of each."""
    held = frozenset(available)
    windows = [(key, label, history if n is None else last_days(as_of, n)) for key, label, n in REPORT_WINDOWS]
    # Each row's counts under the five rules, once; each window sums the rows inside it.
    counted = [
        (
            r.day,
            r.downloads,
            pypistats_with_mirrors(r),
            pypistats_without_mirrors(r),
            r.installer == "pip",
            is_honest(r),
        )
        for r in rows
    ]
    out = []
    for key, label, w in windows:
        inside = [c for c in counted if w.start <= c[0] <= w.end]
        counts = {
            "all": sum(c[1] for c in inside),
            "with_mirrors": sum(c[1] for c in inside if c[2]),
            "without_mirrors": sum(c[1] for c in inside if c[3]),
            "pip": sum(c[1] for c in inside if c[4]),
            "honest": sum(c[1] for c in inside if c[5]),
        }
        out.append(ReportWindow(key, label, w, counts, window_coverage(w, held)))
    return tuple(out)


def analyse(
    project: str,
    as_of: dt.date,
    totals_rows: Sequence[AggRow],
    breakdown_rows: Sequence[AggRow],
    version_rows: Sequence[AggRow],
    available: set[dt.date],
    store_window: Window,
    *,
    source: str = "",
    capabilities: Iterable[str] = ALL_CAPABILITIES,
    others: Mapping[str, tuple[Sequence[AggRow], set[dt.date]]] | None = None,
    retained: Sequence[AggRow] = (),
    uploads: Mapping[str, dt.datetime | dt.date | None] | None = None,
    shapes: Mapping[dt.date, int] | None = None,
) -> PackageReport:
    """Everything a package page shows, from its aggregate rows.

    `capabilities` are the source's (generator.sources.ALL_CAPABILITIES): whatever it lacks is
    marked "not available from this source", never computed from NULL columns. `others` maps
    another source held in the store to its total rows and covered days, for the cross-check.
    `retained` are the breakdown rows of pypistats.org's 181 retained days (Python versions per week).
    `uploads` maps a version to its upload time on PyPI, where known. `shapes` maps each held day to the
    shape of its rows (dimensions.ROWS_SHAPE); without it every day is taken as this code's shape.
    """
    caps = frozenset(capabilities)
    month = last_days(as_of, HONEST_DAYS)
    first_day = min(available) if available else month.start
    history = Window(min(first_day, month.start), as_of)
    emus = emulations(as_of, first_day)
    honest_emu = next(e for e in emus if e.figure is othersites.HONEST)
    counted = collapsed(totals_rows, [e.window for e in emus])
    honest_counts = [honest_emu.multiplicity(r) for r in counted]
    figures = [explain(counted, e, honest_emu, honest_counts) for e in emus]
    figures = [_with_missing(f, e, available) for f, e in zip(figures, emus, strict=True)]
    figures = _limit_figures(figures, caps)
    steps = waterfall(totals_rows, month, ci_available="ci" in caps)
    ci = total(
        totals_rows,
        lambda r: month.start <= r.day <= month.end and cat.category(r.installer) == cat.PACKAGE_MANAGER and bool(r.ci),
    )
    if caps == ALL_CAPABILITIES:
        # Over the headline's population: package-manager installs not flagged as CI.
        by_dim: dict[str, list[AggRow]] = defaultdict(list)  # each dimension reads its own rows only
        for r in breakdown_rows:
            by_dim[r.breakdown].append(r)
        dims = [
            replace(breakdown(by_dim.get(dim.name, []), dim, month, keep=is_honest, shapes=shapes), scope=HONEST_SCOPE)
            for dim in dimensions.DIMENSIONS
        ]
        dims = [d for d in dims if d.total or d.key in by_dim]
        dims.append(ci_split(totals_rows, month))
    else:
        dims = limited_breakdowns(totals_rows, breakdown_rows, month, caps, shapes)
    weekly = _weekly(caps, as_of, available, retained, version_rows)
    return PackageReport(
        project=project,
        as_of=as_of,
        honest_window=month,
        honest=figure(figures, othersites.HONEST).value,
        ci=ci if "ci" in caps else None,
        raw_30=figure(figures, othersites.BIGQUERY_MONTH).value,
        figures=figures,
        waterfall=steps,
        installers=installers(totals_rows, month),
        breakdowns=dims,
        series=daily_series(totals_rows, Window(history.start, as_of), available),
        releases=releases(version_rows, uploads),
        mirror_tools_30=mirror_tools(totals_rows, month),
        mirror_tools_all=mirror_tools(totals_rows, history),
        freshness=freshness(as_of, store_window, available, figures),
        trend=trend(totals_rows, as_of, available),
        windows=report_windows(totals_rows, as_of, history, available),
        source=source,
        capabilities=caps,
        limits=limits(caps),
        cross_checks=[
            cross_check(totals_rows, rows, available & days, source, name, history)
            for name, (rows, days) in sorted((others or {}).items())
            if name != source
        ],
        python_weekly=weekly.get(dimensions.PYTHON_MINOR.name),
        version_weekly=weekly.get(dimensions.VERSION.name),
    )


def _weekly(
    caps: frozenset[str],
    as_of: dt.date,
    available: set[dt.date],
    retained: Sequence[AggRow],
    version_rows: Sequence[AggRow],
) -> dict[str, ShareOverTime]:
    """Python and package versions per week, over the headline's population where the source has it."""
    out = {}
    for dim, rows in ((dimensions.PYTHON_MINOR, retained), (dimensions.VERSION, version_rows)):
        if dim.name not in caps or f"{dim.name}.by_installer" not in caps:
            continue  # a source without the installer on these rows cannot count the headline's population
        keep = is_honest if "ci" in caps else (lambda r: cat.category(r.installer) == cat.PACKAGE_MANAGER)
        # `retained` holds every breakdown's rows: this one's are a tenth of them
        out[dim.name] = weekly_shares([r for r in rows if r.breakdown == dim.name], dim, as_of, available, keep)
    return out


def _with_missing(fig: SourceFigure, emu: Emulation, available: set[dt.date]) -> SourceFigure:
    return replace(fig, coverage=window_coverage(emu.window, available))


# -- what the source can support (generator.sources capabilities) ---------------------------------
# A source without a capability leaves that column NULL (ClickPy: no CI flag, no malformed-Python
# flag, no installer version, implementation or distro, and Python version and OS only for all
# installers together). Each gap is said in plain words where the page would otherwise show it.
NOT_AVAILABLE = "not available from this source"
HONEST_SCOPE = populations.HONEST.noun
"""The breakdowns' population when the source has a CI flag: the headline's."""
PM_WITH_CI_LABEL = "Package-manager installs, CI included (no CI flag in this source)"
ALL_DOWNLOADS_SCOPE = "all downloads (this source cannot restrict it to package managers)"


def limits(capabilities: Iterable[str]) -> tuple[str, ...]:
    """What a source with these capabilities cannot support, one plain sentence each."""
    caps = frozenset(capabilities)
    out: list[str] = []
    if "ci" not in caps:
        out.append(
            "CI flag not available from this source: the headline counts package-manager installs with CI"
            " included, so it is higher than the honest number would be."
        )
    if "python_malformed" not in caps:
        out.append(
            "pypistats.org's malformed-Python rule not available from this source: its figures here include"
            " the rows pypistats.org drops (usually well under 1%)."
        )
    missing = [d.noun for d in dimensions.DIMENSIONS if d.name not in caps]
    if missing:
        out.append(f"Breakdowns {NOT_AVAILABLE}: {', '.join(missing)}.")
    whole = [d.title for d in dimensions.DIMENSIONS if d.name in caps and f"{d.name}.by_installer" not in caps]
    if whole:
        out.append(
            f"{', '.join(whole)}: shown for all downloads (mirrors and scripts included); this source cannot"
            " restrict them to package-manager installs."
        )
    return tuple(out)


def _limit_figures(figures: list[SourceFigure], caps: frozenset[str]) -> list[SourceFigure]:
    """Name what each figure cannot leave out when the source lacks a flag its rule needs."""
    out = []
    for f in figures:
        if f.key == othersites.HONEST.key and "ci" not in caps:
            f = replace(
                f,
                name="Package-manager installs, CI included",
                note=_join(f.note, "CI flag not available from this source: the honest number cannot leave CI out."),
            )
        elif othersites.by_key(f.key).drops_malformed_python and "python_malformed" not in caps:
            f = replace(
                f,
                note=_join(
                    f.note,
                    "Malformed-Python flag not available from this source: this figure includes the rows"
                    " pypistats.org drops for a malformed Python version.",
                ),
            )
        out.append(f)
    return out


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def limited_breakdowns(
    totals_rows: Sequence[AggRow],
    breakdown_rows: Sequence[AggRow],
    window: Window,
    caps: frozenset[str],
    shapes: Mapping[dt.date, int] | None = None,
) -> list[Breakdown]:
    """Every breakdown, for a source missing some capabilities.

    A breakdown the source lacks is kept, marked unavailable; one it has only for all installers
    together (rows with installer NULL meaning "all") counts every row and says so, rather than
    being filtered away as unknown-installer rows or passed off as package-manager installs.
    """
    why = NOT_AVAILABLE  # the page names the source once, above
    out = []
    for dim in dimensions.DIMENSIONS:
        if dim.name not in caps:
            unavailable = f"{dim.noun[:1].upper()}{dim.noun[1:]}: {why}."
            out.append(Breakdown(dim.name, dim.title, (), 0, unavailable=unavailable, table=dim.table))
        elif f"{dim.name}.by_installer" in caps:
            out.append(breakdown(breakdown_rows, dim, window, shapes=shapes))
        else:
            whole = breakdown(breakdown_rows, dim, window, keep=lambda r: True, shapes=shapes)
            out.append(replace(whole, scope=ALL_DOWNLOADS_SCOPE))
    if "ci" in caps:
        out.append(ci_split(totals_rows, window))
    else:
        out.append(Breakdown("ci", "CI flag", (), 0, unavailable=f"CI flag: {why}."))
    return out


@dataclass(frozen=True)
class CrossCheckDay:
    """One day's totals from this page's source and another source in the store."""

    day: dt.date
    this_all: int
    other_all: int
    this_pm: int
    other_pm: int

    @property
    def all_difference(self) -> int:
        return self.this_all - self.other_all

    @property
    def pm_difference(self) -> int:
        return self.this_pm - self.other_pm


@dataclass(frozen=True)
class CrossCheck:
    """Where two sources held in the store disagree for one package, per day.

    Package-manager installs are compared CI included (ClickPy has no CI flag to leave it out).
    """

    this_source: str
    other_source: str
    days_compared: int
    differing: tuple[CrossCheckDay, ...]
    """Only the days whose figures differ, oldest first."""
    this_total: int
    other_total: int

    @property
    def agree(self) -> bool:
        return not self.differing


def cross_check(
    this_rows: Sequence[AggRow],
    other_rows: Sequence[AggRow],
    days: Iterable[dt.date],
    this_source: str,
    other_source: str,
    window: Window | None = None,
) -> CrossCheck:
    """Compare two sources' total rows on the days both hold (within `window`), day by day."""
    both = {d for d in days if window is None or window.start <= d <= window.end}

    def per_day(rows: Sequence[AggRow]) -> dict[dt.date, tuple[int, int]]:
        out: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
        for r in rows:
            if r.breakdown == dimensions.TOTAL and r.day in both:
                out[r.day][0] += r.downloads
                if cat.category(r.installer) == cat.PACKAGE_MANAGER:
                    out[r.day][1] += r.downloads
        return {d: (v[0], v[1]) for d, v in out.items()}

    mine, theirs = per_day(this_rows), per_day(other_rows)
    lines = []
    for d in sorted(both):
        a, b = mine.get(d, (0, 0)), theirs.get(d, (0, 0))
        if a != b:
            lines.append(CrossCheckDay(d, a[0], b[0], a[1], b[1]))
    return CrossCheck(
        this_source,
        other_source,
        len(both),
        tuple(lines),
        sum(v[0] for v in mine.values()),
        sum(v[0] for v in theirs.values()),
    )


# -- what maintainers ask: can I drop a Python version, are users upgrading ----------------------------
SHARE_WEEKS = 26
"""Weeks of the share-over-time charts: pypistats.org's 181 retained days hold about 26."""
SHARE_SERIES = 6
"""Values drawn one by one in a share-over-time chart; the rest are "other"."""


@dataclass(frozen=True)
class ShareWeek:
    """One 7-day bin of a share-over-time chart: the counts of each shown value, over the days held."""

    end: dt.date
    held: int
    counts: dict[str, int]


@dataclass(frozen=True)
class ShareOverTime:
    key: str
    labels: tuple[str, ...]
    """The values drawn, in the dimension's order, "other" last."""
    weeks: tuple[ShareWeek, ...]
    """Oldest first; a week with no held day is left out (a gap, not a zero)."""


def weekly_shares(
    rows: Sequence[AggRow],
    dim: Dimension,
    as_of: dt.date,
    available: set[dt.date],
    keep: Callable[[AggRow], bool],
    weeks: int = SHARE_WEEKS,
    series: int = SHARE_SERIES,
) -> ShareOverTime:
    """Counts of a dimension's values per 7-day bin ending on `as_of`, the `series` largest apart."""
    first = as_of - dt.timedelta(days=7 * weeks - 1)
    per_bin: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    overall: dict[str, int] = defaultdict(int)
    label_of = _Labels(dim)
    for r in rows:
        if r.breakdown != dim.name or not first <= r.day <= as_of or not keep(r):
            continue
        label = label_of.of(r)
        per_bin[(as_of - r.day).days // 7][label] += r.downloads
        overall[label] += r.downloads
    ranked = sorted(overall.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [label for label, _ in dim.sort(ranked[:series])]
    labels = tuple(shown + (["other"] if len(ranked) > series else []))
    out = []
    for i in reversed(range(weeks)):
        end = as_of - dt.timedelta(days=7 * i)
        held = sum(1 for k in range(7) if end - dt.timedelta(days=k) in available)
        if not held:
            continue
        counts = {label: 0 for label in labels}
        for label, n in per_bin.get(i, {}).items():
            counts[label if label in shown else "other"] += n
        out.append(ShareWeek(end, held, counts))
    return ShareOverTime(dim.name, labels, tuple(out))


@dataclass(frozen=True)
class DropLine:
    """What dropping support for one Python version would affect, in the last 30 days."""

    version: str
    installs: int
    share: float
    and_older: int
    """Installs on this version and every older one: what dropping all of them would affect."""
    and_older_share: float


def drop_lines(b: Breakdown) -> list[DropLine]:
    """Each Python version in version order, with its installs and the running total of older ones.

    "other", "unknown" and malformed values are not versions anyone drops: they are left out.
    """
    out = []
    running = 0
    for label, n in b.items:
        if label in ("other", "unknown") or label.endswith(MALFORMED_SUFFIX):
            continue
        running += n
        out.append(DropLine(label, n, share(n, b.total), running, share(running, b.total)))
    return out
