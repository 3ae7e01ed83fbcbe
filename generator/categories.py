"""The one mapping of installer names (as PyPI's linehaul parser emits them) to categories.

Categories follow what each tool does, not pypistats.org's mirror list: Nexus and
pep381client proxy or mirror whole indexes, so they are mirrors here even though pypistats.org
counts them as real downloads. Homebrew and `OS` fetches are distribution packagers building
packages, not users installing them.
"""

from __future__ import annotations

from dataclasses import dataclass

MIRROR = "mirror"
UNKNOWN = "unknown"
SCRIPT = "script"
PACKAGE_MANAGER = "package_manager"
OTHER = "other"

# Order is the order of the waterfall and of every stacked chart's legend.
CATEGORIES: tuple[str, ...] = (PACKAGE_MANAGER, MIRROR, SCRIPT, UNKNOWN, OTHER)

CATEGORY_LABELS: dict[str, str] = {
    PACKAGE_MANAGER: "Package managers",
    MIRROR: "Mirrors and proxies",
    SCRIPT: "Scripts, browsers and packagers",
    UNKNOWN: "Unknown installer (NULL)",
    OTHER: "Other named clients",
}

# What each category holds, in the words of the glossary's vocabulary table (generator.vocabulary).
CATEGORY_DEFINITIONS: dict[str, str] = {
    PACKAGE_MANAGER: "Installers that put the package into a Python environment: pip, uv, poetry, pdm, conda"
    " and others.",
    MIRROR: "Mirror clients (bandersnatch, z3c.pypimirror, pep381client) that copy every file of every release,"
    " and repository proxies (Artifactory, devpi, Nexus) that fetch files for an organisation and serve"
    " them from their cache.",
    SCRIPT: "The requests library, browsers and download tools, Homebrew and OS packagers, build tools and twine:"
    " none of them installs the package into a Python environment.",
    UNKNOWN: "Rows whose User-Agent named no installer (NULL): nobody can tell who sent them.",
    OTHER: "Installer names this site has not classified yet; each page lists them by name.",
}

# One colour per category, the same on every chart (Okabe-Ito, readable for colour-blind
# readers and on dark and light backgrounds).
CATEGORY_COLORS: dict[str, str] = {
    PACKAGE_MANAGER: "#0072B2",
    MIRROR: "#E69F00",
    SCRIPT: "#CC79A7",
    UNKNOWN: "#999999",
    OTHER: "#009E73",
}


@dataclass(frozen=True)
class Installer:
    name: str
    category: str
    why: str


# Every name linehaul's user-agent parser emits (pypi/linehaul-cloud-function,
# linehaul/ua/parser.py), plus NULL (None) for user agents it could not parse.
INSTALLERS: tuple[Installer, ...] = (
    Installer("pip", PACKAGE_MANAGER, "the standard installer"),
    Installer("uv", PACKAGE_MANAGER, "Astral's installer and resolver"),
    Installer("poetry", PACKAGE_MANAGER, "Poetry's installer"),
    Installer("pdm", PACKAGE_MANAGER, "PDM's installer"),
    Installer("conda", PACKAGE_MANAGER, "conda installing a PyPI package"),
    Installer("pex", PACKAGE_MANAGER, "builds a PEX by installing the package"),
    Installer("setuptools", PACKAGE_MANAGER, "easy_install / setup_requires"),
    Installer("distribute", PACKAGE_MANAGER, "easy_install from the old distribute fork"),
    Installer("bandersnatch", MIRROR, "PyPA's mirror client: fetches every file of every release"),
    Installer("devpi", MIRROR, "caching index server"),
    Installer("z3c.pypimirror", MIRROR, "old mirror client"),
    Installer("Artifactory", MIRROR, "JFrog repository proxy"),
    Installer("Nexus", MIRROR, "Sonatype repository proxy (pypistats.org counts it as a real download)"),
    Installer("pep381client", MIRROR, "PEP 381 mirror client (pypistats.org counts it as a real download)"),
    Installer("requests", SCRIPT, "a script using the requests library"),
    Installer("Browser", SCRIPT, "a web browser clicking a download link"),
    Installer("OS", SCRIPT, "an OS distribution's packaging tool building its own package"),
    Installer("Homebrew", SCRIPT, "Homebrew building a formula"),
    Installer("Bazel", SCRIPT, "a build system fetching pinned files"),
    Installer("maturin", SCRIPT, "a build tool fetching a dependency for a build"),
    Installer("twine", SCRIPT, "the upload tool; not an install"),
)

_CATEGORY_OF: dict[str | None, str] = {None: UNKNOWN, **{i.name: i.category for i in INSTALLERS}}
"""Each listed name's category, and NULL's: one lookup for the row-by-row tests of every page."""


def names_in(kind: str) -> tuple[str, ...]:
    """The listed installer names of one category, in INSTALLERS order."""
    return tuple(i.name for i in INSTALLERS if i.category == kind)


PACKAGE_MANAGERS: frozenset[str] = frozenset(names_in(PACKAGE_MANAGER))
"""The names whose category is PACKAGE_MANAGER: `installer in PACKAGE_MANAGERS` is the honest number's test
of a row's installer, with no call per row (NULL and unlisted names are not in it)."""

# pypistats.org's mirror list (psf/pypistats.org, pypistats/tasks/pypi.py: MIRRORS).
PYPISTATS_MIRRORS: frozenset[str] = frozenset({"bandersnatch", "z3c.pypimirror", "Artifactory", "devpi"})


def category(installer: str | None) -> str:
    """The category of an installer name; NULL is `unknown`, an unlisted name is `other`."""
    return _CATEGORY_OF.get(installer, OTHER)


def is_pypistats_mirror(installer: str | None) -> bool:
    """pypistats.org's "with mirrors minus without mirrors" rows: its four tools, and NULL.

    Its SQL says `installer NOT IN (...)`, which is NULL (so false) for a NULL installer, so
    NULL-installer rows are in "with mirrors" only.
    """
    return installer is None or installer in PYPISTATS_MIRRORS
