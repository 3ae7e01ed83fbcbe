"""Incremental builds: render only the pages whose inputs changed, reuse the rest, and say which and why.

A site is made of *units*: each package (its page, CSV tables, data/<name>.json, API documents and
badges), the index (with its letter pages and search.json), the cost page, each content page, the
404 page and the static files. A unit's inputs are

- the as-of date (every window ends on it, and every footer shows it);
- the code version: a hash of generator/**.py and .sql, templates/**, content/** and the versions of
  the libraries that shape the output (vl-convert, Altair, Jinja2, Markdown);
- the site settings that appear on pages (title, description, base URL, source, synthetic flag,
  history window, breakdowns, budget and price);
- its own data: for a package, a digest of its store rows up to the as-of date (aggregates and day
  coverage, every source, so the cross-check is covered) and of its share of the cost ledger; for the
  index, the package list and every package's data digest; for the cost page, the ledger.

A build writes `build-manifest.json` beside the pages, listing every unit with its data digest, whether
it was rendered or reused and why, and (for packages) the few figures the index, badges and feed need.
The next build into the same directory compares: a unit whose inputs are all unchanged is not rendered;
its files are hard-linked from the previous site (same inode, same mtime: a deploy that compares files
skips them). Any file a build does write is linked instead when its bytes equal the previous site's
file at that path (see `generator.sitewriter`).

When the as-of date moves, every unit's inputs change, so a daily run renders every page; reuse pays
off for rebuilds on the same date: late rows for some packages, a refetch that found nothing new, a
`--no-fetch` re-render after a config change that touches only some pages.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from generator import __version__, layout, resources
from generator.layout import package_unit as package_unit
from generator.layout import unit_of as unit_of
from generator.pages import PackageSummary
from generator.store import Store

MANIFEST = layout.BUILD_MANIFEST
FORMAT = "pypi-stats-site build manifest"
VERSION = 1
# Each folder's files by pattern; found through generator.resources, so an installed package
# (templates and content inside generator/) hashes the same as the checkout it was built from.
CODE_GLOBS = (("generator", ("*.py", "*.sql")), ("templates", ("*",)), ("content", ("*",)))
OUTPUT_LIBRARIES = ("vl-convert-python", "altair", "jinja2", "markdown")

RENDERED, REUSED = "rendered", "reused"


# -- inputs ---------------------------------------------------------------------------------------
def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def _code_folder(name: str) -> Path:
    return Path(__file__).resolve().parent if name == "generator" else resources.folder(name)


@functools.cache
def code_version() -> str:
    """A hash of everything that shapes the output besides data and settings."""
    h = hashlib.sha256()
    files: dict[str, Path] = {}
    for name, patterns in CODE_GLOBS:
        top = _code_folder(name)
        for pattern in patterns:
            for p in top.rglob(pattern):
                if p.is_file() and "__pycache__" not in p.parts:
                    files[f"{name}/{p.relative_to(top).as_posix()}"] = p
    for key, path in sorted(files.items()):
        h.update(key.encode() + b"\0" + path.read_bytes() + b"\0")
    for name in OUTPUT_LIBRARIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "-"
        h.update(f"{name}=={version}\0".encode())
    h.update(f"manifest {VERSION}\0".encode())
    return h.hexdigest()


def site_settings(**settings: Any) -> str:
    """A digest of the settings that appear on pages (passed by name, any JSON-able values)."""
    return _digest(json.dumps(settings, sort_keys=True, default=str))


def package_data(
    store: Store, projects: Iterable[str], as_of: dt.date, extra: Mapping[str, object] | None = None
) -> dict[str, str]:
    """Per project: a digest of the store rows its page reads (every source, every day up to as_of).

    From the store's per-project fingerprints (count and sum of row hashes, per source), not a read
    of the rows: cheap at a thousand packages. `extra` adds per-project inputs (its cost).
    """
    projects = list(projects)
    parts: dict[str, list[str]] = defaultdict(list)
    for label, project, source, count, total in store.digests(projects, as_of):
        parts[project].append(f"{label}:{source}:{count}:{total}")
    extra = extra or {}
    return {p: _digest(*sorted(parts[p]), repr(extra.get(p))) for p in projects}


# -- which unit a file belongs to (generator.layout.unit_of, from the same templates as each path) -----
def files_by_unit(site: Path) -> dict[str, list[str]]:
    """Every file of a built site, grouped by unit (one walk of the tree)."""
    out: dict[str, list[str]] = defaultdict(list)
    if not site.is_dir():
        return out
    for folder, _dirs, names in os.walk(site):
        base = Path(folder).relative_to(site)
        for name in names:
            rel = (base / name).as_posix()
            out[unit_of(rel)].append(rel)
    return out


# -- the manifest -----------------------------------------------------------------------------------
@dataclass
class Unit:
    key: str
    data: str
    """Digest of the unit's own data inputs (see the module doc)."""
    status: str = ""
    reason: str = ""
    files: int = 0
    summary: PackageSummary | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"data": self.data, "status": self.status, "reason": self.reason, "files": self.files}
        if self.summary is not None:
            doc["summary"] = self.summary.to_json()
        return doc


