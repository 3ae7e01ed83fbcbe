"""`init`: start a maintainer's own stats-site repository from the skeleton in generator/skeleton.

It writes `stats.toml`, a daily `.github/workflows/publish.yml` that installs this very version
from PyPI, `.gitignore`, a `README.md` saying what to set, and `netlify.toml` when asked. The
files are Jinja templates with `@{ }@` / `@% %@` delimiters, so the workflow's own `${{ }}` and
the shell's `$VAR` pass through untouched. It never overwrites a file unless told to.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import jinja2

from generator import __version__, config, cost, resources
from generator.errors import ConfigError, GeneratorError

SOURCES = ("bigquery", "clickpy", "local")
LOCAL_PATH = "events"  # not under data/, which the scaffold's .gitignore leaves out
STORE_PATH = "data/store.duckdb"
NETLIFY_CLI = "27.10.2"
# The actions the scaffolded workflow uses, pinned to the same commits as this repository's own
# workflows (tests/test_init.py checks that they match).
ACTION_PINS = {
    "actions/checkout": "3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
    "actions/setup-python": "5fda3b95a4ea91299a34e894583c3862153e4b97 # v7.0.0",
    "actions/configure-pages": "983d7736d9b0ae728b81ab479565c72886d7745b # v5.0.0",
    "google-github-actions/auth": "7c6bc770dae815cd3e89ee6cdf493a5fab2cc093 # v3.0.0",
    "actions/cache/restore": "27d5ce7f107fe9357f9df03efb73ab90386fccae # v5.0.5",
    "actions/cache/save": "27d5ce7f107fe9357f9df03efb73ab90386fccae # v5.0.5",
    "actions/upload-pages-artifact": "fc324d3547104276b827a68afc52ff2a11cc49c9 # v5.0.0",
    "actions/deploy-pages": "cd2ce8fcbc39b97be8ca5fce6e763baed58fa128 # v5.0.0",
}
# Skeleton file → where it goes in the new repository.
FILES = {
    "stats.toml": "stats.toml",
    "publish.yml": ".github/workflows/publish.yml",
    "gitignore": ".gitignore",
    "README.md": "README.md",
}
NETLIFY_FILE = {"netlify.toml": "netlify.toml"}


@dataclass(frozen=True)
class Options:
    packages: tuple[str, ...]
    """PEP 503-normalized names, in the order given."""
    source: str = "bigquery"
    netlify: bool = False
    leaderboard: int = 0
    """[leaderboard].top: rank this many projects of all PyPI (0: no [leaderboard] section)."""


def parse_packages(text: str) -> tuple[str, ...]:
    """`requests,Rich` → ("requests", "rich"): validated, normalized, without duplicates."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    bad = [name for name in names if not config.is_valid_name(name)]
    if bad:
        raise ConfigError(
            f"--packages: not a package name: {', '.join(map(repr, bad))} (letters, digits, and . _ - between them)"
        )
    if not names:
        raise ConfigError("--packages: give at least one PyPI package name, e.g. --packages requests,rich")
    return tuple(dict.fromkeys(config.normalize_name(name) for name in names))


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.folder("skeleton"))),
        variable_start_string="@{",
        variable_end_string="}@",
        block_start_string="@%",
        block_end_string="%@",
        comment_start_string="@#",
        comment_end_string="#@",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # TOML, YAML and Markdown, not HTML
    )


def render(options: Options) -> dict[str, str]:
    """Relative path → text of every file `init` writes for these options."""
    if not 0 <= options.leaderboard <= config.LEADERBOARD_MAX_TOP:
        raise ConfigError(
            f"--leaderboard must be between 1 and {config.LEADERBOARD_MAX_TOP:,}, got {options.leaderboard}"
        )
    if options.source not in SOURCES:
        raise ConfigError(f"--source must be one of {', '.join(SOURCES)}, got {options.source!r}")
    defaults = config.Config(path=Path(config.DEFAULT_CONFIG), packages=options.packages)
    site_placeholder = "https://YOUR-SITE.netlify.app/" if options.netlify else "https://OWNER.github.io/REPO/"
    context = {
        "version": __version__,
        "names": list(options.packages),
        "names_toml": ", ".join(json.dumps(name) for name in options.packages),
        "source": options.source,
        "netlify": options.netlify,
        "local_path": LOCAL_PATH,
        "store": STORE_PATH,
        "defaults": defaults,
        "breakdowns": ", ".join(json.dumps(b) for b in config.BREAKDOWNS),
        "per_query": cost.format_bytes(defaults.budget.max_bytes_per_query),
        "per_run": cost.format_bytes(defaults.budget.max_bytes_per_run),
        "per_month": cost.format_bytes(defaults.budget.max_bytes_per_month),
        "netlify_cli": NETLIFY_CLI,
        "site_placeholder": site_placeholder,
        "pin": lambda action: f"{action}@{ACTION_PINS[action]}",
        "leaderboard": options.leaderboard,
    }
    env = _environment()
    files = {**FILES, **(NETLIFY_FILE if options.netlify else {})}
    out = {target: env.get_template(name).render(context) for name, target in files.items()}
    _check_config(out["stats.toml"])
    return out


def _check_config(text: str) -> None:
    """The written stats.toml must load as it is: a template mistake fails here, not in the user's CI."""
    config.parse(tomllib.loads(text), Path(config.DEFAULT_CONFIG).resolve())


def write(target: Path, files: dict[str, str], *, force: bool = False) -> list[Path]:
    """Write `files` under `target`; refuse, writing nothing, if any exists and not `force`."""
    if target.exists() and not target.is_dir():
        raise GeneratorError(f"{target}: exists and is not a folder")
    existing = [rel for rel in files if (target / rel).exists()]
    if existing and not force:
        raise GeneratorError(
            f"{target}: {', '.join(existing)} already exist(s); nothing was written (pass --force to overwrite them)"
        )
    written = []
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
