"""The package page's first screen and its reconciliation matrix, from a PackageReport.

The first screen answers the page's question before any scrolling: the honest number and its trend,
the figure pypistats.org shows (`recent` last_month: without mirrors, 30 days), the figure pepy and
ClickPy show (every row, all time), and one plain sentence, built from the largest named rules, that
says why pypistats.org's figure differs. The matrix below it shows every rule for every source: a row
per rule in one fixed order, a column per source, each cell that rule's signed count for that source.

Pure functions: numbers come from `analysis`; this module only picks and words them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from generator import othersites, vocabulary
from generator.analysis import PackageReport, SourceFigure

if TYPE_CHECKING:
    from generator.store import BeforeStore

# Every named rule, in the one order the matrix rows follow, with the words every page uses for it.
RULE_ORDER: tuple[str, ...] = vocabulary.ORDER
ADDS: dict[str, str] = {r.id: r.adds for r in vocabulary.RULES if r.adds}
"""What a positive count of the rule adds, for "it also counts N ..." (plural noun phrases)."""
LEAVES_OUT: dict[str, str] = {r.id: r.leaves_out for r in vocabulary.RULES if r.leaves_out}
"""What a negative count of the rule leaves out, for "it leaves out N ..."."""

SENTENCE_RULES = 3
"""How many of the largest rules the first screen's sentence names."""


@dataclass(frozen=True)
class Column:
    """One source in the matrix: the figure it reconciles and how its header reads."""

    key: str
    name: str
    window: str
    value: int
    missing_days: int
    anchor: str
    cells: dict[str, int]
    """Rule id → signed count; a rule absent here does not apply to this source."""


@dataclass(frozen=True)
class Matrix:
    honest: int
    honest_name: str
    rules: tuple[str, ...]
    """The rule ids with a count in some column, in RULE_ORDER."""
    columns: tuple[Column, ...]

    def cell(self, rule: str, column: Column) -> int | None:
        return column.cells.get(rule)


def rule_counts(figure: SourceFigure) -> dict[str, int]:
    """A figure's difference from the honest number by rule id (labels of one rule summed)."""
    out: dict[str, int] = defaultdict(int)
    for r in figure.rules:
        out[r.rule] += r.count
    return {k: v for k, v in out.items() if v}


def matrix(report: PackageReport) -> Matrix:
    """Every rule × every source; each column adds up from the honest number to the source's figure."""
    by_key = {f.key: f for f in report.figures}
    columns = []
    for source in othersites.MATRIX:  # left to right: what maintainers see most first
        f = by_key.get(source.key)
        if f is None:
            continue
        columns.append(
            Column(f.key, source.matrix_label, f.window_label, f.value, f.missing_days, f.anchor, rule_counts(f))
        )
    used = {rule for c in columns for rule in c.cells}
    unknown = used - set(RULE_ORDER)
    if unknown:  # a rule the analysis names must have a row: fail loudly, never drop a count
        raise ValueError(f"rules without a place in RULE_ORDER: {sorted(unknown)}")
    honest = by_key[othersites.HONEST.key]
    return Matrix(honest.value, honest.name, tuple(r for r in RULE_ORDER if r in used), tuple(columns))


@dataclass(frozen=True)
class Other:
    """Another site's figure as the first screen shows it."""

    who: str
    value: int
    what: str
    """The figure's population and window, in a few words."""
    why: str
    """One plain sentence: why it differs from the headline."""
    note: str = ""
    missing_days: int = 0
    window_days: int = 0
    all_time: AllTime | None = None
    """pepy/ClickPy: their all-time figure, added up from ClickPy's days before the store and the store's."""


@dataclass(frozen=True)
class AllTime:
    """All time as pepy/ClickPy show it = the days before this store + the store's all-time count."""

    before: int
    """Downloads on the days ClickPy holds before `first_day` (fetched from ClickPy)."""
    store: int
    """The store's all-time count: every download on the days it holds, first_day to as_of."""
    first_day: dt.date
    as_of: dt.date

    @property
    def total(self) -> int:
        return self.before + self.store

    def sentence(self) -> str:
        return (
            f"all time as pepy/ClickPy show it = {self.before:,} downloads on the days before this store"
            f" (before {self.first_day.isoformat()}, from ClickPy) + {self.store:,}, the store's all-time count"
            f" = {self.total:,} (up to {self.as_of.isoformat()})."
        )


