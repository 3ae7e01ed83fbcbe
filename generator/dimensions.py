"""The breakdown dimensions, declared once.

A package page breaks its downloads down by installer version, Python version, OS, country and so
on. Each of those is one `Dimension` below, and everything that handles a breakdown reads it from
here: the store's schema and the value it reads back, the BigQuery query's cost model and its
restriction to the configured breakdowns, the ClickPy queries' projection and capabilities, the
page's tables, charts and CSV files, and the pypistats.org-compatible API. Nothing else spells a
breakdown's name: `tests/test_dimensions.py` fails on a name written as a literal elsewhere in the
code or templates (the `.sql` files excepted) and on a `.sql` file whose columns disagree with this
table.

Adding a breakdown is one entry in `DIMENSIONS` plus its SQL expression in
`queries/daily_aggregates.sql` (and, if ClickPy has it, a query there); the test says which parts
of the SQL are missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from generator import categories, layout

TOTAL = "total"
"""The `breakdown` value of the rows with no dimension: per (day, installer, CI flag) only."""

BY_COUNT = "count"
"""Largest count first (ties by label)."""
BY_VERSION = "version"
"""Oldest version first, "unknown" and "other" last (the top values by count are kept either way)."""

ROWS_SHAPE = 2
"""The shape of the aggregate rows this code fetches; the store records it for every day it holds.

