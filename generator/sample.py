"""Deterministic synthetic raw PyPI download events, in the `file_downloads` schema.

The events are generated in DuckDB SQL from small parameter tables built here: per-package
profiles (volume, growth, releases), weighted tables of clients (installer, Python, platform,
country), and some sixteen thousand pre-drawn "client archetypes" a month, one of which each
event picks by hash. Every pseudo-random choice is a hash of (seed, package, day, event index, salt), never
random(), and every file is written in the order of a unique sort key, so the same arguments
give the same bytes (with the same DuckDB and Python versions).

The shape is what the report explains:
- package-manager installs (pip, uv growing, poetry, ...) with weekday seasonality, growth and
  noise, and CI runs flagged `details.ci = TRUE` on pip and uv only;
- bandersnatch mirrors that fetch every file of each release once per mirror, around the
  release day, plus mirrors doing a full sync of everything released so far; proxies
  (Artifactory, Nexus, ...) in proportion to installs;
- scripts, browsers, packagers and NULL installers; rare malformed `details.python` strings;
- one day (MISSING_DAY) with no events at all, as PyPI's logs sometimes have.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from generator.errors import ConfigError

DEMO_PACKAGES: tuple[str, ...] = ("acme-http", "fastjsonish", "tinycli-kit", "pelican-widgets")
DEMO_END = date(2026, 10, 31)
DEMO_DAYS = 210
MISSING_DAY = date(2026, 7, 14)
SYNTHETIC_MARKER = "SYNTHETIC.json"

FORMATS: dict[str, str] = {"parquet": ".parquet", "ndjson": ".jsonl"}
MAX_EVENTS_PER_FILE = 4_000_000
"""A calendar month is split into several files past this, which bounds the memory of one sort."""

SLOTS = 1 << 13
"""Client archetypes per (month, CI or not): each stands for 1/8192 of that month's organic events."""
MIRROR_IDENTITIES = 1024
FULL_SYNCS_PER_DAY = 3.0
"""Mean number of mirrors a day (at scale 1) that fetch every file of every release so far."""

DAY_US = 86_400_000_000
EPOCH = date(1970, 1, 1)

# A compiled package ships a wheel per CPython 3.9-3.14 and platform, plus the sdist.
CP_MINORS: tuple[str, ...] = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
WHEEL_PLATFORMS: tuple[str, ...] = (
    "manylinux_2_17_x86_64.manylinux2014_x86_64",
    "manylinux_2_17_aarch64.manylinux2014_aarch64",
    "musllinux_1_2_x86_64",
    "macosx_11_0_arm64",
    "macosx_10_12_x86_64",
    "win_amd64",
)
# Clients that report no Python (proxies, scripts) get the commonest wheel: cp312, manylinux x86_64.
DEFAULT_WHEEL_IDX = CP_MINORS.index("3.12") * len(WHEEL_PLATFORMS)


# ---------------------------------------------------------------------------------------------
# Public data types


@dataclass(frozen=True)
class Release:
    version: str
    day: date


@dataclass(frozen=True)
class PackageProfile:
    """How one synthetic package behaves; hand-picked for the demo names, else derived from name and seed."""

    project: str
    base_daily: float
    """Organic (non-mirror) downloads a day at scale 1, on the first day of the range."""
    growth_per_year: float
    """Exponential growth rate of organic downloads."""
    weekend_factor: float
    noise: float
    """Sigma of the log-normal day-to-day noise."""
    ci_fraction: float
    """Share of organic events that are CI runs (pip or uv with details.ci = TRUE)."""
    compiled: bool
    """Ships 36 platform wheels per release, so mirrors fetch 37 files per release instead of 2."""
    mirror_instances: int
    """bandersnatch mirrors that fetch each new release (before scale)."""
    releases: tuple[Release, ...]
    """Strictly increasing versions; the first is before the range, so every day has a version."""

    @property
    def dist(self) -> str:
        """The name as it appears in file names (PEP 427 and 625: `-` becomes `_`)."""
        return self.project.replace("-", "_")

    def filenames(self, version: str) -> tuple[str, ...]:
        """Every file of one release: the wheels, then the sdist last."""
        if self.compiled:
            wheels = tuple(
                f"{self.dist}-{version}-{_cp(m)}-{_cp(m)}-{plat}.whl" for m in CP_MINORS for plat in WHEEL_PLATFORMS
            )
        else:
            wheels = (f"{self.dist}-{version}-py3-none-any.whl",)
        return (*wheels, f"{self.dist}-{version}.tar.gz")


@dataclass
class SampleSummary:
    out_dir: Path
    files: list[Path]
    events: int
    start: date
    end: date
    packages: tuple[PackageProfile, ...] = ()
    missing_day: date | None = None
    """MISSING_DAY when it falls inside the range (it then has no events at all)."""
    per_file: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Who downloads: installers, Python versions, platforms, countries


def _d(text: str) -> date:
    return date.fromisoformat(text)


def _versions(text: str) -> tuple[tuple[str | None, date], ...]:
    """'1.0@2024-01-31 1.1@2024-06-01' -> ((version, release date), ...), oldest first."""
    pairs = (item.split("@") for item in text.split())
    return tuple((version, _d(when)) for version, when in pairs)


def _pairs(text: str) -> tuple[tuple[str | None, float], ...]:
    """'US:30 CN:9 -:1' -> ((value, number), ...), e.g. weights; '-' is NULL."""
    pairs = (item.rsplit(":", 1) for item in text.split())
    return tuple((None if value == "-" else value, float(weight)) for value, weight in pairs)


@dataclass(frozen=True)
class InstallerSpec:
    name: str | None
    weight: float
    """Relative share among non-CI organic events (pip and uv split PIP_UV_WEIGHT instead)."""
    versions: tuple[tuple[str | None, date], ...]
    decay: float = 0.6
    """How fast users move to a new release: the version `rank` releases behind weighs decay**rank."""
    python: bool = True
    platform: str = "full"
    """`full`: system, distro, cpu and openssl; `system`: the system name only, on system_share; `none`."""
    system_share: float = 1.0
    sdist_share: float = 0.1
    """Share that download the sdist: --no-binary, old installers, no matching wheel."""
    setuptools_share: float = 0.0
    rustc_share: float = 0.0


NO_VERSION = ((None, date(2000, 1, 1)),)
PIP_UV_WEIGHT = 66.0


def _no_python(name: str, weight: float, versions: str | None, *, sdist_share: float) -> InstallerSpec:
    """A client that reports neither a Python nor a platform (proxies, scripts, packagers)."""
    found = _versions(versions) if versions else NO_VERSION
    return InstallerSpec(name, weight, found, python=False, platform="none", sdist_share=sdist_share)


INSTALLERS: tuple[InstallerSpec, ...] = (
    InstallerSpec(
        "pip",
        0.0,
        _versions(
            "23.0.1@2023-02-17 23.2.1@2023-07-22 23.3.2@2023-12-17 24.0@2024-02-03 24.1.2@2024-07-07"
            " 24.2@2024-07-28 24.3.1@2024-10-27 25.0.1@2025-02-09 25.1.1@2025-05-02 25.2@2025-07-30 25.3@2025-10-24"
        ),
        setuptools_share=0.55,
        rustc_share=0.1,
    ),
    InstallerSpec(
        "uv",
        0.0,
        _versions(
            "0.4.30@2024-11-06 0.5.31@2025-02-12 0.6.17@2025-04-25 0.7.22@2025-07-17 0.8.24@2025-10-06 0.9.5@2025-10-21"
        ),
        decay=0.45,
        sdist_share=0.07,
    ),
    InstallerSpec("poetry", 7.5, _versions("1.8.5@2024-12-06 2.0.1@2025-01-11 2.1.3@2025-05-04 2.2.1@2025-09-21")),
    InstallerSpec("pdm", 1.2, _versions("2.22.4@2025-03-10 2.24.2@2025-05-30 2.25.9@2025-09-10")),
    InstallerSpec("conda", 0.8, _versions("24.11.3@2025-01-10 25.3.1@2025-04-10 25.7.0@2025-08-10")),
    InstallerSpec("pex", 0.4, _versions("2.33.9@2025-04-20 2.55.2@2025-09-25")),
    InstallerSpec(
        "setuptools", 0.4, _versions("69.5.1@2024-04-13 75.8.0@2025-01-12 80.9.0@2025-05-27"), sdist_share=0.3
    ),
    # Proxies fetch for clients behind them, so they follow installs; they report no Python or platform.
    _no_python("Artifactory", 2.0, "7.104.14@2025-02-01 7.117.5@2025-07-01", sdist_share=0.1),
    _no_python("Nexus", 1.2, "3.77.1-01@2025-02-20 3.82.0-08@2025-08-01", sdist_share=0.1),
    _no_python("devpi", 0.5, "6.14.0@2024-11-10 6.17.0@2025-07-15", sdist_share=0.1),
    _no_python("z3c.pypimirror", 0.06, "1.0.16@2010-04-02", sdist_share=0.5),
    _no_python("pep381client", 0.12, "1.5@2011-04-25", sdist_share=0.5),
    # bandersnatch never downloads as an install (weight 0): only as a mirror, in the mirror streams.
    _no_python("bandersnatch", 0.0, "6.5.0@2023-12-03 6.6.0@2025-02-06", sdist_share=0.0),
    # Scripts, browsers and packagers report no Python; packagers mostly want the sdist.
    _no_python(
        "requests", 6.2, "2.31.0@2023-05-22 2.32.3@2024-05-29 2.32.4@2025-06-09 2.32.5@2025-08-18", sdist_share=0.35
    ),
    _no_python("Browser", 1.9, None, sdist_share=0.3),
    _no_python("OS", 0.5, None, sdist_share=0.85),
    InstallerSpec(
        "Homebrew",
        0.4,
        _versions("4.4.32@2025-01-01 4.5.13@2025-07-20 4.6.17@2025-10-15"),
        python=False,
        platform="system",
        sdist_share=0.9,
    ),
    _no_python("Bazel", 0.4, "7.6.1@2025-04-10 8.4.2@2025-10-01", sdist_share=0.2),
    _no_python("maturin", 0.25, "1.8.7@2025-06-01 1.9.6@2025-10-10", sdist_share=0.5),
    _no_python("twine", 0.06, "6.1.0@2025-01-17 6.2.0@2025-09-04", sdist_share=0.5),
    # A user agent linehaul could not parse: every detail NULL except, sometimes, the system.
    InstallerSpec(None, 5.0, NO_VERSION, python=False, platform="system", system_share=0.3, sdist_share=0.25),
)

