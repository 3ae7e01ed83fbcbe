"""The first screen's words and the reconciliation matrix, from hand-made rows (generator.headline)."""

from __future__ import annotations

import datetime as dt

import pytest
from test_analysis import AS_OF, row

from generator import analysis, headline, othersites
from generator.analysis import RuleDelta, SourceFigure

DAYS = {AS_OF - dt.timedelta(days=i) for i in range(60)}


def report(rows: list) -> analysis.PackageReport:
    window = analysis.Window(min(DAYS), AS_OF)
    return analysis.analyse("acme", AS_OF, rows, [], [], DAYS, window)


def figure(value: int, *rules: tuple[str, int]) -> SourceFigure:
    deltas = tuple(RuleDelta(rule, analysis.RULES[rule], n) for rule, n in rules)
    return SourceFigure("pypistats_month", "pypistats.org", "last 30 days", value, sum(n for _, n in rules), deltas, "")


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ((), "pypistats.org shows 100, the same as the honest number."),
        (
            (("rule-ci", 17108), ("rule-scripts", 7924), ("rule-proxies", 1074)),
            "pypistats.org shows 100: it also counts 17,108 CI-flagged installs, 7,924 downloads by scripts,"
            " browsers and packagers and 1,074 downloads by Nexus and pep381client.",
        ),
        (  # one rule beyond the three: named, not "smaller rules"
            (("rule-ci", 40), ("rule-scripts", 30), ("rule-proxies", 20), ("rule-other", 1)),
            "pypistats.org shows 100: it also counts 40 CI-flagged installs, 30 downloads by scripts, browsers"
            " and packagers, 20 downloads by Nexus and pep381client and 1 download by other named clients.",
        ),
        (  # two or more beyond: one remainder, so the sentence still adds up
            (("rule-ci", 40), ("rule-scripts", 30), ("rule-proxies", 20), ("rule-other", 5), ("rule-unknown", 4)),
            "pypistats.org shows 100: it also counts 40 CI-flagged installs, 30 downloads by scripts, browsers"
            " and packagers, 20 downloads by Nexus and pep381client and 9 more by 2 smaller rules.",
        ),
        (  # what a source leaves out is always named, however small
            (("rule-ci", 5), ("rule-malformed-python", -1)),
            "pypistats.org shows 100: it also counts 5 CI-flagged installs; it leaves out 1 install with a"
            " malformed Python version.",
        ),
    ],
)
def test_why_sentence_names_the_largest_rules(rules: tuple, expected: str) -> None:
    assert headline.why_sentence("pypistats.org", figure(100, *rules)) == expected


def test_the_sentence_says_no_zero() -> None:
    """A package with no CI gets no "0 CI-flagged installs": a rule with no count is not a reason."""
    rows = [row(AS_OF - dt.timedelta(days=i), "pip", 3) for i in range(30)] + [row(AS_OF, "requests", 2)]
    first = headline.first_screen(report(rows))
    assert first.pypistats is not None
    assert (
        first.pypistats.why == "pypistats.org shows 92: it also counts 2 downloads by scripts, browsers and packagers."
    )


def test_every_matrix_column_adds_up_to_its_source() -> None:
    rows = [
        row(AS_OF - dt.timedelta(days=i), installer, n, ci=ci, bad=bad)
        for i in range(45)
        for installer, n, ci, bad in (
            ("pip", 5, False, False),
            ("pip", 2, True, False),
            ("uv", 1, False, i % 9 == 0),
            ("bandersnatch", 3, False, False),
            (None, 1, False, False),
            ("Nexus", 1, False, False),
            ("requests", 2, False, False),
        )
    ]
    r = report(rows)
    m = headline.matrix(r)
    figures = {f.key: f.value for f in r.figures}
    assert [c.key for c in m.columns] == [f.key for f in othersites.MATRIX]
    for column in m.columns:
        assert m.honest + sum(n for n in column.cells.values()) == figures[column.key] == column.value, column.key
    # Rows follow RULE_ORDER in every column; a rule that does not apply to a source has no cell.
    assert list(m.rules) == [rule for rule in headline.RULE_ORDER if rule in m.rules]
    without = next(c for c in m.columns if c.key == "pypistats_without")
    assert m.cell("rule-mirrors", without) is None
    assert m.cell("rule-ci", without) == 2 * 30


def test_a_rule_without_a_row_fails_the_build() -> None:
    r = report([row(AS_OF, "pip", 1)])
    odd = SourceFigure("pypistats_with", "x", "w", 2, 1, (RuleDelta("rule-new", "new", 1),), "")
    r.figures = [*r.figures, odd]
    with pytest.raises(ValueError, match="rule-new"):
        headline.matrix(r)


@pytest.mark.parametrize(
    ("kept_first_day", "reconciled"),
    [
        (min(DAYS), True),  # counted up to the page's first day: it adds up
        (min(DAYS) + dt.timedelta(days=1), False),  # kept for another first day: it would count a day twice
        (None, False),  # never fetched (off, offline or unreachable)
    ],
)
def test_pepy_and_clickpys_all_time_figure_adds_up_only_from_the_pages_own_first_day(
    kept_first_day: dt.date | None, reconciled: bool
) -> None:
    from generator.store import BeforeStore

    rows = [row(d, "pip", 2) for d in DAYS] + [row(AS_OF, "bandersnatch", 5)]
    before = None if kept_first_day is None else BeforeStore(kept_first_day, 1_234)
    other = headline.first_screen(report(rows), before).clickpy
    assert other is not None
    assert other.value == 2 * 60 + 5  # every download on the store's days
    if reconciled:
        assert other.all_time is not None
        assert other.all_time.total == 1_234 + 125
        assert other.note == (
            f"all time as pepy/ClickPy show it = 1,234 downloads on the days before this store (before"
            f" {min(DAYS).isoformat()}, from ClickPy) + 125, the store's all-time count = 1,359 (up to {AS_OF})."
        )
    else:
        assert other.all_time is None
        assert other.note.startswith(f"their all-time figure also counts the days before {min(DAYS).isoformat()}")