1: distro rows without the OS (a store from before shapes were recorded: its days read as 1).
2: distro rows carry the OS in `system`, so the distribution table can count Linux installs only.
"""

PYPISTATS_NULL = "null"
"""pypistats.org stores a NULL value as this string."""
PYPISTATS_SYSTEMS = ("Windows", "Linux", "Darwin")
"""The operating systems pypistats.org names; any other becomes "other"."""


def pypistats_as_is(value: str | None) -> str:
    """The stored value, NULL as "null" (pypistats.org's python_minor)."""
    return value if value is not None else PYPISTATS_NULL


def pypistats_major(value: str | None) -> str:
    """`SPLIT(python, '.')[OFFSET(0)]`: the stored Python minor version is that plus '.minor', or NULL."""
    return value.split(".", 1)[0] if value is not None else PYPISTATS_NULL


def pypistats_system(value: str | None) -> str:
    """Windows/Linux/Darwin as they are, NULL as "null" (NULL NOT IN (...) is NULL), anything else "other"."""
    if value is None:
        return PYPISTATS_NULL
    return value if value in PYPISTATS_SYSTEMS else "other"


@dataclass(frozen=True)
class ApiUse:
    """One pypistats.org endpoint computed from a dimension (see generator.api)."""

    endpoint: str
    """The endpoint's name in pypistats.org's URLs: `api/packages/<name>/<endpoint>`."""
    label: Callable[[str | None], str]
    """pypistats.org's category for a stored value."""


@dataclass(frozen=True)
class Within:
    """A breakdown counted inside one value of another dimension (distributions: among Linux installs).

    Its grouping set holds the other dimension's column too, so each of its rows carries that value.
    """

    dimension: Dimension
    """The dimension whose column its rows carry (the OS)."""
    value: str
    """The one value of it the breakdown counts ("Linux")."""
    words: str
    """The population's qualifier on the page ("on Linux")."""
    since_shape: int
    """The first ROWS_SHAPE whose rows carry the other column: days fetched before it are not counted."""


@dataclass(frozen=True)
class Dimension:
    """One breakdown: how it is computed, stored, shown and published."""

    name: str
    """The `breakdown` value of its rows in the store, and its name in `[source].breakdowns`."""
    column: str
    """The store column (and daily_aggregates.sql output column) holding its value."""
    reads: tuple[str, ...]
    """The file_downloads columns its SQL expression reads: what keeping it adds to a BigQuery scan."""
    title: str
    """Its label on pages: heading, chart title, first CSV column."""
    noun: str
    """How a sentence names it ("Breakdowns not available from this source: installer version")."""
    table: str
    """Its table's HTML id, CSV file stem (`<table>.csv`) and key in data/<name>.json."""
    population: str = categories.PACKAGE_MANAGER
    """The installer category it counts (when the source has the installer on its rows)."""
    order: str = BY_COUNT
    """How its values are listed: BY_COUNT or BY_VERSION."""
    with_installer: bool = False
    """Each value is shown after its installer's name ("pip 24"): the value alone means nothing."""
    clickpy_query: str = ""
    """The ClickPy query (queries/<name>.sql) that answers it; "" when ClickPy does not have it."""
    clickpy_by_installer: bool = False
    """ClickPy's table for it keeps the installer, so it can be restricted to package managers."""
    api: tuple[ApiUse, ...] = ()
    """The pypistats.org endpoints computed from it."""
    within: Within | None = None
    """Counted inside one value of another dimension (its rows carry that column); None: over every row."""

    @property
    def group_columns(self) -> tuple[str, ...]:
        """The dimension columns of its grouping set in daily_aggregates.sql: its own, then the one it is within."""
        return (self.column,) if self.within is None else (self.column, self.within.dimension.column)

    @property
    def csv_name(self) -> str:
        return layout.csv_file(self.table)

    def label(self, installer: str | None, value: str | None) -> str:
        """A row's label in its table and chart."""
        if self.with_installer:
            return f"{installer} {value}" if value is not None else f"{installer} (no version)"
        return value if value is not None else "unknown"

    def sort(self, items: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """Items (label, count) in this dimension's order."""
        if self.order == BY_VERSION:
            return sorted(items, key=lambda kv: version_key(kv[0]))
        return sorted(items, key=lambda kv: (-kv[1], kv[0]))


_RELEASE = re.compile(r"(\d+(?:\.\d+)*)(.*)")


def version_key(label: str) -> tuple[int, tuple[int, ...], int, str]:
    """Sorts "3.9" before "3.10" and "2.0rc1" before "2.0" before "2.0.post1"; other labels last."""
    match = _RELEASE.fullmatch(label)
    if match is None:
        return (1, (), 0, label)
    release = tuple(int(part) for part in match.group(1).split("."))
    while len(release) > 1 and release[-1] == 0:  # 2.0 == 2.0.0
        release = release[:-1]
    rest = match.group(2)
    rank = 1 if not rest else 2 if rest.lstrip(".-_").startswith("post") else 0
    return (0, release, rank, rest)


INSTALLER_VERSION = Dimension(
    "installer_version",
    "installer_major",
    ("details.installer.version",),
    "Installer and major version",
    "installer version",
    "breakdown-installer-version",
    with_installer=True,
)
PYTHON_MINOR = Dimension(
    "python_minor",
    "python_minor",
    ("details.python",),
    "Python version",
    "Python version",
    "breakdown-python-minor",
    order=BY_VERSION,
    clickpy_query="clickpy_python",
    api=(ApiUse("python_major", pypistats_major), ApiUse("python_minor", pypistats_as_is)),
)
IMPLEMENTATION = Dimension(
    "implementation",
    "implementation",
    ("details.implementation.name",),
    "Python implementation",
    "Python implementation",
    "breakdown-implementation",
)
SYSTEM = Dimension(
    "system",
    "system",
    ("details.system.name",),
    "Operating system",
    "operating system",
    "breakdown-system",
    clickpy_query="clickpy_system",
    api=(ApiUse("system", pypistats_system),),
)
DISTRO = Dimension(
    "distro",
    "distro",
    ("details.distro.name", "details.system.name"),
    "Linux distribution",
    "Linux distribution",
    "breakdown-distro",
    within=Within(SYSTEM, "Linux", "on Linux", since_shape=2),
)
COUNTRY = Dimension(
    "country",
    "country",
    ("country_code",),
    "Country",
    "country",
    "breakdown-country",
    clickpy_query="clickpy_installer_country",
    clickpy_by_installer=True,
)
FILE_TYPE = Dimension(
    "file_type",
    "file_type",
    ("file.type",),
    "File type",
    "file type",
    "breakdown-file-type",
    clickpy_query="clickpy_installer_country",
    clickpy_by_installer=True,
)
VERSION = Dimension(
    "version",
    "version",
    ("file.version",),
    "Package version",
    "package version",
    "breakdown-version",
    order=BY_VERSION,
    clickpy_query="clickpy_installers",
    clickpy_by_installer=True,
)

DIMENSIONS: tuple[Dimension, ...] = (
    INSTALLER_VERSION,
    PYTHON_MINOR,
    IMPLEMENTATION,
    SYSTEM,
    DISTRO,
    COUNTRY,
    FILE_TYPE,
    VERSION,
)
"""Every breakdown, in page order. The store's columns follow this order too: append, never reorder."""

NAMES: tuple[str, ...] = tuple(d.name for d in DIMENSIONS)
"""Every breakdown's name: the allowed values of `[source].breakdowns` (all of them by default)."""
COLUMNS: tuple[str, ...] = tuple(d.column for d in DIMENSIONS)
"""The store's dimension columns."""

_BY_NAME: dict[str, Dimension] = {d.name: d for d in DIMENSIONS}


def get(name: str) -> Dimension:
    """The dimension of a breakdown name (KeyError for an unknown one; config validates names first)."""
    return _BY_NAME[name]


def within_sql() -> str:
    """SQL for the stored row's `within` value: the column of the dimension its breakdown is counted within
    (the OS of a distro row), NULL for every other row. Built from this table's constant names only."""
    branches = " ".join(f"WHEN '{d.name}' THEN {d.within.dimension.column}" for d in DIMENSIONS if d.within)
    return f"CASE breakdown {branches} END" if branches else "NULL"


def value_sql() -> str:
    """SQL for the stored row's value: the column of the dimension its `breakdown` names (NULL for totals).

    Built from this table's constant names only; no value from outside is formatted into it.
    """
    return "CASE breakdown " + " ".join(f"WHEN '{d.name}' THEN {d.column}" for d in DIMENSIONS) + " END"