UV_SINCE = date(2024, 9, 1)


def uv_fraction(when: date, *, ci: bool = False) -> float:
    """uv's share of pip+uv installs on a day: it grows by about 11 points a year, faster in CI."""
    years = (when - UV_SINCE).days / 365.25
    share = min(0.45, max(0.0, 0.03 + 0.11 * years))
    return min(0.6, share * 1.4) if ci else share


@dataclass(frozen=True)
class PythonMinor:
    minor: str
    patches: tuple[str, ...]
    weight: float
    released: date


# Weighted towards 3.11 and 3.12; a minor appears only from its release on.
PYTHONS: tuple[PythonMinor, ...] = (
    PythonMinor("3.8", ("3.8.10", "3.8.18", "3.8.20"), 3.0, _d("2019-10-14")),
    PythonMinor("3.9", ("3.9.2", "3.9.21", "3.9.23"), 7.0, _d("2020-10-05")),
    PythonMinor("3.10", ("3.10.12", "3.10.16", "3.10.18"), 13.0, _d("2021-10-04")),
    PythonMinor("3.11", ("3.11.2", "3.11.11", "3.11.13"), 23.0, _d("2022-10-24")),
    PythonMinor("3.12", ("3.12.3", "3.12.9", "3.12.11"), 28.0, _d("2023-10-02")),
    PythonMinor("3.13", ("3.13.3", "3.13.5", "3.13.7"), 18.0, _d("2024-10-07")),
    PythonMinor("3.14", ("3.14.0",), 6.0, _d("2025-10-07")),
)
PYPY_VERSIONS = {"3.10": "7.3.17", "3.11": "7.3.20"}
# Strings pypistats.org's regex ^[0-9]\.[0-9]+.{0,}$ rejects, on 0.2% of the events that report a Python.
MALFORMED_PYTHONS: tuple[str, ...] = ("", "10.1", "3", "cpython")
MALFORMED_SHARE = 0.002


@dataclass(frozen=True)
class Platform:
    pool: str
    """`user` (people), `ci` (hosted runners) or `server` (mirror hosts)."""
    weight: float
    system: str | None
    release: str | None = None
    distro: tuple[str, str, str | None] | None = None
    libc: tuple[str, str] | None = None
    cpu: str | None = None
    openssl: str | None = None
    wheel: int | None = None
    """Index into WHEEL_PLATFORMS of the wheel this platform installs; None builds the sdist."""
    native_python: str | None = None


_U20 = ("Ubuntu", "20.04", "focal")
_U22 = ("Ubuntu", "22.04", "jammy")
_U24 = ("Ubuntu", "24.04", "noble")
_DEB12 = ("Debian GNU/Linux", "12", "bookworm")
_DEB13 = ("Debian GNU/Linux", "13", "trixie")
_ALPINE = ("Alpine Linux", "3.21.3", None)
_CENTOS7 = ("CentOS Linux", "7", "Core")
_SSL_U20 = "OpenSSL 1.1.1f  31 Mar 2020"
_SSL_U22 = "OpenSSL 3.0.2 15 Mar 2022"
_SSL_U24 = "OpenSSL 3.0.13 30 Jan 2024"
_SSL_30 = "OpenSSL 3.0.15 3 Sep 2024"
_SSL_35 = "OpenSSL 3.5.1 1 Jul 2025"
_SSL_ALPINE = "OpenSSL 3.3.3 11 Feb 2025"
_SSL_CENTOS = "OpenSSL 1.0.2k-fips  26 Jan 2017"
_GLIBC = "glibc"
_MUSL = ("musl", "1.2.5")
_WSL = "6.6.87.2-microsoft-standard-WSL2"
_EL7 = "3.10.0-1160.119.1.el7.x86_64"

PLATFORMS: tuple[Platform, ...] = (
    Platform("user", 17, "Linux", "5.15.0-139-generic", _U22, (_GLIBC, "2.35"), "x86_64", _SSL_U22, 0, "3.10.12"),
    Platform("user", 13, "Linux", "6.8.0-60-generic", _U24, (_GLIBC, "2.39"), "x86_64", _SSL_U24, 0, "3.12.3"),
    Platform("user", 2, "Linux", "6.8.0-1029-aws", _U24, (_GLIBC, "2.39"), "aarch64", _SSL_U24, 1, "3.12.3"),
    Platform("user", 4, "Linux", "5.4.0-216-generic", _U20, (_GLIBC, "2.31"), "x86_64", _SSL_U20, 0, "3.8.10"),
    Platform("user", 13, "Linux", "6.1.0-35-amd64", _DEB12, (_GLIBC, "2.36"), "x86_64", _SSL_30, 0, "3.11.2"),
    Platform("user", 3, "Linux", "6.1.0-35-arm64", _DEB12, (_GLIBC, "2.36"), "aarch64", _SSL_30, 1, "3.11.2"),
    Platform("user", 3, "Linux", "6.12.41+deb13-amd64", _DEB13, (_GLIBC, "2.41"), "x86_64", _SSL_35, 0, "3.13.5"),
    Platform("user", 4, "Linux", _WSL, _ALPINE, _MUSL, "x86_64", _SSL_ALPINE, 2),
    Platform("user", 1.5, "Linux", _EL7, _CENTOS7, (_GLIBC, "2.17"), "x86_64", _SSL_CENTOS, 0),
    Platform("user", 2, "Linux", "6.1.0-35-amd64", None, (_GLIBC, "2.28"), "x86_64", _SSL_30, 0),
    Platform("user", 9, "Darwin", "24.5.0", ("macOS", "15.5", None), None, "arm64", _SSL_30, 3),
    Platform("user", 4, "Darwin", "23.6.0", ("macOS", "14.6.1", None), None, "arm64", _SSL_30, 3),
    Platform("user", 3, "Darwin", "22.6.0", ("macOS", "13.7.6", None), None, "x86_64", "LibreSSL 2.8.3", 4),
    Platform("user", 9, "Windows", "10", None, None, "AMD64", _SSL_30, 5),
    Platform("user", 5, "Windows", "11", None, None, "AMD64", _SSL_30, 5),
    Platform("user", 0.3, "FreeBSD", "14.2-RELEASE", None, None, "amd64", _SSL_30, None),
    Platform("user", 3, None),
    # Hosted CI runners: GitHub Actions' ubuntu-latest dominates.
    Platform("ci", 45, "Linux", "6.11.0-1015-azure", _U24, (_GLIBC, "2.39"), "x86_64", _SSL_U24, 0),
    Platform("ci", 20, "Linux", "6.8.0-1021-azure", _U22, (_GLIBC, "2.35"), "x86_64", _SSL_U22, 0),
    Platform("ci", 12, "Linux", "6.8.0-1021-azure", _DEB12, (_GLIBC, "2.36"), "x86_64", _SSL_30, 0),
    Platform("ci", 3, "Linux", "6.8.0-1021-azure", _ALPINE, _MUSL, "x86_64", _SSL_ALPINE, 2),
    Platform("ci", 10, "Windows", "10", None, None, "AMD64", _SSL_30, 5),
    Platform("ci", 10, "Darwin", "24.5.0", ("macOS", "15.5", None), None, "arm64", _SSL_30, 3),
    # Mirror hosts, for the few bandersnatch rows that report a platform.
    Platform("server", 5, "Linux", "6.8.0-60-generic", _U24, (_GLIBC, "2.39"), "x86_64", _SSL_U24, 0, "3.12.3"),
    Platform("server", 4, "Linux", "6.1.0-35-amd64", _DEB12, (_GLIBC, "2.36"), "x86_64", _SSL_30, 0, "3.11.2"),
    Platform("server", 1, "Linux", "5.15.0-139-generic", _U22, (_GLIBC, "2.35"), "x86_64", _SSL_U22, 0, "3.10.12"),
)

