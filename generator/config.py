"""Typed configuration loaded from TOML. Every problem in a file is reported at once."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from generator import dimensions
from generator.errors import ConfigError

DEFAULT_CONFIG = "stats.toml"

# PEP 508 / core metadata: ASCII letters and digits, with . _ - only between them.
_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
SOURCE_KINDS = ("local", "bigquery", "clickpy")
# Columns the aggregate query can drop to cut BigQuery cost (see `plan`).
BREAKDOWNS = dimensions.NAMES
PATH_KEYS = ("path", "static")
"""Keys whose value is a path, relative to the config file's folder."""
MONTH_DAYS = 30
"""The headline's window: the store must be able to hold it."""
DATASET_LOCATION = "US"
"""Where bigquery-public-data.pypi lives; BigQuery's locations are case-insensitive."""
TIB = 1024**4
GIB = 1024**3


def normalize_name(name: str) -> str:
    """PEP 503 normalization: runs of -, _ and . become one -, lower-cased."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_valid_name(name: str) -> bool:
    """True if `name` is a valid distribution name (rejects paths, quotes, spaces, SQL)."""
    return bool(_VALID_NAME.fullmatch(name)) and len(name) <= 200


@dataclass(frozen=True)
class SiteConfig:
    title: str = "PyPI download stats"
    """Shown in every page's header and <title>."""
    base_url: str = ""
    """Absolute URL the site is published at: for sitemap, feed and Open Graph tags, and the 404 page's links."""
    description: str = "How many people really install these packages, and why every site gives a different number."
    """Meta description of the index page."""
    change_threshold: float = 0.2
    """Share by which the honest 30-day number must move between builds to enter the Atom feed."""
    static: Path | None = None
    """A folder copied into every build as it is (CNAME, verification files, extra pages); none by default."""


@dataclass(frozen=True)
class SourceConfig:
    kind: str = "local"
    """Where raw events come from: "local" (files), "bigquery" or "clickpy"."""
    path: Path | None = None
    """local: folder of Parquet and NDJSON (.json, .jsonl, .ndjson, optionally .gz) files, read recursively."""
    billing_project: str = ""
    """bigquery: Google Cloud project billed for queries (else $GOOGLE_CLOUD_PROJECT)."""
    location: str = "US"
    """bigquery: job location; must be US, where the public PyPI dataset lives (checked on load)."""
    api_endpoint: str = ""
    """bigquery/clickpy: override the service URL (tests and proxies only; clickpy: else $PYPI_STATS_CLICKPY_URL)."""
    history_days: int = 181
    """How many UTC days, ending on the as-of date, the store should hold."""
    refetch_days: int = 2
    """Re-fetch this many latest days on every run, because late log rows arrive."""
    breakdowns: tuple[str, ...] = BREAKDOWNS
    """Breakdown columns to query; dropping one cuts the BigQuery ceiling by that column's bytes."""
    clickpy_all_time: bool = True
    """Fetch each package's downloads before the store's first day from ClickPy (free, no key; it sends the
    package names), whatever `kind` is, so the page adds up pepy/ClickPy's all-time figure; kept in the
    store, fetched once; never for synthetic data. false turns it off."""
    clickpy_url: str = ""
    """The ClickPy service clickpy_all_time asks (api_endpoint when kind is clickpy), else
    $PYPI_STATS_CLICKPY_URL, else ClickPy's public one."""
    release_dates: bool = True
    """Fetch each release's upload date from PyPI's JSON API, once per release (not for synthetic data)."""
    pypi_url: str = ""
    """Base URL of PyPI's JSON API (default $PYPI_STATS_PYPI_URL, else https://pypi.org/pypi; tests, proxies)."""


@dataclass(frozen=True)
class BudgetConfig:
    max_bytes_per_query: int = 700 * GIB
    """Refuse any single job whose guaranteed ceiling is above this many bytes (longer jobs are split)."""
    max_bytes_per_run: int = 1 * TIB
    """Start a job only if bytes billed by this run so far + its guaranteed ceiling fit (else stop cleanly)."""
    max_bytes_per_month: int = 1 * TIB
    """The same rule over the calendar month (UTC), counted from the ledger; default the free tier."""
    price_per_tib: float = 6.25
    """On-demand USD price per TiB billed, used for every dollar figure."""


