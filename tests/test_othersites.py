"""The other sites' figures are declared once (generator.othersites), and analysis applies them as declared.

- Each rule set keeps the rows the methodology says: pypistats.org without mirrors drops a NULL
  installer and with mirrors keeps it, the naive sum counts both series, pypinfo counts pip only.
- A difference is named by the figure's site and rule set: a NULL installer in a pypistats.org figure
  is its `NOT IN` rule, in BigQuery's an unknown installer.
- No figure's key is written as a literal anywhere else in the code or the templates.
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import code_and_templates, spelled_outside
from htmltools import parse

from generator import analysis, badges, dimensions, headline, othersites, render
from generator.dates import last_days
from generator.othersites import (
    BADGES,
    BIGQUERY_MONTH,
    BY_KEY,
    CLICKPY,
    FIGURES,
    HONEST,
    HONEST_INSTALLS,
    MATRIX,
    NAIVE_SUM,
    PYPINFO_DEFAULT,
    PYPISTATS,
    PYPISTATS_DAY,
    PYPISTATS_WEEK,
    PYPISTATS_WITH,
    PYPISTATS_WITHOUT,
    THIS_SITE,
    WITH_MIRRORS,
    WITHOUT_MIRRORS,
)
from generator.sources.clickpy import CAPABILITIES as CLICKPY_CAPABILITIES
from generator.store import AggRow

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 10, 31)


def row(installer: str | None = "pip", *, ci: bool = False, bad: bool = False, days_ago: int = 0) -> AggRow:
    """One total row as the store gives it to the analysis: `bad` is a Python string pypistats.org drops."""
    return AggRow(AS_OF - dt.timedelta(days=days_ago), installer, ci, bad, dimensions.TOTAL, None, 1)


def counted(figure: othersites.SiteFigure, r: AggRow) -> int:
    """How many times the analysis counts the row in the figure."""
    emulation = next(e for e in analysis.emulations(AS_OF, AS_OF - dt.timedelta(days=365)) if e.figure is figure)
    return emulation.multiplicity(r)


# (what the methodology says, the figure, a row, how many times it counts)
COUNTS = [
    ("pypistats.org without mirrors drops a NULL installer", PYPISTATS_WITHOUT, row(None), 0),
    ("pypistats.org with mirrors keeps a NULL installer", PYPISTATS_WITH, row(None), 1),
    ("pypistats.org without mirrors drops bandersnatch", PYPISTATS_WITHOUT, row("bandersnatch"), 0),
    ("pypistats.org without mirrors keeps Nexus", PYPISTATS_WITHOUT, row("Nexus"), 1),
    ("pypistats.org with mirrors drops a malformed Python version", PYPISTATS_WITH, row(bad=True), 0),
    ("pypistats.org counts a CI-flagged install", PYPISTATS_WITHOUT, row(ci=True), 1),
    ("pypistats.org's recent last_day counts the as-of date", PYPISTATS_DAY, row(), 1),
    ("pypistats.org's recent last_day leaves out the day before", PYPISTATS_DAY, row(days_ago=1), 0),
    ("pypistats.org's recent last_week ends 6 days back", PYPISTATS_WEEK, row(days_ago=7), 0),
    ("the naive sum counts a pip install in both series", NAIVE_SUM, row(), 2),
    ("the naive sum counts a mirror once, with mirrors", NAIVE_SUM, row("bandersnatch"), 1),
    ("the naive sum counts a NULL installer once, with mirrors", NAIVE_SUM, row(None), 1),
    ("the naive sum counts neither series' malformed Python rows", NAIVE_SUM, row(bad=True), 0),
    ("the naive sum keeps pypistats.org's 181st date", NAIVE_SUM, row(days_ago=180), 2),
    ("the naive sum has no 182nd date", NAIVE_SUM, row(days_ago=181), 0),
    ("pypinfo counts pip", PYPINFO_DEFAULT, row("pip"), 1),
    ("pypinfo counts pip only", PYPINFO_DEFAULT, row("uv"), 0),
    ("pypinfo counts pip whatever its CI flag", PYPINFO_DEFAULT, row("pip", ci=True), 1),
    ("BigQuery COUNT(*) counts a NULL installer", BIGQUERY_MONTH, row(None), 1),
    ("BigQuery COUNT(*) counts a malformed Python version", BIGQUERY_MONTH, row(bad=True), 1),
    ("ClickPy and pepy count a mirror on every day held", CLICKPY, row("bandersnatch", days_ago=300), 1),
    ("the honest number leaves out a CI-flagged install", HONEST, row(ci=True), 0),
    ("the honest number leaves out requests", HONEST, row("requests"), 0),
    ("the honest number counts uv", HONEST, row("uv"), 1),
    ("the honest number counts a malformed Python version", HONEST, row(bad=True), 1),
]


@pytest.mark.parametrize(("why", "figure", "r", "times"), COUNTS, ids=[case[0] for case in COUNTS])
def test_each_figure_counts_a_row_as_its_rules_say(
    why: str, figure: othersites.SiteFigure, r: AggRow, times: int
) -> None:
    assert counted(figure, r) == times


# (why, the figure, a row it counts and the honest number does not, the rule the page names)
REASONS = [
    (
        "a NULL installer in pypistats.org's figure is its NOT IN rule",
        PYPISTATS_WITH,
        row(None),
        "rule-null-installer",
    ),
    ("a NULL installer in the naive sum is pypistats.org's NOT IN rule", NAIVE_SUM, row(None), "rule-null-installer"),
    ("a NULL installer in BigQuery's count is an unknown installer", BIGQUERY_MONTH, row(None), "rule-unknown"),
    ("a NULL installer in ClickPy's count is an unknown installer", CLICKPY, row(None), "rule-unknown"),
    ("an honest install pypinfo misses is its pip-only rule", PYPINFO_DEFAULT, row("uv"), "rule-pip-only"),
    (
        "a malformed Python row pypistats.org drops is its own rule",
        PYPISTATS_WITH,
        row(bad=True),
        "rule-malformed-python",
    ),
    ("an honest install outside last_week is its window", PYPISTATS_WEEK, row(days_ago=10), "rule-window"),
]


@pytest.mark.parametrize(("why", "figure", "r", "rule"), REASONS, ids=[case[0] for case in REASONS])
def test_a_difference_is_named_by_the_figures_site_and_rule_set(
    why: str, figure: othersites.SiteFigure, r: AggRow, rule: str
) -> None:
    emus = analysis.emulations(AS_OF, AS_OF)
    honest = next(e for e in emus if e.figure is HONEST)
    explained = analysis.explain([r], next(e for e in emus if e.figure is figure), honest)
    assert [d.rule for d in explained.rules] == [rule]


@pytest.mark.parametrize("figure", FIGURES, ids=lambda f: f.key)
def test_a_source_without_the_malformed_python_flag_says_so_on_the_figures_that_drop_those_rows(
    figure: othersites.SiteFigure,
) -> None:
    """ClickPy has no malformed-Python flag: pypistats.org's figures there include the rows it drops."""
    report = analysis.analyse(
        "acme", AS_OF, [row()], [], [], {AS_OF}, last_days(AS_OF, 30), capabilities=CLICKPY_CAPABILITIES
    )
    shown = analysis.figure(report.figures, figure)
    says = "Malformed-Python flag not available" in shown.note
    assert says == (figure.site is PYPISTATS)