COUNTRIES: dict[str, tuple[tuple[str | None, float], ...]] = {
    "user": _pairs(
        "US:30 CN:9 DE:6 IN:5 GB:4 FR:3.5 JP:3 SG:3 IE:2.5 NL:2.5 CA:2.5 KR:2 BR:2 AU:1.5 RU:1.5 HK:1.2 SE:1 CH:1"
        " PL:1 ES:1 IT:1 TW:1 VN:0.8 IL:0.7 FI:0.7 -:1"
    ),
    # Hosted runners live in a few cloud regions, mostly in the US.
    "ci": _pairs("US:78 IE:5 NL:4 SG:3 DE:3 GB:2 JP:2 IN:1.5 -:1.5"),
    # Public mirrors: many large ones are university mirrors in China.
    "mirror": _pairs("CN:30 US:22 DE:10 JP:7 KR:5 FR:4 GB:4 NL:4 SG:3 BR:3 RU:3 IN:3 AU:2"),
}

# Versions pip reports for the setuptools and rustc it finds in the environment.
TOOLS: dict[str, tuple[tuple[str | None, float], ...]] = {
    "setuptools": _pairs("65.5.0:2 68.2.2:2 69.5.1:3 70.3.0:2 75.8.0:3 78.1.0:2 80.9.0:4"),
    "rustc": _pairs("1.75.0:1 1.83.0:2 1.86.0:2 1.89.0:3 1.90.0:3"),
}


# ---------------------------------------------------------------------------------------------
# Package profiles


def normalize(name: str) -> str:
    """PEP 503 normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _digest(*parts: object) -> int:
    text = "\x00".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def _salt(*parts: object) -> int:
    """A 63-bit integer to seed DuckDB's hash(); fits a BIGINT."""
    return _digest(*parts) >> 1


def _cp(minor: str) -> str:
    return "cp" + minor.replace(".", "")


@dataclass(frozen=True)
class _DemoPlan:
    base_daily: float
    growth_per_year: float
    weekend_factor: float
    noise: float
    ci_fraction: float
    compiled: bool
    mirror_instances: int
    before: str
    """Releases before the range, as 'version:days-before-its-first-day ...'."""
    during: str
    """Releases in the range, as 'version:position-from-0-to-1 ...'."""


# Hand-picked so that the demo tells four different stories.
DEMO_PLANS: dict[str, _DemoPlan] = {
    # Large and steady: mirrors are a rounding error; scripts and proxies are not.
    "acme-http": _DemoPlan(
        base_daily=3000,
        growth_per_year=0.35,
        weekend_factor=0.55,
        noise=0.08,
        ci_fraction=0.18,
        compiled=False,
        mirror_instances=55,
        before="2.6.0:160 2.7.0:45",
        during="2.7.1:0.12 2.8.0:0.45 3.0.0:0.80",
    ),
    # A compiled extension: 37 files a release, so mirrors are about 40% of its rows; CI-heavy.
    "fastjsonish": _DemoPlan(
        base_daily=700,
        growth_per_year=0.5,
        weekend_factor=0.62,
        noise=0.12,
        ci_fraction=0.26,
        compiled=True,
        mirror_instances=70,
        before="0.9.4:70",
        during="0.9.5:0.08 0.10.0:0.22 0.10.1:0.35 0.11.0:0.52 0.11.1:0.62 0.12.0:0.78 0.12.1:0.93",
    ),
    # Small: mirrors and bots are a large share of what it gets.
    "tinycli-kit": _DemoPlan(
        base_daily=40,
        growth_per_year=0.1,
        weekend_factor=0.7,
        noise=0.25,
        ci_fraction=0.16,
        compiled=False,
        mirror_instances=45,
        before="1.0.2:300",
        during="1.1.0:0.3 1.1.1:0.72",
    ),
    # A release every three weeks: mirror spikes, and a fast-moving version mix.
    "pelican-widgets": _DemoPlan(
        base_daily=450,
        growth_per_year=0.6,
        weekend_factor=0.58,
        noise=0.12,
        ci_fraction=0.22,
        compiled=False,
        mirror_instances=50,
        before="0.18.0:90 0.19.0:20",
        during=(
            "0.19.1:0.05 0.20.0:0.14 0.20.1:0.22 0.21.0:0.31 0.21.1:0.40 0.22.0:0.55 0.22.1:0.60 0.23.0:0.70"
            " 0.23.1:0.80 0.24.0:0.90"
        ),
    ),
}


def package_profile(name: str, *, seed: int = 42, start: date, days: int) -> PackageProfile:
    """The profile of one package over `days` days from `start`: hand-picked for demo names, else hashed."""
    project = normalize(name)
    plan = DEMO_PLANS.get(project)
    if plan is not None:
        return _demo_profile(project, plan, start, days)
    return _hashed_profile(project, seed, start, days)


def _demo_profile(project: str, plan: _DemoPlan, start: date, days: int) -> PackageProfile:
    before = [Release(str(v), start - dt.timedelta(days=int(ago))) for v, ago in _pairs(plan.before)]
    during = _pairs(plan.during)
    offsets = _distinct_days([round(pos * (days - 1)) for _, pos in during], days)
    # Releases that do not fit a short range are dropped, so offsets may be the shorter list.
    in_range = [Release(str(v), start + dt.timedelta(days=i)) for (v, _), i in zip(during, offsets, strict=False)]
    return PackageProfile(
        project=project,
        base_daily=plan.base_daily,
        growth_per_year=plan.growth_per_year,
        weekend_factor=plan.weekend_factor,
        noise=plan.noise,
        ci_fraction=plan.ci_fraction,
        compiled=plan.compiled,
        mirror_instances=plan.mirror_instances,
        releases=(*before, *in_range),
    )


def _distinct_days(positions: Iterable[int], days: int) -> list[int]:
    """Push colliding release days forward so each is distinct; drop those past the range."""
    out: list[int] = []
    for pos in positions:
        day = max(pos, out[-1] + 1) if out else max(pos, 0)
        if day < days:
            out.append(day)
    return out


def _hashed_profile(project: str, seed: int, start: date, days: int) -> PackageProfile:
    # A private PRNG seeded from (seed, name): deterministic, and independent of the other packages.
    rng = random.Random(_digest("profile", seed, project))
    total = rng.randint(3, 12)
    n_before = rng.choice((1, 1, 2))
    first_ago = rng.randint(30, 400)
    before_days = sorted({first_ago, *(rng.randint(1, first_ago - 1) for _ in range(n_before - 1))}, reverse=True)
    n_during = min(total - len(before_days), days - 1)
    during_days = sorted(rng.sample(range(1, days), n_during)) if n_during > 0 else []
    offsets = [-ago for ago in before_days] + during_days
    versions = _version_run(rng, len(offsets))
    return PackageProfile(
        project=project,
        # Log-uniform popularity: most packages are small, a few are large.
        base_daily=round(20 * 150 ** rng.random(), 2),
        growth_per_year=round(rng.uniform(-0.3, 1.0), 3),
        weekend_factor=round(rng.uniform(0.5, 0.72), 3),
        noise=round(rng.uniform(0.08, 0.22), 3),
        ci_fraction=round(rng.uniform(0.14, 0.26), 3),
        compiled=rng.random() < 0.12,
        mirror_instances=rng.randint(30, 80),
        releases=tuple(Release(v, start + dt.timedelta(days=o)) for v, o in zip(versions, offsets, strict=True)),
    )


def _version_run(rng: random.Random, count: int) -> list[str]:
    """`count` strictly increasing versions: mostly patch bumps, some minor ones, rarely a major."""
    major, minor, patch = rng.choice((0, 0, 1, 1, 2, 3)), rng.randint(0, 15), rng.randint(0, 4)
    out = []
    for i in range(count):
        if i:
            bump = rng.random()
            if bump < 0.05:
                major, minor, patch = major + 1, 0, 0
            elif bump < 0.35:
                minor, patch = minor + 1, 0
            else:
                patch += 1
        out.append(f"{major}.{minor}.{patch}")
    return out


# ---------------------------------------------------------------------------------------------
# Parameter tables: small, built here, loaded into DuckDB from Arrow


