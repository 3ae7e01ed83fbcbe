"""The analysis: pure functions over aggregate rows. Rule counts must add up exactly."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import analysis, categories, dimensions
from generator.dates import Window, last_days
from generator.store import AggRow

AS_OF = dt.date(2026, 10, 31)


def row(
    day: dt.date = AS_OF,
    installer: str | None = "pip",
    n: int = 1,
    ci: bool = False,
    bad: bool = False,
    breakdown: str = "total",
    value: str | None = None,
) -> AggRow:
    return AggRow(day, installer, ci, bad, breakdown, value, n)


def by_key(rows: list[AggRow], as_of: dt.date = AS_OF) -> dict[str, analysis.SourceFigure]:
    first = min((r.day for r in rows), default=as_of)
    emus = analysis.emulations(as_of, first)
    return {e.key: analysis.explain(rows, e, emus[0]) for e in emus}


def test_every_installer_named_by_linehaul_has_a_category() -> None:
    names = {
        "pip",
        "uv",
        "poetry",
        "pdm",
        "conda",
        "pex",
        "setuptools",
        "distribute",
        "Bazel",
        "maturin",
        "twine",
        "bandersnatch",
        "devpi",
        "z3c.pypimirror",
        "Artifactory",
        "Nexus",
        "pep381client",
        "requests",
        "Homebrew",
        "OS",
        "Browser",
    }
    mapped = {i.name for i in categories.INSTALLERS}
    assert names <= mapped
    assert categories.category(None) == categories.UNKNOWN
    assert categories.category("some-new-tool") == categories.OTHER


def test_our_categories_differ_from_pypistats_for_proxies_and_packagers() -> None:
    assert categories.category("Nexus") == categories.MIRROR
    assert not categories.is_pypistats_mirror("Nexus")
    assert categories.category("pep381client") == categories.MIRROR
    assert categories.category("Homebrew") == categories.SCRIPT
    assert categories.category("OS") == categories.SCRIPT


# (why, rows, source, its figure, its difference from the honest number, the rules that explain it:
# (rule, count, (installer, count) largest first))
FIGURE_CASES = [
    (
        "bandersnatch syncs are named with their count",
        [row(n=100), row(installer="bandersnatch", n=2315), row(installer=None, n=41)],
        "bigquery_30",
        2456,
        2356,
        [("rule-mirrors", 2315, (("bandersnatch", 2315),)), ("rule-unknown", 41, ())],
    ),
    (
        "the naive sum names the double count",
        [row(n=100), row(installer="bandersnatch", n=30)],
        "naive_sum",
        230,
        130,
        [("rule-double-count", 100, ()), ("rule-mirrors", 30, (("bandersnatch", 30),))],
    ),
    (
        "pypinfo's shortfall is per installer",
        [row(n=10), row(installer="uv", n=7), row(installer="pip", ci=True, n=3)],
        "pypinfo",
        13,
        -4,
        [("rule-pip-only", -7, (("uv", -7),)), ("rule-ci", 3, (("pip", 3),))],
    ),
    (
        "rules group their installers largest first",
        [row(n=1), row(installer="requests", n=5), row(installer="Browser", n=9), row(installer="OS", n=2)],
        "bigquery_30",
        17,
        16,
        [("rule-scripts", 16, (("Browser", 9), ("requests", 5), ("OS", 2)))],
    ),
    (
        "malformed python is a negative rule for pypistats",
        [row(n=10), row(n=4, bad=True)],
        "pypistats_without",
        10,
        -4,
        [("rule-malformed-python", -4, ())],
    ),
    (
        "days before the window are their own rule",
        [row(n=5), row(day=AS_OF - dt.timedelta(days=40), n=9)],
        "clickpy",
        14,
        9,
        [("rule-window", 9, ())],
    ),
]


@pytest.mark.parametrize(
    ("why", "rows", "key", "value", "delta", "rules"), FIGURE_CASES, ids=[case[0] for case in FIGURE_CASES]
)
def test_each_difference_is_named_by_its_rules(
    why: str,
    rows: list[AggRow],
    key: str,
    value: int,
    delta: int,
    rules: list[tuple[str, int, tuple[tuple[str, int], ...]]],
) -> None:
    fig = by_key(rows)[key]
    assert fig.value == value, why
    assert fig.delta == delta, why
    assert sorted((r.rule, r.count, r.parts) for r in fig.rules) == sorted(rules), why


def test_waterfall_steps_chain_to_the_honest_number() -> None:
    rows = [
        row(n=50),
        row(ci=True, n=20),
        row(installer="bandersnatch", n=300),
        row(installer=None, n=7),
        row(installer="requests", n=11),
        row(installer="mystery", n=2),
    ]
    steps = analysis.waterfall(rows, last_days(AS_OF, 30))
    values = {s.label: s.value for s in steps}
    assert values["All downloads"] == 390
    assert values["Package-manager installs"] == 390 - 300 - 7 - 11 - 2
    assert steps[-1].value == 50 == by_key(rows)["honest"].value


def test_breakdown_keeps_top_15_then_other() -> None:
    rows = [row(breakdown="country", value=f"C{i:02d}", n=100 - i) for i in range(20)]
    b = analysis.breakdown(rows, dimensions.COUNTRY, last_days(AS_OF, 30))
    assert len(b.items) == 16
    assert b.items[-1] == ("other", sum(100 - i for i in range(15, 20)))
    assert b.total == sum(100 - i for i in range(20))


def test_breakdown_is_package_managers_only() -> None:
    rows = [
        row(breakdown="python_minor", value="3.12", n=5),
        row(installer="bandersnatch", breakdown="python_minor", value=None, n=500),
    ]
    b = analysis.breakdown(rows, dimensions.PYTHON_MINOR, last_days(AS_OF, 30))
    assert b.items == (("3.12", 5),)


def test_missing_days_are_gaps_not_zeros() -> None:
    days = Window(AS_OF - dt.timedelta(days=9), AS_OF)
    available = set(days) - {AS_OF - dt.timedelta(days=3)}
    rows = [row(day=d, n=10) for d in available]
    points = analysis.daily_series(rows, days, available)
    assert len(points) == 9
    assert AS_OF - dt.timedelta(days=3) not in {p.day for p in points}


@pytest.mark.parametrize("installer", [*(i.name for i in categories.INSTALLERS), None, "", "unlisted", "PIP"])
@pytest.mark.parametrize("ci", [None, False, True])
def test_an_honest_row_is_a_package_manager_install_not_flagged_as_ci(installer: str | None, ci: bool | None) -> None:
    honest = analysis.is_honest(AggRow(AS_OF, installer, ci, False, "total", None, 1))
    assert honest == (categories.category(installer) == categories.PACKAGE_MANAGER and not ci)


def test_the_honest_series_and_its_mean_leave_out_ci_and_other_clients() -> None:
    """Honest per day = package-manager installs not flagged as CI; its 7-day mean needs 4 of 7 days held."""
    days = Window(AS_OF - dt.timedelta(days=6), AS_OF)
    available = set(days) - {AS_OF - dt.timedelta(days=1), AS_OF - dt.timedelta(days=2), AS_OF - dt.timedelta(days=3)}
    rows = [
        r
        for i, d in enumerate(sorted(available))
        for r in (
            row(day=d, n=10 * (i + 1)),
            row(day=d, n=4, ci=True),
            row(day=d, installer="bandersnatch", n=100),
        )
    ]
    points = analysis.daily_series(rows, days, available)
    assert [(p.honest, p.ci, p.total) for p in points] == [(10, 4, 114), (20, 4, 124), (30, 4, 134), (40, 4, 144)]
    assert [p.honest_mean for p in points] == [None, None, None, 25.0]


@settings(max_examples=200, deadline=None)
@given(
    held=st.lists(st.booleans(), min_size=1, max_size=40),
    counts=st.lists(st.integers(min_value=0, max_value=10**9), min_size=40, max_size=40),
)
def test_a_7_day_mean_is_over_the_held_days_of_its_7_and_needs_4_of_them(held: list[bool], counts: list[int]) -> None:
    """Each day's mean is the mean of the held days among it and the 6 before it, or none with under 4 held:
    a missing day is left out, never counted as zero."""
    days = Window(AS_OF - dt.timedelta(days=len(held) - 1), AS_OF)
    values = {d: n for d, n, h in zip(days, counts, held, strict=False) if h}
    means = analysis._trailing_means(values, days)
    for day in days:
        week = [values[d] for d in Window(day - dt.timedelta(days=6), day) if d in values]
        assert means[day] == (sum(week) / len(week) if len(week) >= 4 else None), day


def test_release_first_seen_day_and_mirror_share() -> None:
    rows = [
        row(day=AS_OF - dt.timedelta(days=5), installer="bandersnatch", breakdown="version", value="2.0", n=40),
        row(day=AS_OF - dt.timedelta(days=4), breakdown="version", value="2.0", n=9),
        row(day=AS_OF - dt.timedelta(days=50), breakdown="version", value="1.0", n=3),
    ]
    rel = analysis.releases(rows)
    assert [(r.version, r.first_seen, r.mirror_downloads, r.other_downloads) for r in rel] == [
        ("1.0", AS_OF - dt.timedelta(days=50), 0, 3),
        ("2.0", AS_OF - dt.timedelta(days=5), 40, 9),
    ]


def total_rows(
    days: st.SearchStrategy[dt.date], installers: st.SearchStrategy[str | None]
) -> st.SearchStrategy[AggRow]:
    """Total rows on `days` by `installers`, with any count and either CI and Python flag."""
    return st.builds(row, day=days, installer=installers, n=st.integers(1, 10_000), ci=st.booleans(), bad=st.booleans())


installer_names = st.sampled_from([i.name for i in categories.INSTALLERS] + [None, "mystery"])
agg_rows = total_rows(st.dates(AS_OF - dt.timedelta(days=250), AS_OF), installer_names)


@settings(max_examples=150, deadline=None)
@given(st.lists(agg_rows, max_size=60))
def test_rule_counts_add_up_to_every_sources_difference(rows: list[AggRow]) -> None:
    figures = by_key(rows)
    honest = figures["honest"].value
    for fig in figures.values():
        assert fig.value - honest == fig.delta == sum(r.count for r in fig.rules), fig.key
        for rule in fig.rules:
            assert not rule.parts or sum(c for _, c in rule.parts) == rule.count, (fig.key, rule)


# Few installers and days, one in each kind of window (today, the week, the month, before it), so that
# rows often share all but their CI or Python flag, or their day.
alike_rows = total_rows(
    st.sampled_from([AS_OF - dt.timedelta(days=d) for d in (0, 1, 3, 12, 29, 30, 45, 200)]),
    st.sampled_from(["pip", "uv", None, "bandersnatch", "requests"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(alike_rows, max_size=40))
def test_every_source_explains_its_rows_summed_as_it_explains_them_one_by_one(rows: list[AggRow]) -> None:
    """The page explains rows summed by what the sources' rules read (windows, installer, CI and Python
    flags): every figure, rule, detail and their order are the same as from the rows one by one."""
    first = min((r.day for r in rows), default=AS_OF)
    emus = analysis.emulations(AS_OF, first)
    summed = analysis.collapsed(rows, [e.window for e in emus])
    assert sum(r.downloads for r in summed) == sum(r.downloads for r in rows)
    for e in emus:
        assert analysis.explain(summed, e, emus[0]) == analysis.explain(rows, e, emus[0]), e.key


# -- the breakdowns count the headline's population; what maintainers ask -------------------------
def dim_row(value: str, n: int, installer: str | None = "pip", ci: bool = False, bad: bool = False, days: int = 0):
    return row(AS_OF - dt.timedelta(days=days), installer, n, ci=ci, bad=bad, breakdown="python_minor", value=value)


def test_breakdowns_count_honest_installs_in_version_order_and_name_malformed_pythons() -> None:
    rows = [
        dim_row("3.10", 5),
        dim_row("3.9", 7),
        dim_row("3.9", 100, ci=True),  # CI-flagged: not in the headline, not in its breakdown
        dim_row("3.12", 1, installer="requests"),  # not a package manager
        dim_row("10.1", 2, bad=True),  # pypistats.org drops it: the page says so
    ]
    totals = [row(AS_OF, "pip", 14), row(AS_OF, "pip", 100, ci=True), row(AS_OF, "requests", 1)]
    r = analysis.analyse("acme", AS_OF, totals, rows, [], {AS_OF}, Window(AS_OF, AS_OF))
    b = next(b for b in r.breakdowns if b.key == "python_minor")
    assert b.scope == "honest installs"
    assert b.total == r.honest == 14
    assert b.items == (("3.9", 7), ("3.10", 5), ("10.1" + analysis.MALFORMED_SUFFIX, 2))


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (  # oldest first, each with the running total of it and every older version
            (("3.9", 10), ("3.10", 30), ("3.12", 60)),
            [("3.9", 10, 0.1, 10, 0.1), ("3.10", 30, 0.3, 40, 0.4), ("3.12", 60, 0.6, 100, 1.0)],
        ),
        (  # "other", "unknown" and malformed values are not versions anyone drops
            (("3.9", 10), ("10.1" + analysis.MALFORMED_SUFFIX, 5), ("unknown", 5), ("other", 80)),
            [("3.9", 10, 0.1, 10, 0.1)],
        ),
    ],
)
def test_drop_lines(items: tuple, expected: list) -> None:
    b = analysis.Breakdown("python_minor", "Python version", items, 100)
    got = [(d.version, d.installs, d.share, d.and_older, d.and_older_share) for d in analysis.drop_lines(b)]
    assert got == expected


def test_weekly_shares_bin_by_seven_days_back_from_the_as_of_date_and_skip_unheld_weeks() -> None:
    from generator import dimensions

    rows = [dim_row("3.9", 5, days=0), dim_row("3.12", 3, days=6), dim_row("3.12", 5, days=7)]
    rows += [dim_row(f"3.{k}", 1, days=1) for k in range(1, 9)]  # eight more values: two go to "other"
    held = {AS_OF - dt.timedelta(days=d) for d in range(8)}  # weeks 0 and 1 held, older ones not
    s = analysis.weekly_shares(rows, dimensions.PYTHON_MINOR, AS_OF, held, analysis.is_honest, weeks=3, series=6)
    assert [w.end for w in s.weeks] == [AS_OF - dt.timedelta(days=7), AS_OF]
    # The six largest (ties by name), in version order, then "other".
    assert s.labels == ("3.1", "3.2", "3.3", "3.4", "3.9", "3.12", "other")
    assert s.weeks[0].counts["3.12"] == 5
    assert s.weeks[0].held == 1
    assert s.weeks[1].counts == {"3.1": 1, "3.2": 1, "3.3": 1, "3.4": 1, "3.9": 5, "3.12": 3, "other": 4}
