"""Who the headline number counts, worded once (generator.population) and chosen once, in analysis.

A source with a CI flag gives the honest number: package-manager installs not flagged as CI. A
source without one (ClickPy) cannot leave CI installs out, so its number is package-manager
installs, CI included, and no page, badge or feed may call it honest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from generator import analysis
from generator import population as populations
from generator.dates import last_days
from generator.pages import ListedPackage, PackageSummary, SiteData
from generator.population import Population
from generator.sources import ALL_CAPABILITIES
from generator.sources.clickpy import CAPABILITIES as CLICKPY_CAPABILITIES
from generator.store import AggRow

AS_OF = dt.date(2026, 10, 31)
WORDS = [f.name for f in dataclasses.fields(Population) if f.type == "str"] + ["label", "brief_label"]


def report(capabilities: frozenset[str], project: str = "acme") -> analysis.PackageReport:
    days = set(last_days(AS_OF, 30))
    rows = [AggRow(d, "pip", None, False, "total", None, 3) for d in days]
    return analysis.analyse(project, AS_OF, rows, [], [], days, last_days(AS_OF, 180), capabilities=capabilities)


@pytest.mark.parametrize("word", WORDS)
def test_a_number_with_ci_installs_in_it_is_never_called_honest(word: str) -> None:
    assert "honest" not in getattr(populations.CI_INCLUDED, word).lower()


@pytest.mark.parametrize("word", WORDS)
def test_the_two_populations_are_worded_apart(word: str) -> None:
    assert getattr(populations.HONEST, word) != getattr(populations.CI_INCLUDED, word)


@pytest.mark.parametrize(
    ("population", "label", "brief_label"),
    [
        (populations.HONEST, "Honest installs", "Honest installs"),
        (populations.CI_INCLUDED, "Package-manager installs, CI included", "Package-manager installs (CI included)"),
    ],
)
def test_a_heading_keeps_ci_in_capitals(population: Population, label: str, brief_label: str) -> None:
    """str.capitalize would say "ci included"; a heading only raises its first letter."""
    assert (population.label, population.brief_label) == (label, brief_label)


BY_SOURCE = pytest.mark.parametrize(
    ("capabilities", "population"),
    [(ALL_CAPABILITIES, populations.HONEST), (CLICKPY_CAPABILITIES, populations.CI_INCLUDED)],
    ids=["with a CI flag", "without (ClickPy)"],
)
"""A source with a CI flag (BigQuery, local events) and one without (ClickPy), and the population each gives."""


@BY_SOURCE
def test_the_source_s_ci_flag_chooses_the_population_once_in_analysis(
    capabilities: frozenset[str], population: Population
) -> None:
    assert report(capabilities).population is population


@BY_SOURCE
def test_the_summary_the_index_reads_keeps_the_page_s_population(
    capabilities: frozenset[str], population: Population
) -> None:
    assert PackageSummary.of(report(capabilities)).population is population


@pytest.mark.parametrize(
    ("capabilities", "population"),
    [
        ((ALL_CAPABILITIES, ALL_CAPABILITIES), populations.HONEST),
        ((ALL_CAPABILITIES, CLICKPY_CAPABILITIES), populations.CI_INCLUDED),
    ],
    ids=["every package honest", "one package CI included"],
)
def test_the_site_s_numbers_include_ci_as_soon_as_one_package_s_do(
    capabilities: tuple[frozenset[str], ...], population: Population
) -> None:
    packages = [ListedPackage(PackageSummary.of(report(c, f"p{i}"))) for i, c in enumerate(capabilities)]
    site = SiteData("T", "", "", AS_OF, "local", False, packages)
    assert site.population is population