@dataclass(frozen=True)
class StoreConfig:
    path: Path = Path("data/store.duckdb")
    """DuckDB file holding daily aggregates, day coverage and the cost ledger."""


LEADERBOARD_MAX_TOP = 20_000
"""The largest leaderboard: its queries stay well inside ClickPy's public `demo` user's limits."""


@dataclass(frozen=True)
class LeaderboardConfig:
    top: int = 0
    """How many projects of all PyPI to rank by package-manager installs (the top/ pages); 0: no leaderboard."""
    clickpy_url: str = ""
    """The ClickPy service the leaderboard asks (free, no key): [source].api_endpoint when kind is clickpy,
    else $PYPI_STATS_CLICKPY_URL, else ClickPy's public one. Never asked for synthetic data."""

    @property
    def enabled(self) -> bool:
        return self.top > 0


@dataclass(frozen=True)
class Config:
    path: Path
    """The config file this was loaded from."""
    packages: tuple[str, ...]
    """PEP 503-normalized package names, in config order, without duplicates."""
    site: SiteConfig = field(default_factory=SiteConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    leaderboard: LeaderboardConfig = field(default_factory=LeaderboardConfig)
    as_of: str = ""
    """Optional fixed report date (YYYY-MM-DD); --as-of overrides it; default is yesterday UTC."""

    @property
    def billing_project(self) -> str:
        return self.source.billing_project or os.environ.get("GOOGLE_CLOUD_PROJECT", "")


_SECTIONS: dict[str, type] = {
    "site": SiteConfig,
    "source": SourceConfig,
    "budget": BudgetConfig,
    "store": StoreConfig,
    "leaderboard": LeaderboardConfig,
}


def _allowed(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def _check_type(value: Any, default: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, tuple):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, str)


def _section(name: str, raw: Any, base_dir: Path, errors: list[str]) -> Any:
    cls = _SECTIONS[name]
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.append(f"[{name}] must be a table")
        return cls()
    defaults = cls()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _allowed(cls):
            errors.append(f"unknown key [{name}].{key} (allowed: {', '.join(_allowed(cls))})")
            continue
        default = getattr(defaults, key)
        if key in PATH_KEYS:
            if not isinstance(value, str) or not value:
                errors.append(f"[{name}].{key} must be a non-empty string")
                continue
            p = Path(value).expanduser()
            values[key] = p if p.is_absolute() else (base_dir / p)
            continue
        if not _check_type(value, default):
            kind = type(default).__name__ if not isinstance(default, tuple) else "list of strings"
            errors.append(f"[{name}].{key} must be a {kind}, got {value!r}")
            continue
        values[key] = tuple(value) if isinstance(default, tuple) else value
    return cls(**values)


def _validate_packages(raw: Any, errors: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, dict):
        errors.append("[packages] must be a table with names = [...]")
        return ()
    for key in raw:
        if key != "names":
            errors.append(f"unknown key [packages].{key} (allowed: names)")
    names = raw.get("names")
    if not isinstance(names, list) or not names:
        errors.append("[packages].names must be a non-empty list of package names")
        return ()
    out: list[str] = []
    for name in names:
        if not isinstance(name, str) or not is_valid_name(name):
            errors.append(
                f"[packages].names has invalid package name {name!r} (letters, digits, and . _ - between them only)"
            )
            continue
        norm = normalize_name(name)
        if norm not in out:
            out.append(norm)
    return tuple(out)


def _validate_values(cfg: Config, errors: list[str]) -> None:
    src = cfg.source
    if src.kind not in SOURCE_KINDS:
        errors.append(f"[source].kind must be one of {', '.join(SOURCE_KINDS)}, got {src.kind!r}")
    if src.kind == "bigquery" and src.location.upper() != DATASET_LOCATION:
        # A query job runs where the tables it reads live: from anywhere else BigQuery answers "not found".
        errors.append(
            f'[source].location must be "{DATASET_LOCATION}": bigquery-public-data.pypi lives in the'
            f" {DATASET_LOCATION} multi-region and a job runs where its data is, got {src.location!r}"
        )
    if src.kind == "local" and src.path is None:
        errors.append('[source].path is required when kind = "local" (a directory of event files)')
    if not MONTH_DAYS <= src.history_days <= 5000:
        errors.append(
            f"[source].history_days must be between {MONTH_DAYS} (the headline's window) and 5000,"
            f" got {src.history_days}"
        )
    if not 0 <= src.refetch_days <= 30:
        errors.append(f"[source].refetch_days must be between 0 and 30, got {src.refetch_days}")
    for b in src.breakdowns:
        if b not in BREAKDOWNS:
            errors.append(f"[source].breakdowns has unknown breakdown {b!r} (allowed: {', '.join(BREAKDOWNS)})")
    if src.pypi_url and not _is_absolute_url(src.pypi_url):
        errors.append(f"[source].pypi_url must be an absolute http(s) URL, got {src.pypi_url!r}")
    if cfg.site.base_url and not _is_absolute_url(cfg.site.base_url):
        errors.append(
            f"[site].base_url must be an absolute http(s) URL such as https://example.github.io/stats/,"
            f" got {cfg.site.base_url!r}"
        )
    if cfg.site.static is not None and not cfg.site.static.is_dir():
        errors.append(f"[site].static: {cfg.site.static} is not a directory")
    lb = cfg.leaderboard
    if not 0 <= lb.top <= LEADERBOARD_MAX_TOP:
        errors.append(f"[leaderboard].top must be between 0 (no leaderboard) and {LEADERBOARD_MAX_TOP:,}, got {lb.top}")
    if lb.clickpy_url and not _is_absolute_url(lb.clickpy_url):
        errors.append(f"[leaderboard].clickpy_url must be an absolute http(s) URL, got {lb.clickpy_url!r}")
    budget = cfg.budget
    if budget.max_bytes_per_query <= 0 or budget.max_bytes_per_run <= 0:
        errors.append("[budget] byte limits must be positive")
    if budget.price_per_tib < 0:
        errors.append("[budget].price_per_tib must not be negative")
    if cfg.as_of:
        from generator.dates import parse_day

        try:
            parse_day(cfg.as_of)
        except ValueError as exc:
            errors.append(f"as_of: {exc}")


def _is_absolute_url(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


TOP_LEVEL = ("site", "packages", "source", "budget", "store", "leaderboard", "as_of")


def parse(raw: dict[str, Any], path: Path, base_dir: Path | None = None) -> Config:
    """Build a Config from parsed TOML; raise one ConfigError listing every problem.

    Relative paths are relative to the config file's folder, or to `base_dir` when given.
    """
    errors: list[str] = []
    base_dir = base_dir or path.parent
    for key in raw:
        if key not in TOP_LEVEL:
            errors.append(f"unknown key {key!r} (allowed: {', '.join(TOP_LEVEL)})")
    packages = _validate_packages(raw.get("packages"), errors)
    sections = {name: _section(name, raw.get(name), base_dir, errors) for name in _SECTIONS}
    store = sections["store"]
    if not store.path.is_absolute():
        store = StoreConfig(path=base_dir / store.path)
    as_of = raw.get("as_of", "")
    if not isinstance(as_of, str):
        errors.append("as_of must be a string YYYY-MM-DD")
        as_of = ""
    cfg = Config(
        path=path,
        packages=packages,
        site=sections["site"],
        source=sections["source"],
        budget=sections["budget"],
        store=store,
        leaderboard=sections["leaderboard"],
        as_of=as_of,
    )
    _validate_values(cfg, errors)
    if errors:
        raise ConfigError(f"{path}: " + "; ".join(errors))
    return cfg


def load(path: str | os.PathLike[str] = DEFAULT_CONFIG, base_dir: Path | None = None) -> Config:
    """Read and validate a TOML config file (relative paths as in `parse`)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found (pass --config, or create {DEFAULT_CONFIG})")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return parse(raw, p.resolve(), base_dir)