@dataclass
class Previous:
    """The previous build in the output directory, as its manifest describes it."""

    as_of: str = ""
    code: str = ""
    site: str = ""
    units: dict[str, dict[str, Any]] = field(default_factory=dict)
    problem: str = "no previous build"
    """Why nothing can be reused ("" when the previous build can be compared with)."""

    @classmethod
    def read(cls, site: Path) -> Previous:
        path = site / MANIFEST
        if not path.is_file():
            return cls(problem="no previous build" if not site.exists() else "no build manifest in the previous site")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("format") != FORMAT or doc.get("version") != VERSION:
                return cls(problem="the previous build manifest has another format")
            units = doc["units"]
            inputs = doc["inputs"]
            if not isinstance(units, dict):
                raise TypeError("units")
            return cls(str(doc["as_of"]), str(inputs["code"]), str(inputs["site"]), units, problem="")
        except (OSError, ValueError, KeyError, TypeError):
            return cls(problem="the previous build manifest is unreadable")

    def summary(self, key: str) -> PackageSummary | None:
        doc = self.units.get(key, {}).get("summary")
        if not isinstance(doc, dict):
            return None
        try:
            return PackageSummary.from_json(key.removeprefix("package:"), doc)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


@dataclass
class Plan:
    """Which units to render and which to reuse, with the reason for each."""

    as_of: dt.date
    code: str
    site: str
    units: dict[str, Unit]
    previous_files: dict[str, list[str]]
    """The previous site's files by unit (one walk of it, which the build's check for a user's own files
    reads too); empty when there is none."""
    previous_units: frozenset[str] = frozenset()
    """The units the previous build's manifest lists (read even for a full build)."""

    def render(self, key: str) -> bool:
        return self.units[key].status == RENDERED

    def reused(self) -> list[Unit]:
        return [u for u in self.units.values() if u.status == REUSED]

    def manifest(self) -> str:
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "generator": __version__,
            "as_of": self.as_of.isoformat(),
            "inputs": {"code": self.code, "site": self.site},
            "rule": (
                "A unit is rendered when its inputs changed since the previous build in this directory: the as-of"
                " date, the code version, the site settings or its data digest. Otherwise its files are"
                " hard-linked from the previous site, unchanged."
            ),
            "counts": {status: sum(u.status == status for u in self.units.values()) for status in (RENDERED, REUSED)},
        }
        head = json.dumps(doc, indent=1, sort_keys=True)[:-2]
        # One unit a line: a thousand packages stay readable, and the file small.
        units = ",\n".join(
            f"  {json.dumps(key)}: {json.dumps(self.units[key].to_json(), sort_keys=True, separators=(',', ':'))}"
            for key in sorted(self.units)
        )
        return f'{head},\n "units": {{\n{units}\n }}\n}}\n'


DATA_CHANGED = {
    "package": "new or changed data for this package in the store",
    "index": "a package's data or the package list changed",
    "cost": "the cost ledger changed",
    "leaderboard": "the leaderboard's rankings or the package list changed",
}


def reuses_most(out_dir: Path, as_of: dt.date, *, full: bool = False) -> bool:
    """Whether a build into `out_dir` will most likely render few units: the previous build there was made
    by this code for the same as-of date (late rows, a changed package), so only what changed renders.
    Another as-of date or other code renders every package page."""
    if full:
        return False
    previous = Previous.read(out_dir)
    return not previous.problem and previous.code == code_version() and previous.as_of == as_of.isoformat()


def plan(
    out_dir: Path,
    units: Mapping[str, str],
    *,
    as_of: dt.date,
    code: str,
    site: str,
    full: bool = False,
) -> Plan:
    """Decide, per unit (key → data digest), whether to render it or reuse the previous build's files."""
    found = Previous.read(out_dir)
    previous = Previous() if full else found
    on_disk = files_by_unit(out_dir)
    decided: dict[str, Unit] = {}
    for key, data in units.items():
        unit = Unit(key, data, status=RENDERED)
        kind = key.split(":", 1)[0]
        before = previous.units.get(key)
        if full:
            unit.reason = "full build requested"
        elif previous.problem:
            unit.reason = previous.problem
        elif previous.code != code:
            unit.reason = "code, templates or content changed"
        elif previous.as_of != as_of.isoformat():
            unit.reason = f"the as-of date moved from {previous.as_of} to {as_of.isoformat()}"
        elif previous.site != site:
            unit.reason = "site settings changed"
        elif not isinstance(before, dict):
            unit.reason = "not in the previous build"
        elif before.get("data") != data:
            unit.reason = DATA_CHANGED.get(kind, "its inputs changed")
        elif before.get("files") != len(on_disk.get(key, ())) or not on_disk.get(key):
            unit.reason = "files missing from the previous site"
        elif kind == "package" and previous.summary(key) is None:
            unit.reason = "the previous manifest lacks its figures"
        else:
            unit.status, unit.reason = REUSED, "inputs unchanged"
            unit.summary = previous.summary(key) if kind == "package" else None
        decided[key] = unit
    return Plan(as_of, code, site, decided, on_disk, frozenset(found.units))
