"""One vocabulary: the named rules' names, phrases and definitions, in one table.

Report pages (the reconciliation matrix, the first screen's sentence, `sources.csv`), the glossary,
the methodology and the FAQ all name a rule with the words below; the installer categories' names
and definitions are in `generator.categories`, next to the mapping they name. The glossary shows
both tables (its `<!-- vocabulary -->` marker), and `tests/test_vocabulary.py` fails when a page,
a content page's link to a rule or a methodology heading uses other words.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator import categories, layout


@dataclass(frozen=True)
class Rule:
    """A named rule: why a source's figure differs from the honest number by a count."""

    id: str
    """Its anchor on the methodology page (content/methodology.md)."""
    name: str
    """How every page names it."""
    definition: str
    adds: str = ""
    """What a positive count adds, as a plural noun phrase ("it also counts 12 mirror syncs")."""
    leaves_out: str = ""
    """What a negative count leaves out ("it leaves out 3 installs with a malformed Python version")."""


RULES: tuple[Rule, ...] = (
    Rule(
        "rule-ci",
        "CI-flagged installs",
        "Package-manager installs whose CI flag is set (pip and uv set it on CI machines).",
        adds="CI-flagged installs",
    ),
    Rule(
        "rule-mirrors",
        "Mirrors and proxies on pypistats.org's list",
        "bandersnatch, z3c.pypimirror, Artifactory and devpi: mirror clients and repository proxies that"
        " fetch files for a whole mirror or organisation. pypistats.org leaves them out of its figure without"
        " mirrors.",
        adds="mirror and proxy downloads",
    ),
    Rule(
        "rule-proxies",
        "Mirrors and proxies pypistats.org counts as real",
        "Nexus (a repository proxy) and pep381client (a mirror client): pypistats.org's mirror list does not"
        " name them, so it counts them as real downloads, even without mirrors.",
        adds="downloads by Nexus and pep381client",
    ),
    Rule(
        "rule-null-installer",
        "Unknown installer (NULL) kept with mirrors",
        "Rows with no installer name: pypistats.org's without-mirrors filter (`NOT IN`) drops them, so they"
        " count only in its figure with mirrors.",
        adds="downloads by unknown installers",
    ),
    Rule(
        "rule-unknown",
        "Unknown installer (NULL)",
        "Rows whose User-Agent named no installer: nobody can tell who sent them.",
        adds="downloads by unknown installers",
    ),
    Rule(
        "rule-scripts",
        "Scripts, browsers and packagers",
        "requests, browsers and download tools, Homebrew and OS packagers, build tools and twine: none of them"
        " installs the package into a Python environment.",
        adds="downloads by scripts, browsers and packagers",
    ),
    Rule(
        "rule-other",
        "Other named clients",
        "Installer names this site has not classified yet.",
        adds="downloads by other named clients",
    ),
    Rule(
        "rule-malformed-python",
        "Malformed Python versions dropped",
        "pypistats.org drops every row whose Python version does not look like 3.x.",
        leaves_out="installs with a malformed Python version",
    ),
    Rule(
        "rule-pip-only",
        "pip only",
        "pypinfo counts only rows whose installer is pip.",
        leaves_out="installs by package managers other than pip",
    ),
    Rule(
        "rule-window",
        "Days outside the window",
        "A source that counts other days than the last 30: a week, a day, 181 dates or all the days held.",
        adds="downloads from days outside the last 30",
        leaves_out="honest installs outside its window",
    ),
    Rule(
        "rule-double-count",
        "Double count",
        "A script that adds pypistats.org's with-mirrors and without-mirrors series counts most rows twice.",
        adds="downloads counted twice",
    ),
)

BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
ORDER: tuple[str, ...] = tuple(r.id for r in RULES)
"""The one order of the rules: the reconciliation matrix's rows."""


def name(rule_id: str) -> str:
    return BY_ID[rule_id].name


def markdown() -> str:
    """The vocabulary as Markdown tables, for the glossary: categories, then rules."""
    lines = ["| Category | What it holds |", "|---|---|"]
    lines += [
        f"| {categories.CATEGORY_LABELS[k]} | {categories.CATEGORY_DEFINITIONS[k]} |" for k in categories.CATEGORIES
    ]
    lines += ["", "| Rule | What it means |", "|---|---|"]
    lines += [f"| [{r.name}]({layout.content_link('methodology', r.id)}) | {r.definition} |" for r in RULES]
    return "\n".join(lines)
