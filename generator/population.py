"""Who the headline number counts, worded once: every page, table, chart, badge and feed reads these words.

Two populations, and the source decides which: with a CI flag the headline is the honest number
(package-manager installs not flagged as CI); a source without one (ClickPy) cannot leave CI
installs out, so its number counts package-manager installs with CI included, and no page may call
it honest. `analysis` picks a package's population once (`PackageReport.population`); the index
and the feed pick the site's (`SiteData.population`: CI included as soon as one package's is).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Population:
    """The words for one population. Each field is a phrase as it reads in its place on the site."""

    ci_left_out: bool
    """CI-flagged installs are left out: the number is the honest number."""
    noun: str
    """What the breakdowns, the questions and the tables count ("honest installs")."""
    brief: str
    """The noun inside a sentence, without a comma of its own ("package-manager installs (CI included)")."""
    installs: str
    """The noun before a window's phrase ("package-manager installs" in the last 30 days)."""
    after_window: str
    """What follows the window's phrase (", CI included"): the headline's last words."""
    number: str
    """What the waterfall arrives at ("the honest number")."""
    definition: str
    """The first screen's definition of the number (before its window)."""
    badge: str
    """The badge's label and the feed entries' word for the number ("honest installs")."""
    measure: str
    """The index's ranking ("largest honest number first")."""
    most: str
    """A grouped index's front page ("the packages with the most honest installs")."""
    not_counted: str
    """The index's bar: what is "not honest", in a sentence."""
    not_counted_heading: str
    """The index's bar's column heading ("Not honest")."""
    feed_number: str
    """The feed's subtitle: packages whose "honest 30-day number" moved."""
    feed_definition: str
    """A feed entry's summary: "The honest number (...) of <package>"."""

    @property
    def label(self) -> str:
        """The noun as a column or legend heading ("Package-manager installs, CI included")."""
        return _heading(self.noun)

    @property
    def brief_label(self) -> str:
        """The brief noun as a heading ("Package-manager installs (CI included)")."""
        return _heading(self.brief)


def _heading(words: str) -> str:
    """The first letter upper-case, the rest as written (str.capitalize would write "ci included")."""
    return words[:1].upper() + words[1:]


HONEST = Population(
    ci_left_out=True,
    noun="honest installs",
    brief="honest installs",
    installs="honest installs",
    after_window="",
    number="the honest number",
    definition="Honest: installs by package managers such as pip and uv, not flagged as CI",
    badge="honest installs",
    measure="honest number",
    most="honest installs",
    not_counted="not honest",
    not_counted_heading="Not honest",
    feed_number="honest 30-day number",
    feed_definition="honest number (package-manager installs not flagged as CI, last 30 UTC days)",
)
"""A source with a CI flag: the honest number."""

CI_INCLUDED = Population(
    ci_left_out=False,
    noun="package-manager installs, CI included",
    brief="package-manager installs (CI included)",
    installs="package-manager installs",
    after_window=", CI included",
    number="package-manager installs",
    definition="Installs by package managers such as pip and uv; this source has no CI flag, so CI installs are in it",
    badge="installs (CI included)",
    measure="number of installs",
    most="installs",
    not_counted="not an install",
    not_counted_heading="Not installs",
    feed_number="30-day package-manager installs (CI included)",
    feed_definition="number of package-manager installs (CI included: this source has no CI flag; last 30 UTC days)",
)
"""A source without a CI flag (ClickPy): package-manager installs, CI included; never called honest."""


def of(ci_flag: bool) -> Population:
    """The population of a source with (or without) a CI flag."""
    return HONEST if ci_flag else CI_INCLUDED