@dataclass(frozen=True)
class _Range:
    start: date
    days: int

    @property
    def end(self) -> date:
        return self.start + dt.timedelta(days=self.days - 1)

    def day(self, idx: int) -> date:
        return self.start + dt.timedelta(days=idx)

    def index(self, day: date) -> int:
        return (day - self.start).days

    def era(self, day: date) -> int:
        """Months since the range's first month: which month's client mix a day uses."""
        return (day.year - self.start.year) * 12 + day.month - self.start.month

    def eras(self) -> list[tuple[int, date]]:
        """(era, the 15th of its month) for every month the range touches."""
        out = []
        for era in range(self.era(self.end) + 1):
            months = self.start.month - 1 + era
            out.append((era, date(self.start.year + months // 12, months % 12 + 1, 15)))
        return out


def _cumulative(weights: Sequence[float]) -> list[tuple[float, float]]:
    """[lo, hi) intervals of [0, 1) in proportion to the weights; the last one is open-ended."""
    total = float(sum(weights))
    out, acc = [], 0.0
    for i, w in enumerate(weights):
        lo = acc
        acc += w / total
        out.append((lo, 2.0 if i == len(weights) - 1 else acc))
    return out


def _table(rows: list[dict[str, object]], types: dict[str, pa.DataType]) -> pa.Table:
    return pa.table({k: pa.array([r[k] for r in rows], type=t) for k, t in types.items()})


TEXT, I32, I64, F64, BOOL = pa.string(), pa.int32(), pa.int64(), pa.float64(), pa.bool_()
WEIGHT_COLUMNS = {"lo": F64, "hi": F64}


def _key(name: str | None) -> str:
    # NULL installers are keyed '' so that they can be joined; the archetypes turn '' back into NULL.
    return name or ""


def _installer_table(rng: _Range) -> pa.Table:
    rows: list[dict[str, object]] = []
    for era, when in rng.eras():
        for ci in (False, True):
            uv = uv_fraction(when, ci=ci)
            weights = []
            for spec in INSTALLERS:
                if spec.name in ("pip", "uv"):
                    weights.append((spec.name, PIP_UV_WEIGHT * (uv if spec.name == "uv" else 1 - uv)))
                elif not ci:
                    # Hosted CI runs only pip and uv; everything else is outside CI.
                    weights.append((_key(spec.name), spec.weight))
            weights = [(k, w) for k, w in weights if w > 0]
            for (name, _), (lo, hi) in zip(weights, _cumulative([w for _, w in weights]), strict=True):
                rows.append({"era_id": era, "is_ci": ci, "name": name, "lo": lo, "hi": hi})
    return _table(rows, {"era_id": I32, "is_ci": BOOL, "name": TEXT, **WEIGHT_COLUMNS})


def _installer_info_table() -> pa.Table:
    rows: list[dict[str, object]] = [
        {
            "name": _key(s.name),
            "python": s.python,
            "platform": s.platform,
            "system_share": s.system_share,
            "sdist_share": s.sdist_share,
            "setuptools_share": s.setuptools_share,
            "rustc_share": s.rustc_share,
        }
        for s in INSTALLERS
    ]
    shares = ("system_share", "sdist_share", "setuptools_share", "rustc_share")
    return _table(rows, {"name": TEXT, "python": BOOL, "platform": TEXT, **dict.fromkeys(shares, F64)})


def _version_table(rng: _Range) -> pa.Table:
    rows: list[dict[str, object]] = []
    for era, when in rng.eras():
        for spec in INSTALLERS:
            available = [v for v, released in spec.versions if released <= when] or [spec.versions[0][0]]
            newest_first = available[::-1]
            # A long tail of old versions stays in use (pinned images, old laptops).
            weights = [spec.decay**rank + 0.02 for rank in range(len(newest_first))]
            for version, (lo, hi) in zip(newest_first, _cumulative(weights), strict=True):
                rows.append({"era_id": era, "name": _key(spec.name), "version": version, "lo": lo, "hi": hi})
    return _table(rows, {"era_id": I32, "name": TEXT, "version": TEXT, **WEIGHT_COLUMNS})


def _python_table(rng: _Range) -> pa.Table:
    rows: list[dict[str, object]] = []
    for era, when in rng.eras():
        released = [p for p in PYTHONS if p.released <= when]
        total = sum(p.weight for p in released)
        entries: list[tuple[str, str | None, float]] = [
            (patch, p.minor, (1 - MALFORMED_SHARE) * p.weight / total / len(p.patches))
            for p in released
            for patch in p.patches
        ]
        entries += [(bad, None, MALFORMED_SHARE / len(MALFORMED_PYTHONS)) for bad in MALFORMED_PYTHONS]
        for (python, minor, _), (lo, hi) in zip(entries, _cumulative([w for *_, w in entries]), strict=True):
            rows.append(
                {
                    "era_id": era,
                    "python": python,
                    "minor": minor,
                    "cp_idx": CP_MINORS.index(minor) if minor in CP_MINORS else None,
                    "pypy_version": PYPY_VERSIONS.get(minor or ""),
                    "lo": lo,
                    "hi": hi,
                }
            )
    types = {"era_id": I32, "python": TEXT, "minor": TEXT, "cp_idx": I32, "pypy_version": TEXT}
    return _table(rows, {**types, **WEIGHT_COLUMNS})


def _platform_table() -> pa.Table:
    rows: list[dict[str, object]] = []
    for pool in ("user", "ci", "server"):
        members = [p for p in PLATFORMS if p.pool == pool]
        for p, (lo, hi) in zip(members, _cumulative([p.weight for p in members]), strict=True):
            distro = p.distro or (None, None, None)
            libc = p.libc or (None, None)
            rows.append(
                {
                    "pool": pool,
                    "system_name": p.system,
                    "system_release": p.release,
                    "distro_name": distro[0],
                    "distro_version": distro[1],
                    "distro_id": distro[2],
                    "libc_lib": libc[0],
                    "libc_version": libc[1],
                    "cpu": p.cpu,
                    "openssl": p.openssl,
                    "wheel_platform": p.wheel,
                    "native_python": p.native_python,
                    "lo": lo,
                    "hi": hi,
                }
            )
    texts = ("pool", "system_name", "system_release", "distro_name", "distro_version", "distro_id", "libc_lib")
    more = ("libc_version", "cpu", "openssl")
    types = {**dict.fromkeys(texts + more, TEXT), "wheel_platform": I32, "native_python": TEXT}
    return _table(rows, {**types, **WEIGHT_COLUMNS})


def _weighted_table(key: str, value: str, groups: dict[str, tuple[tuple[str | None, float], ...]]) -> pa.Table:
    rows: list[dict[str, object]] = []
    for group, entries in groups.items():
        for (item, _), (lo, hi) in zip(entries, _cumulative([w for _, w in entries]), strict=True):
            rows.append({key: group, value: item, "lo": lo, "hi": hi})
    return _table(rows, {key: TEXT, value: TEXT, **WEIGHT_COLUMNS})


def _days_table(rng: _Range) -> pa.Table:
    rows: list[dict[str, object]] = []
    for idx in range(rng.days):
        day = rng.day(idx)
        rows.append(
            {
                "day_idx": idx,
                "day_us": (day - EPOCH).days * DAY_US,
                "era_id": rng.era(day),
                "weekend": day.weekday() >= 5,
                "missing": day == MISSING_DAY,
            }
        )
    return _table(rows, {"day_idx": I32, "day_us": I64, "era_id": I32, "weekend": BOOL, "missing": BOOL})


def _package_tables(profiles: Sequence[PackageProfile], seed: int, rng: _Range) -> dict[str, pa.Table]:
    pkgs: list[dict[str, object]] = []
    releases: list[dict[str, object]] = []
    files: list[dict[str, object]] = []
    for pkg_id, p in enumerate(profiles):
        pkgs.append(
            {
                "pkg_id": pkg_id,
                "salt": _salt("package", seed, p.project),
                "base": p.base_daily,
                "growth": p.growth_per_year,
                "weekend_factor": p.weekend_factor,
                "sigma": p.noise,
                "ci16": round(p.ci_fraction * 65536),
                "compiled": p.compiled,
                "n_wheels": len(p.filenames("0")) - 1,
            }
        )
        for rel_idx, r in enumerate(p.releases):
            day_idx = rng.index(r.day)
            releases.append(
                {
                    "pkg_id": pkg_id,
                    "rel_idx": rel_idx,
                    "day_idx": day_idx,
                    "mirrors": p.mirror_instances,
                    "salt": _salt("release", seed, p.project, r.version),
                }
            )
            for file_idx, filename in enumerate(p.filenames(r.version)):
                files.append(_file_row(p.project, pkg_id, rel_idx, file_idx, day_idx, r.version, filename, seed))
    return {
        "pkgs": _table(
            pkgs,
            {"pkg_id": I32, "salt": I64, "base": F64, "growth": F64, "weekend_factor": F64, "sigma": F64, "ci16": I32}
            | {"compiled": BOOL, "n_wheels": I32},
        ),
        "releases": _table(releases, {"pkg_id": I32, "rel_idx": I32, "day_idx": I32, "mirrors": I32, "salt": I64}),
        "files": _table(
            files,
            {"file_key": I64, "pkg_id": I32, "rel_idx": I32, "file_idx": I32, "rel_day_idx": I32}
            | dict.fromkeys(("project", "filename", "version", "file_type", "url"), TEXT),
        ),
    }


def _file_row(
    project: str, pkg_id: int, rel_idx: int, file_idx: int, day_idx: int, version: str, filename: str, seed: int
) -> dict[str, object]:
    # files.pythonhosted.org paths are /packages/<2 hex>/<2 hex>/<60 hex>/<filename>.
    digest = hashlib.blake2b(f"{seed}/{filename}".encode(), digest_size=32).hexdigest()
    return {
        # Fewer than 64 releases and 64 files a release, so one BIGINT key joins faster than three columns.
        "file_key": (pkg_id * 64 + rel_idx) * 64 + file_idx,
        "pkg_id": pkg_id,
        "rel_idx": rel_idx,
        "file_idx": file_idx,
        "rel_day_idx": day_idx,
        "project": project,
        "filename": filename,
        "version": version,
        "file_type": "sdist" if filename.endswith(".tar.gz") else "bdist_wheel",
        "url": f"/packages/{digest[:2]}/{digest[2:4]}/{digest[4:]}/{filename}",
    }


def _parameter_tables(profiles: Sequence[PackageProfile], seed: int, rng: _Range) -> dict[str, pa.Table]:
    return {
        **_package_tables(profiles, seed, rng),
        "days": _days_table(rng),
        "w_installer": _installer_table(rng),
        "installer_info": _installer_info_table(),
        "w_version": _version_table(rng),
        "w_python": _python_table(rng),
        "w_platform": _platform_table(),
        "w_country": _weighted_table("pool", "country_code", COUNTRIES),
        "w_tool": _weighted_table("tool", "version", TOOLS),
    }


# ---------------------------------------------------------------------------------------------
# Generator SQL. Values are bound as $parameters; nothing is formatted into the text.
#
# Every string column is an ENUM built from the parameter tables. Sorting a chunk then moves a
# byte or two per column instead of strings, and DuckDB's Parquet writer writes an ENUM straight
# from its dictionary (as a plain STRING column): several times faster than VARCHAR.

SETUP_SQL = """
SET preserve_insertion_order = true;  -- the files' row order relies on it (see SORT_CHUNK_SQL)

-- A bucket in [0, 4096) from 12 bits of a 64-bit hash.
CREATE MACRO bucket(h, shift) AS ((h >> shift) & 4095)::INTEGER;
-- A uniform number in [0, 1) from 16 bits of a 64-bit hash.
CREATE MACRO unit(h, shift) AS ((h >> shift) & 65535)::DOUBLE / 65536;
-- A uniform time of day in microseconds.
CREATE MACRO time_of_day(h) AS (h % 86400000000)::BIGINT;
-- n equal buckets of [0, 1), by their midpoints: a weighted table [lo, hi) joined to them gives
-- each value a number of buckets in proportion to its weight, so a draw becomes an equi-join.
CREATE MACRO buckets(n) AS TABLE SELECT b, (b + 0.5) / n AS mid FROM range(n) r(b);

CREATE TYPE e_country AS ENUM (
    SELECT DISTINCT country_code FROM w_country WHERE country_code IS NOT NULL ORDER BY 1
);
CREATE TYPE e_installer AS ENUM (SELECT DISTINCT name FROM installer_info WHERE name <> '' ORDER BY 1);
CREATE TYPE e_installer_version AS ENUM (
    SELECT DISTINCT version FROM w_version WHERE version IS NOT NULL ORDER BY 1
);
CREATE TYPE e_python AS ENUM (
    SELECT DISTINCT v FROM (
        SELECT python FROM w_python UNION ALL SELECT pypy_version FROM w_python
        UNION ALL SELECT native_python FROM w_platform
    ) t(v) WHERE v IS NOT NULL ORDER BY 1
);
CREATE TYPE e_implementation AS ENUM ('CPython', 'PyPy');
CREATE TYPE e_distro_name AS ENUM (
    SELECT DISTINCT distro_name FROM w_platform WHERE distro_name IS NOT NULL ORDER BY 1
);
CREATE TYPE e_distro_version AS ENUM (
    SELECT DISTINCT distro_version FROM w_platform WHERE distro_version IS NOT NULL ORDER BY 1
);
CREATE TYPE e_distro_id AS ENUM (SELECT DISTINCT distro_id FROM w_platform WHERE distro_id IS NOT NULL ORDER BY 1);
CREATE TYPE e_libc_lib AS ENUM (SELECT DISTINCT libc_lib FROM w_platform WHERE libc_lib IS NOT NULL ORDER BY 1);
CREATE TYPE e_libc_version AS ENUM (
    SELECT DISTINCT libc_version FROM w_platform WHERE libc_version IS NOT NULL ORDER BY 1
);
CREATE TYPE e_system_name AS ENUM (
    SELECT DISTINCT system_name FROM w_platform WHERE system_name IS NOT NULL ORDER BY 1
);
CREATE TYPE e_system_release AS ENUM (
    SELECT DISTINCT system_release FROM w_platform WHERE system_release IS NOT NULL ORDER BY 1
);
CREATE TYPE e_cpu AS ENUM (SELECT DISTINCT cpu FROM w_platform WHERE cpu IS NOT NULL ORDER BY 1);
CREATE TYPE e_openssl AS ENUM (SELECT DISTINCT openssl FROM w_platform WHERE openssl IS NOT NULL ORDER BY 1);
CREATE TYPE e_tool_version AS ENUM (SELECT DISTINCT version FROM w_tool ORDER BY 1);
CREATE TYPE e_tls_protocol AS ENUM ('TLSv1.2', 'TLSv1.3');
CREATE TYPE e_tls_cipher AS ENUM (
    'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384',
    'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'
);
CREATE TYPE e_project AS ENUM (SELECT DISTINCT project FROM files ORDER BY 1);
CREATE TYPE e_filename AS ENUM (SELECT DISTINCT filename FROM files ORDER BY 1);
CREATE TYPE e_url AS ENUM (SELECT DISTINCT url FROM files ORDER BY 1);
CREATE TYPE e_file_version AS ENUM (SELECT DISTINCT version FROM files ORDER BY 1);
CREATE TYPE e_file_type AS ENUM ('bdist_wheel', 'sdist');

CREATE TABLE b_installer AS
    SELECT w.era_id, w.is_ci, w.name, NULLIF(w.name, '')::e_installer AS installer, b.b
    FROM w_installer w JOIN buckets(4096) b ON b.mid >= w.lo AND b.mid < w.hi;
-- Versions use 256 buckets: there are many (month, installer) groups and few versions in each.
CREATE TABLE b_version AS
    SELECT w.era_id, w.name, w.version::e_installer_version AS version, b.b
    FROM w_version w JOIN buckets(256) b ON b.mid >= w.lo AND b.mid < w.hi;
CREATE TABLE b_python AS
    SELECT w.era_id, w.python::e_python AS python, w.minor, w.cp_idx, w.pypy_version::e_python AS pypy_version, b.b
    FROM w_python w JOIN buckets(4096) b ON b.mid >= w.lo AND b.mid < w.hi;
CREATE TABLE b_platform AS
    SELECT w.pool, w.system_name::e_system_name AS system_name, w.system_release::e_system_release AS system_release,
           w.distro_name::e_distro_name AS distro_name, w.distro_version::e_distro_version AS distro_version,
           w.distro_id::e_distro_id AS distro_id, w.libc_lib::e_libc_lib AS libc_lib,
           w.libc_version::e_libc_version AS libc_version, w.cpu::e_cpu AS cpu, w.openssl::e_openssl AS openssl,
           -- OpenSSL 1.0 cannot negotiate TLS 1.3.
           w.openssl LIKE 'OpenSSL 1.0%' AS tls12_only,
           w.wheel_platform, w.native_python::e_python AS native_python, b.b
    FROM w_platform w JOIN buckets(4096) b ON b.mid >= w.lo AND b.mid < w.hi;
CREATE TABLE b_country AS
    SELECT w.pool, w.country_code::e_country AS country_code, b.b
    FROM w_country w JOIN buckets(4096) b ON b.mid >= w.lo AND b.mid < w.hi;
CREATE TABLE b_tool AS
    SELECT w.tool, w.version::e_tool_version AS version, b.b
    FROM w_tool w JOIN buckets(4096) b ON b.mid >= w.lo AND b.mid < w.hi;

CREATE TABLE file_info AS
    SELECT file_key, pkg_id, rel_idx, file_idx, rel_day_idx,
           project::e_project AS project, filename::e_filename AS filename, url::e_url AS url,
           version::e_file_version AS version, file_type::e_file_type AS file_type
    FROM files;

-- About 8% of modern clients still negotiate TLS 1.2.
CREATE MACRO tls_protocol(tls12_only, u) AS
    (CASE WHEN tls12_only OR u < 0.08 THEN 'TLSv1.2' ELSE 'TLSv1.3' END)::e_tls_protocol;
CREATE MACRO tls_cipher(protocol, u) AS (CASE
    WHEN protocol = 'TLSv1.2' THEN
        CASE WHEN u < 0.8 THEN 'ECDHE-RSA-AES128-GCM-SHA256' ELSE 'ECDHE-RSA-AES256-GCM-SHA384' END
    WHEN u < 0.7 THEN 'TLS_AES_128_GCM_SHA256'
    WHEN u < 0.95 THEN 'TLS_AES_256_GCM_SHA384'
    ELSE 'TLS_CHACHA20_POLY1305_SHA256'
END)::e_tls_cipher;
"""

# One row per (month, CI or not, slot): a complete, self-consistent client, flattened into
# ENUM columns (a NULL *_name means that whole nested struct is NULL). The installer follows the
# slot's position, so each month's table holds the installer shares exactly; the other
# attributes are drawn by hash, each from its own bits.
ARCHETYPES_SQL = """
CREATE TABLE archetypes AS
WITH slot AS (
    SELECT e.era_id, c.is_ci,
           CASE WHEN c.is_ci THEN 'ci' ELSE 'user' END AS pool,
           (e.era_id * 2 + c.is_ci::INTEGER) * $slots + s.k AS arch_key,
           (s.k * 4096 // $slots)::INTEGER AS b_installer,
           hash($seed, 'archetype', e.era_id, c.is_ci, s.k, 1) AS h1,
           hash($seed, 'archetype', e.era_id, c.is_ci, s.k, 2) AS h2,
           hash($seed, 'archetype', e.era_id, c.is_ci, s.k, 3) AS h3
    FROM (SELECT DISTINCT era_id FROM w_installer) e
    CROSS JOIN (VALUES (FALSE), (TRUE)) c(is_ci)
    CROSS JOIN range($slots) s(k)
),
drawn AS (
    SELECT x.arch_key, x.is_ci, x.h2, x.h3,
           inst.installer, ver.version AS installer_version,
           info.python AS has_python, info.platform AS platform_mode, info.system_share, info.sdist_share,
           info.setuptools_share, info.rustc_share,
           py.python, py.minor, py.cp_idx, py.pypy_version,
           pl.system_name, pl.system_release, pl.distro_name, pl.distro_version, pl.distro_id, pl.libc_lib,
           pl.libc_version, pl.cpu, pl.openssl, pl.tls12_only, pl.wheel_platform,
           co.country_code, st.version AS setuptools_version, rs.version AS rustc_version
    FROM slot x
    JOIN b_installer inst ON inst.era_id = x.era_id AND inst.is_ci = x.is_ci AND inst.b = x.b_installer
    JOIN installer_info info ON info.name = inst.name
    JOIN b_version ver ON ver.era_id = x.era_id AND ver.name = inst.name AND ver.b = bucket(x.h1, 0) % 256
    JOIN b_python py ON py.era_id = x.era_id AND py.b = bucket(x.h1, 12)
    JOIN b_platform pl ON pl.pool = x.pool AND pl.b = bucket(x.h1, 24)
    JOIN b_country co ON co.pool = x.pool AND co.b = bucket(x.h1, 36)
    JOIN b_tool st ON st.tool = 'setuptools' AND st.b = bucket(x.h1, 48)
    JOIN b_tool rs ON rs.tool = 'rustc' AND rs.b = bucket(x.h2, 0)
),
flags AS (
    SELECT *,
           has_python AND minor IS NOT NULL AS well_formed,
           has_python AND minor IN ('3.10', '3.11') AND unit(h2, 16) < 0.03 AS pypy,
           platform_mode = 'full' AS full_platform,
           platform_mode = 'full' OR (platform_mode = 'system' AND unit(h2, 32) < system_share) AS shows_system
    FROM drawn
),
shaped AS (
    SELECT arch_key,
        country_code,
        installer AS installer_name,
        CASE WHEN installer IS NOT NULL THEN installer_version END AS installer_version,
        CASE WHEN has_python THEN python END AS python,
        CASE WHEN well_formed THEN (CASE WHEN pypy THEN 'PyPy' ELSE 'CPython' END)::e_implementation END
            AS implementation_name,
        CASE WHEN well_formed THEN CASE WHEN pypy THEN pypy_version ELSE python END END AS implementation_version,
        CASE WHEN full_platform THEN distro_name END AS distro_name,
        CASE WHEN full_platform THEN distro_version END AS distro_version,
        CASE WHEN full_platform THEN distro_id END AS distro_id,
        CASE WHEN full_platform THEN libc_lib END AS libc_lib,
        CASE WHEN full_platform THEN libc_version END AS libc_version,
        CASE WHEN shows_system THEN system_name END AS system_name,
        CASE WHEN full_platform THEN system_release END AS system_release,
        CASE WHEN full_platform THEN cpu END AS cpu,
        CASE WHEN full_platform THEN openssl END AS openssl_version,
        CASE WHEN unit(h2, 48) < setuptools_share THEN setuptools_version END AS setuptools_version,
        CASE WHEN unit(h3, 0) < rustc_share THEN rustc_version END AS rustc_version,
        CASE WHEN is_ci THEN TRUE END AS ci,
        tls_protocol(full_platform AND tls12_only, unit(h3, 16)) AS tls_protocol,
        unit(h3, 32) AS cipher_u,
        unit(h3, 48) < sdist_share AS wants_sdist,
        -- The wheel a compiled package serves this client; NULL means it builds the sdist.
        CASE
            WHEN NOT has_python THEN $default_wheel
            WHEN well_formed AND NOT pypy THEN cp_idx * $platforms + wheel_platform
        END AS wheel_idx
    FROM flags
)
SELECT * EXCLUDE (cipher_u), tls_cipher(tls_protocol, cipher_u) AS tls_cipher FROM shaped
"""

# bandersnatch identities: a mirror keeps its country and version across releases and days.
# Most report no Python or platform.
MIRROR_ARCHETYPES_SQL = """
CREATE TABLE mirror_archetypes AS
WITH slot AS (
    SELECT s.k AS mirror_key, hash($seed, 'mirror', s.k, 1) AS h1, hash($seed, 'mirror', s.k, 2) AS h2
    FROM range($identities) s(k)
),
drawn AS (
    SELECT slot.*, co.country_code, ver.version AS installer_version, pl.* EXCLUDE (b),
           unit(slot.h1, 36) < 0.15 AS reports
    FROM slot
    JOIN b_country co ON co.pool = 'mirror' AND co.b = bucket(slot.h1, 0)
    JOIN b_platform pl ON pl.pool = 'server' AND pl.b = bucket(slot.h1, 12)
    JOIN b_version ver ON ver.era_id = 0 AND ver.name = 'bandersnatch' AND ver.b = bucket(slot.h1, 24) % 256
),
shaped AS (
    SELECT mirror_key,
        country_code,
        'bandersnatch'::e_installer AS installer_name,
        installer_version,
        CASE WHEN reports THEN native_python END AS python,
        CASE WHEN reports THEN 'CPython'::e_implementation END AS implementation_name,
        CASE WHEN reports THEN native_python END AS implementation_version,
        CASE WHEN reports THEN distro_name END AS distro_name,
        CASE WHEN reports THEN distro_version END AS distro_version,
        CASE WHEN reports THEN distro_id END AS distro_id,
        CASE WHEN reports THEN libc_lib END AS libc_lib,
        CASE WHEN reports THEN libc_version END AS libc_version,
        CASE WHEN reports THEN system_name END AS system_name,
        CASE WHEN reports THEN system_release END AS system_release,
        CASE WHEN reports THEN cpu END AS cpu,
        CASE WHEN reports THEN openssl END AS openssl_version,
        NULL::e_tool_version AS setuptools_version,
        NULL::e_tool_version AS rustc_version,
        NULL::BOOLEAN AS ci,
        (CASE WHEN unit(h2, 0) < 0.15 THEN 'TLSv1.2' ELSE 'TLSv1.3' END)::e_tls_protocol AS tls_protocol,
        unit(h2, 16) AS cipher_u
    FROM drawn
)
SELECT * EXCLUDE (cipher_u), tls_cipher(tls_protocol, cipher_u) AS tls_cipher FROM shaped
"""

# One table of every client an event can carry: archetypes keep their keys, and bandersnatch
# identities get negative ones.
CLIENTS_SQL = """
CREATE TABLE clients AS
SELECT arch_key AS client_key, * EXCLUDE (arch_key) FROM archetypes
UNION ALL BY NAME
SELECT -1 - mirror_key AS client_key, * EXCLUDE (mirror_key) FROM mirror_archetypes
"""

# Organic (non-mirror) events per package and day: growth x weekday x log-normal noise x
# occasional CI-storm spikes x a small bump after each release, rounded stochastically.
DAILY_SQL = """
CREATE TABLE daily AS
WITH grid AS (
    SELECT p.pkg_id, p.salt, p.base, p.growth, p.weekend_factor, p.sigma, p.ci16, p.compiled, p.n_wheels,
           d.day_idx, d.day_us, d.era_id, d.weekend, d.missing,
           hash(p.salt, 'volume', d.day_idx, 1) AS h1,
           hash(p.salt, 'volume', d.day_idx, 2) AS h2
    FROM pkgs p CROSS JOIN days d
),
with_release AS (
    SELECT g.*, r.rel_idx AS latest, g.day_idx - r.day_idx AS days_since_release
    FROM grid g ASOF JOIN releases r ON r.pkg_id = g.pkg_id AND g.day_idx >= r.day_idx
),
expected AS (
    SELECT *,
        $scale * base * exp(growth * day_idx / 365.0)
        * CASE WHEN weekend THEN weekend_factor ELSE 1.0 END
        -- Sum of four uniforms, standardised: close enough to a normal for day-to-day noise.
        * exp(sigma * (unit(h1, 0) + unit(h1, 16) + unit(h1, 32) + unit(h1, 48) - 2.0) * sqrt(3.0))
        * CASE WHEN unit(h2, 0) < 0.03 THEN 1.5 + 1.5 * unit(h2, 16) ELSE 1.0 END
        * CASE WHEN days_since_release < 3 THEN 1.25 ELSE 1.0 END AS mean
    FROM with_release
)
SELECT pkg_id, salt, day_idx, day_us, era_id * 2 * $slots AS arch_base, ci16, compiled, n_wheels, latest,
       CASE WHEN missing THEN 0 ELSE floor(mean + unit(h2, 32))::BIGINT END AS n_organic
FROM expected
"""

# Each release is fetched once per file by each of its mirrors, on the release day or the next
# one or two days; days outside the range (or the missing day) are dropped by the join.
RELEASE_MIRRORS_SQL = """
CREATE TABLE release_mirrors AS
WITH counted AS (
    SELECT r.pkg_id, r.rel_idx, r.day_idx, r.salt,
           floor($scale * r.mirrors * (0.8 + 0.4 * unit(hash(r.salt, 'mirrors'), 0))
                 + unit(hash(r.salt, 'mirrors'), 16))::BIGINT AS n
    FROM releases r
),
fetches AS (
    SELECT c.pkg_id, c.rel_idx, m.m, c.salt,
           c.day_idx + CASE WHEN unit(hash(c.salt, 'lag', m.m), 0) < 0.5 THEN 0
                            WHEN unit(hash(c.salt, 'lag', m.m), 0) < 0.85 THEN 1 ELSE 2 END AS day_idx,
           (hash($seed, 'mirror-identity', m.m) % $identities::UBIGINT)::INTEGER AS mirror_key
    FROM counted c, range(c.n) m(m)
)
SELECT f.*, d.day_us
FROM fetches f JOIN days d ON d.day_idx = f.day_idx AND NOT d.missing
"""

# Mirrors doing a full sync fetch every file of every package released so far.
SYNC_MIRRORS_SQL = """
CREATE TABLE sync_mirrors AS
WITH counted AS (
    SELECT day_idx, day_us,
           floor($scale * $syncs * (0.5 + unit(hash($seed, 'sync', day_idx), 0))
                 + unit(hash($seed, 'sync', day_idx), 16))::BIGINT AS n
    FROM days WHERE NOT missing
)
SELECT c.day_idx, c.day_us, k.k,
       (hash($seed, 'sync-identity', c.day_idx, k.k) % $identities::UBIGINT)::INTEGER AS mirror_key
FROM counted c, range(c.n) k(k)
"""

# Events per day, known before any event is expanded: used to size files and for the summary.
DAY_COUNTS_SQL = """
WITH files_per_release AS (
    SELECT pkg_id, rel_idx, count(*) AS n FROM files GROUP BY ALL
),
files_by_day AS (
    SELECT d.day_idx, (SELECT count(*) FROM files f WHERE f.rel_day_idx <= d.day_idx) AS n FROM days d
),
counts AS (
    SELECT day_idx, n_organic AS n FROM daily
    UNION ALL
    SELECT rm.day_idx, fr.n FROM release_mirrors rm JOIN files_per_release fr USING (pkg_id, rel_idx)
    UNION ALL
    SELECT s.day_idx, fd.n FROM sync_mirrors s JOIN files_by_day fd USING (day_idx)
)
SELECT d.day_idx, COALESCE(sum(c.n), 0)::BIGINT AS events
FROM days d LEFT JOIN counts c USING (day_idx)
GROUP BY d.day_idx ORDER BY d.day_idx
"""

# Step 1 of a file: expand the chunk's days [$lo, $hi] into narrow rows (sort key, client key,
# file or release). The expansion runs on one thread (its source is a few hundred rows), so it
# is kept to integers and hashes; materialising it lets step 2 scan it on every thread.
EXPAND_SQL = """
CREATE OR REPLACE TEMP TABLE expanded AS
WITH organic AS (
    SELECT d.pkg_id, d.day_idx, d.day_us, d.arch_base, d.ci16, d.latest, d.compiled, d.n_wheels, e.i,
           hash(d.salt, d.day_idx, e.i) AS h,
           hash(d.salt, d.day_idx, e.i, 'time') AS ht
    FROM daily d, range(d.n_organic) e(i)
    WHERE d.day_idx BETWEEN $lo AND $hi
)
SELECT day_us + time_of_day(ht) AS ts_us, pkg_id, 0 AS stream, day_idx AS k1, i AS k2, 0 AS k3,
       -- CI runs (pip/uv with ci = TRUE) come from the second half of the month's archetypes.
       -- (Casts keep the hash arithmetic in UBIGINT; an INTEGER operand would widen it to HUGEINT.)
       arch_base + CASE WHEN (h >> 48)::INTEGER < ci16 THEN $slots ELSE 0 END
           + (h % $slots::UBIGINT)::INTEGER AS client_key,
       -- Most installs take the newest release; the rest an older one, recent ones likelier.
       CASE WHEN latest = 0 OR unit(h, 14) < 0.72 THEN latest
            ELSE latest - 1 - floor(unit(h, 30) * unit(h, 30) * latest)::INTEGER END AS rel_idx,
       compiled, n_wheels, NULL::BIGINT AS file_key
FROM organic
UNION ALL
SELECT rm.day_us + time_of_day(hash(rm.salt, rm.m, f.file_idx)), f.pkg_id, 1, rm.rel_idx, rm.m, f.file_idx,
       -1 - rm.mirror_key, NULL, NULL, NULL, f.file_key
FROM release_mirrors rm JOIN files f ON f.pkg_id = rm.pkg_id AND f.rel_idx = rm.rel_idx
WHERE rm.day_idx BETWEEN $lo AND $hi
UNION ALL
SELECT s.day_us + time_of_day(hash(s.day_idx, s.k, f.file_key, 'sync-time')), f.pkg_id, 2, s.k, f.rel_idx,
       f.file_idx, -1 - s.mirror_key, NULL, NULL, NULL, f.file_key
FROM sync_mirrors s JOIN files f ON f.rel_day_idx <= s.day_idx
WHERE s.day_idx BETWEEN $lo AND $hi
"""

# Step 2: attach the client and file columns (ENUM codes) and sort by the unique key into a
# table; a scan of that table keeps the sorted order (DuckDB preserves insertion order).
SORT_CHUNK_SQL = """
CREATE OR REPLACE TEMP TABLE chunk AS
SELECT e.ts_us, c.* EXCLUDE (client_key, wants_sdist, wheel_idx),
       f.url, f.project, f.filename, f.version, f.file_type
FROM expanded e
JOIN clients c ON c.client_key = e.client_key
JOIN file_info f ON f.file_key = COALESCE(e.file_key, (e.pkg_id * 64 + e.rel_idx) * 64 + CASE
        -- The sdist when the client wants one or a compiled package has no wheel for it.
        WHEN c.wants_sdist OR (e.compiled AND c.wheel_idx IS NULL) THEN e.n_wheels
        WHEN e.compiled THEN c.wheel_idx
        ELSE 0 END)
ORDER BY e.ts_us, e.pkg_id, e.stream, e.k1, e.k2, e.k3
"""

# Step 3: nest the columns as BigQuery exports them. `chunk_nested()` reads one table and only
# projects, so it keeps the sorted order; `render_ts` is defined per output format. (Created
# after each chunk table, since a macro binds the table it reads when it is created.)
NESTED_SQL = """
CREATE OR REPLACE MACRO chunk_nested() AS TABLE
SELECT render_ts(ts_us) AS "timestamp", country_code, url, project,
    {'filename': filename, 'project': project, 'version': version, 'type': file_type} AS file,
    {
        'installer': CASE WHEN installer_name IS NOT NULL THEN
            {'name': installer_name, 'version': installer_version} END,
        'python': python,
        'implementation': CASE WHEN implementation_name IS NOT NULL THEN
            {'name': implementation_name, 'version': implementation_version} END,
        'distro': CASE WHEN distro_name IS NOT NULL THEN {
            'name': distro_name, 'version': distro_version, 'id': distro_id,
            'libc': CASE WHEN libc_lib IS NOT NULL THEN {'lib': libc_lib, 'version': libc_version} END
        } END,
        'system': CASE WHEN system_name IS NOT NULL THEN {'name': system_name, 'release': system_release} END,
        'cpu': cpu,
        'openssl_version': openssl_version,
        'setuptools_version': setuptools_version,
        'rustc_version': rustc_version,
        'ci': ci
    } AS details,
    tls_protocol, tls_cipher
FROM chunk
"""
RENDER_TS_SQL = {
    "parquet": "CREATE MACRO render_ts(us) AS make_timestamptz(us)",
    # BigQuery's NDJSON export writes timestamps as text: 2026-10-31 03:57:04.123456 UTC.
    "ndjson": "CREATE MACRO render_ts(us) AS strftime(make_timestamp(us), '%Y-%m-%d %H:%M:%S.%f UTC')",
}
# Snappy is what BigQuery's Parquet export uses by default, and about a third faster than zstd here.
COPY_SQL = {
    "parquet": "COPY (FROM chunk_nested()) TO $path (FORMAT parquet, COMPRESSION snappy)",
    "ndjson": "COPY (FROM chunk_nested()) TO $path (FORMAT json)",
}


# ---------------------------------------------------------------------------------------------
# Driver


@dataclass(frozen=True)
class _Chunk:
    first: int
    last: int
    events: int


_INCOMPLETE = {"synthetic": True, "complete": False, "note": "Synthetic events being written; not finished."}


def is_complete(out_dir: Path) -> bool:
    """The folder holds a whole sample: its marker, written last, says so (a marker that predates the
    `complete` key was always written last)."""
    try:
        marker = json.loads((Path(out_dir) / SYNTHETIC_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("complete", True) is True


def refuse_foreign_folder(out_dir: Path) -> None:
    """Old events are replaced only in a folder of synthetic events (its marker) or an empty one.

    Any other folder may hold a user's real exports, which must never be deleted.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: --out is a file, not a folder for synthetic events")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / SYNTHETIC_MARKER).is_file():
        raise ConfigError(
            f"{out_dir}: --out is not empty and holds no synthetic events written before (no {SYNTHETIC_MARKER});"
            " its files may be real events, so nothing is replaced: pass a new or empty folder"
        )


def generate(
    out_dir: Path,
    *,
    seed: int = 42,
    end: date = DEMO_END,
    days: int = DEMO_DAYS,
    packages: Sequence[str] = DEMO_PACKAGES,
    scale: float = 1.0,
    fmt: str = "parquet",
    progress: Callable[[str], None] | None = None,
) -> SampleSummary:
    """Write deterministic synthetic file_downloads events for `packages` over `days` days ending `end`."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    if not scale >= 0:
        raise ValueError(f"scale must be zero or more, not {scale}")
    names = list(dict.fromkeys(normalize(p) for p in packages))
    if not names:
        raise ValueError("no packages to generate")
    say = progress or (lambda _message: None)
    rng = _Range(end - dt.timedelta(days=days - 1), days)
    profiles = tuple(package_profile(n, seed=seed, start=rng.start, days=days) for n in names)

    out_dir = Path(out_dir)
    refuse_foreign_folder(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The marker says "incomplete" until the last file is written: an interrupted run leaves a folder
    # that is still known as synthetic (so the next run may replace it) but is never reused as a sample.
    (out_dir / SYNTHETIC_MARKER).write_text(json.dumps(_INCOMPLETE, indent=2) + "\n", encoding="utf-8")
    for stale in [*out_dir.glob("*.parquet"), *out_dir.glob("*.jsonl")]:
        stale.unlink()  # the previous sample's events: the folder holds its marker

    with tempfile.TemporaryDirectory(prefix="sample-spill-") as spill:
        con = _connect(Path(spill))
        try:
            _load(con, profiles, seed=seed, scale=scale, rng=rng, fmt=fmt)
            chunks = _plan_chunks(con, rng)
            per_file = _write_chunks(con, chunks, rng, out_dir, fmt, say)
        finally:
            con.close()

    summary = SampleSummary(
        out_dir=out_dir,
        files=[out_dir / name for name in per_file],
        events=sum(per_file.values()),
        start=rng.start,
        end=rng.end,
        packages=profiles,
        missing_day=MISSING_DAY if rng.start <= MISSING_DAY <= rng.end else None,
        per_file=per_file,
    )
    _write_marker(summary, seed=seed, scale=scale, fmt=fmt)
    say(f"wrote {summary.events:,} events in {len(summary.files)} files")
    return summary


def _connect(spill: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # A large chunk's sort may spill; keep that out of the working directory.
    con.execute("SET temp_directory = $dir", {"dir": str(spill)})
    return con


def _load(
    con: duckdb.DuckDBPyConnection,
    profiles: Sequence[PackageProfile],
    *,
    seed: int,
    scale: float,
    rng: _Range,
    fmt: str,
) -> None:
    """Load the parameter tables and build every per-run table the chunks draw from."""
    for name, table in _parameter_tables(profiles, seed, rng).items():
        con.from_arrow(table).create(name)
    con.execute(SETUP_SQL)
    params = {"seed": seed, "slots": SLOTS, "default_wheel": DEFAULT_WHEEL_IDX, "platforms": len(WHEEL_PLATFORMS)}
    con.execute(ARCHETYPES_SQL, params)
    con.execute(MIRROR_ARCHETYPES_SQL, {"seed": seed, "identities": MIRROR_IDENTITIES})
    con.execute(CLIENTS_SQL)
    con.execute(DAILY_SQL, {"scale": scale, "slots": SLOTS})
    con.execute(RELEASE_MIRRORS_SQL, {"seed": seed, "scale": scale, "identities": MIRROR_IDENTITIES})
    sync = {"seed": seed, "scale": scale, "syncs": FULL_SYNCS_PER_DAY, "identities": MIRROR_IDENTITIES}
    con.execute(SYNC_MIRRORS_SQL, sync)
    con.execute(RENDER_TS_SQL[fmt])


def _plan_chunks(con: duckdb.DuckDBPyConnection, rng: _Range) -> list[_Chunk]:
    """Consecutive days of one calendar month per file, split further past MAX_EVENTS_PER_FILE."""
    chunks: list[_Chunk] = []
    for day_idx, events in con.execute(DAY_COUNTS_SQL).fetchall():
        last = chunks[-1] if chunks else None
        if (
            last is not None
            and rng.era(rng.day(last.last)) == rng.era(rng.day(day_idx))
            and last.events + events <= MAX_EVENTS_PER_FILE
        ):
            chunks[-1] = _Chunk(last.first, day_idx, last.events + events)
        else:
            chunks.append(_Chunk(day_idx, day_idx, events))
    return chunks


def _write_chunks(
    con: duckdb.DuckDBPyConnection,
    chunks: Sequence[_Chunk],
    rng: _Range,
    out_dir: Path,
    fmt: str,
    say: Callable[[str], None],
) -> dict[str, int]:
    """Expand, sort and write each chunk to its own file; returns events per file name."""
    per_file: dict[str, int] = {}
    for chunk in chunks:
        path = out_dir / f"file_downloads-{rng.day(chunk.first)}_{rng.day(chunk.last)}{FORMATS[fmt]}"
        con.execute(EXPAND_SQL, {"lo": chunk.first, "hi": chunk.last, "slots": SLOTS})
        con.execute(SORT_CHUNK_SQL)
        con.execute(NESTED_SQL)
        con.execute(COPY_SQL[fmt], {"path": str(path)})
        per_file[path.name] = chunk.events
        say(f"{path.name}: {chunk.events:,} events")
    return per_file


def _write_marker(summary: SampleSummary, *, seed: int, scale: float, fmt: str) -> None:
    marker = {
        "synthetic": True,
        "complete": True,
        "generator": "generator.sample",
        "seed": seed,
        "scale": scale,
        "format": fmt,
        "start": summary.start.isoformat(),
        "end": summary.end.isoformat(),
        "missing_day": summary.missing_day.isoformat() if summary.missing_day else None,
        "events": summary.events,
        "files": summary.per_file,
        "packages": [
            {
                "project": p.project,
                "compiled": p.compiled,
                "releases": [{"version": r.version, "day": r.day.isoformat()} for r in p.releases],
            }
            for p in summary.packages
        ],
        "note": "Synthetic events generated for a demonstration; they are not PyPI's download logs.",
    }
    (summary.out_dir / SYNTHETIC_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