INSTALLERS = ("pip", "uv", "requests", "bandersnatch", "Nexus", "mystery-bot", None)
ROWS = [
    row(installer, ci=ci, bad=bad) for installer, ci, bad in itertools.product(INSTALLERS, (False, True), (False, True))
]


@pytest.mark.parametrize(
    ("series", "rule"),
    [
        (HONEST_INSTALLS, analysis.is_honest),
        (WITH_MIRRORS, analysis.pypistats_with_mirrors),
        (WITHOUT_MIRRORS, analysis.pypistats_without_mirrors),
    ],
    ids=lambda v: v.words if isinstance(v, othersites.Series) else None,
)
def test_a_rule_set_keeps_the_rows_the_api_and_the_windows_count_with_it(
    series: othersites.Series, rule: Callable[[AggRow], bool]
) -> None:
    """The pypistats-compatible API and the windows table count with analysis' row rules: the same rows."""
    keep = analysis.keeper(series)
    assert [keep(r) for r in ROWS] == [rule(r) for r in ROWS]


# -- one declaration ----------------------------------------------------------------------------------
def test_each_key_is_declared_once() -> None:
    keys = [f.key for f in FIGURES]
    assert len(set(keys)) == len(keys)


def test_each_badge_has_its_own_folder() -> None:
    folders = [f.badge.folder for f in BADGES if f.badge is not None]
    assert len(set(folders)) == len(folders)