@dataclass(frozen=True)
class FirstScreen:
    pypistats: Other | None
    clickpy: Other | None


_PLURAL = re.compile(r"\b(install|download|sync)s\b")


def _count_phrase(n: int, noun: str) -> str:
    """'3 mirror syncs', '1 mirror sync'."""
    if n == 1:
        noun = _PLURAL.sub(lambda m: m.group(1), noun, count=1)
    return f"{n:,} {noun}"


def _join_words(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def why_sentence(
    who: str, figure: SourceFigure, limit: int = SENTENCE_RULES, verb: str = "shows", pronoun: str = "it"
) -> str:
    """'pypistats.org shows 88,608: it also counts 17,108 CI-flagged installs, …' from the largest rules.

    The `limit` largest rules that add downloads are named, largest first (ties in RULE_ORDER); the
    rest are one remainder ("and 31 more by 2 smaller rules"), so the numbers add up to the difference.
    Rules that take downloads away are few and always named.
    """
    counts = rule_counts(figure)
    head = f"{who} {verb} {figure.value:,}"
    if not counts:
        return f"{head}, the same as the honest number."
    order = {rule: i for i, rule in enumerate(RULE_ORDER)}
    ranked = sorted(counts.items(), key=lambda kv: (-abs(kv[1]), order.get(kv[0], len(order))))
    plus = [(rule, n) for rule, n in ranked if n > 0]
    minus = [(rule, n) for rule, n in ranked if n < 0]
    if len(plus) == limit + 1:  # one rule left over: name it rather than call it "smaller rules"
        limit += 1
    adds = [_count_phrase(n, ADDS.get(rule, "downloads by other rules")) for rule, n in plus[:limit]]
    rest = plus[limit:]
    if rest:
        adds.append(f"{sum(n for _, n in rest):,} more by {len(rest)} smaller rules")
    drops = [_count_phrase(-n, LEAVES_OUT.get(rule, "installs by other rules")) for rule, n in minus]
    clauses = []
    if adds:
        also = "also counts" if pronoun == "it" else "also count"
        clauses.append(f"{pronoun} {also} {_join_words(adds)}")
    if drops:
        leaves = "leaves" if pronoun == "it" else "leave"
        clauses.append(f"{pronoun} {leaves} out {_join_words(drops)}")
    return f"{head}: {'; '.join(clauses)}."


def first_screen(report: PackageReport, before: BeforeStore | None = None) -> FirstScreen:
    """The other sites' figures for the first screen, each with its sentence.

    `before`: the package's downloads before the store's first day as ClickPy holds them; it adds up
    pepy/ClickPy's all-time figure only when counted up to the page's first day. Without it the note
    says their figure is larger than the store's by the days it does not hold.
    """
    by_key = {f.key: f for f in report.figures}
    pypistats = clickpy = None
    month = by_key.get(othersites.PYPISTATS_MONTH.key)
    if month is not None:
        who = othersites.PYPISTATS_MONTH.first_screen
        pypistats = Other(
            who,
            month.value,
            "last 30 days, without mirrors",
            why_sentence(who, month),
            missing_days=month.missing_days,
            window_days=report.honest_window.days,
        )
    everything = by_key.get(othersites.CLICKPY.key)
    if everything is not None:
        days = everything.window_label.split(", ")[-1]  # "210 days in the store"
        first = report.freshness.first_day
        all_time = (
            AllTime(before.downloads, everything.value, first, report.as_of)
            if before is not None and first is not None and before.first_day == first
            else None
        )
        if all_time is not None:
            note = all_time.sentence()
        elif first:
            note = (
                f"their all-time figure also counts the days before {first.isoformat()}, which this store"
                " does not hold, so it is larger than this one by those days' downloads."
            )
        else:
            note = ""
        clickpy = Other(
            othersites.CLICKPY.first_screen,
            everything.value,
            f"all downloads, mirrors included, {days}",
            why_sentence(f"Over the {days}, their rule", everything, verb="gives"),
            note=note,
            missing_days=everything.missing_days,
            all_time=all_time,
        )
    return FirstScreen(pypistats, clickpy)