def test_the_matrix_shows_each_figure_with_a_column_label_once() -> None:
    labelled = [f for f in FIGURES if f.matrix_label]
    assert sorted(f.key for f in MATRIX) == sorted(f.key for f in labelled)


def test_the_honest_number_comes_first() -> None:
    """A page lists it first: every other figure's difference is counted from it."""
    assert FIGURES[0] is HONEST


def test_the_honest_number_has_the_plain_badge() -> None:
    assert badges.VARIANTS[""][0] == HONEST.key


@pytest.mark.parametrize("figure", FIGURES, ids=lambda f: f.key)
def test_each_figure_links_to_a_section_of_the_methodology(figure: othersites.SiteFigure) -> None:
    text = (ROOT / "content/methodology.md").read_text(encoding="utf-8")
    assert re.search(r"^#+ .*\{#" + re.escape(figure.rule) + r"\}$", text, re.M), figure.rule


@pytest.mark.parametrize("figure", [f for f in FIGURES if f.site is not THIS_SITE], ids=lambda f: f.key)
def test_each_other_sites_figure_cites_the_page_the_methodology_cites(figure: othersites.SiteFigure) -> None:
    text = (ROOT / "content/methodology.md").read_text(encoding="utf-8")
    assert figure.link is not None
    assert f"({figure.link.url})" in text


# Figure keys: those with "_" mean a figure wherever they stand; "honest", "clickpy" and "pypinfo" are also
# everyday words (and "clickpy" a source kind), so they count only where the code treats them as a key.
KEYS = sorted(BY_KEY)
DISTINCT = {k for k in KEYS if "_" in k}
GENERIC = set(KEYS) - DISTINCT
QUOTED = re.compile("['\"](" + "|".join(KEYS) + ")['\"]")
LOOKUPS = ("key", "figure", "emulation")
"""A name with one of these words in it holds or makes figures or their keys (`f.key`, `by_key`, `figures`)."""


def _constant(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _about_figures(node: ast.AST) -> bool:
    return any(word in ast.unparse(node).lower() for word in LOOKUPS)


def literal_keys(path: Path) -> list[tuple[int, str]]:
    """Each (line, key) where a figure's key is written out instead of read from generator.othersites.

    A distinct key counts everywhere; a generic one when compared with, or looked up in, something named
    for keys or figures, or listed with another figure's key. A prefix test on a key (`key.startswith(
    "pypistats")`) counts too: it is how a family of figures used to be told apart.
    """
    found: set[tuple[int, str]] = set()
    if path.suffix != ".py":
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            keys = set(QUOTED.findall(line))
            about = any(word in line.lower() for word in LOOKUPS) or len(keys) >= 2
            found |= {(number, k) for k in keys if k in DISTINCT or about}
        return sorted(found)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        value = _constant(node)
        if value in DISTINCT:
            found.add((node.lineno, value))
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_about_figures(side) for side in sides):
                found |= {(node.lineno, v) for side in sides if (v := _constant(side)) in GENERIC}
        elif isinstance(node, ast.Subscript) and _about_figures(node.value):
            if (v := _constant(node.slice)) in GENERIC:
                found.add((node.lineno, v))
        elif isinstance(node, ast.Call) and node.args:
            found |= _called_with(node)
        if isinstance(node, ast.Dict):
            found |= _listed(node.keys) | _listed(node.values)
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            found |= _listed(node.elts)
    return sorted(found)


def _called_with(node: ast.Call) -> set[tuple[int, str]]:
    """A key looked up (`by_key.get("clickpy")`), made (`Emulation("honest", ...)`) or prefix-tested."""
    first = _constant(node.args[0])
    if first is None:
        return set()
    if isinstance(node.func, ast.Attribute) and node.func.attr == "startswith" and _about_figures(node.func.value):
        return {(node.lineno, k) for k in KEYS if k.startswith(first)}
    return {(node.lineno, first)} if first in GENERIC and _about_figures(node.func) else set()


def _listed(items: list[ast.expr | None]) -> set[tuple[int, str]]:
    """Keys listed together: two or more figure keys as items, or first in each row of a table."""
    firsts = [i.elts[0] if isinstance(i, ast.Tuple | ast.List) and i.elts else i for i in items if i is not None]
    named = {(item.lineno, v) for item in firsts if (v := _constant(item)) in KEYS}
    return named if len({v for _, v in named}) >= 2 else set()


def test_no_figure_key_is_spelled_outside_the_registry() -> None:
    stray = spelled_outside(code_and_templates(), {"generator/othersites.py"}, lambda path, _rel: literal_keys(path))
    assert not stray, "read the figure from generator.othersites, not its key:\n" + "\n".join(stray)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("code.py", 'x = "naive_sum"\n', [(1, "naive_sum")]),
        ("code.py", "# naive_sum in a comment\nsum = 1\n", []),
        ("code.py", 'if f.key == "honest":\n    pass\n', [(1, "honest")]),
        ("code.py", 'month = by_key["clickpy"]\n', [(1, "clickpy")]),
        ("code.py", 'n = figures.get("pypinfo")\n', [(1, "pypinfo")]),
        ("code.py", 'ours = source_key.startswith("pypistats")\n', [(1, k) for k in KEYS if k.startswith("pypistats")]),
        ("code.py", 'COLUMNS = (("honest", "Honest"), ("pypinfo", "pip only"))\n', [(1, "honest"), (1, "pypinfo")]),
        ("code.py", 'VARIANTS = {"": ("honest", "x"), "w": ("pypinfo", "y")}\n', [(1, "honest"), (1, "pypinfo")]),
        ("code.py", 'e = Emulation("clickpy", "ClickPy and pepy")\n', [(1, "clickpy")]),
        ("code.py", 'if cfg.source.kind == "clickpy":\n    pass\n', []),
        ("code.py", 'source = Source("clickpy")\n', []),
        ("code.py", 'choices = ("bigquery", "clickpy", "local")\n', []),
        ("code.py", 'doc = {"honest": 1, "raw_30": 2}\ntotal = counts["honest"]\n', []),
        ("page.html", '{% if f.key == "clickpy" %}\n', [(1, "clickpy")]),
        ("page.html", '<tr class="honest"><a href="#honest-number">\n', []),
    ],
)
def test_the_literal_check_sees_a_figure_key_not_a_word(
    tmp_path: Path, name: str, text: str, expected: list[tuple[int, str]]
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert literal_keys(path) == expected


def test_the_matrix_reads_its_columns_from_the_registry() -> None:
    report = analysis.analyse("acme", AS_OF, [row()], [], [], {AS_OF}, last_days(AS_OF, 30))
    columns = headline.matrix(report).columns
    assert [(c.key, c.name) for c in columns] == [(f.key, f.matrix_label) for f in MATRIX]


@pytest.mark.parametrize("figure", FIGURES, ids=lambda f: f.key)
def test_the_methodology_shows_each_figure_with_its_rows_window_and_source(figure: othersites.SiteFigure) -> None:
    """Its `<!-- other-sites -->` table is written from the registry, so the page cannot disagree with the code."""
    _title, html = render.markdown_page("methodology")
    rows = next(t for t in parse(html).tables.values() if t[0][0] == "Figure")
    shown = next(r for r in rows if r[0] == figure.name and r[2] == figure.span.words)
    assert shown[3] == (figure.link.text.replace("`", "") if figure.link is not None else "this page")
