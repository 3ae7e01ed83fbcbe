"""The output directory (contract): a build replaces only a directory it built itself, or an empty one.

A build swaps its staging directory with `--out` and deletes the old one (generator.sitewriter), so
whatever `--out` names is gone afterwards. `check` runs before any work starts and refuses every
directory the build must not replace: a file, the filesystem root, the home directory, a directory
that holds (or is) the config's folder, the events, the store or the `[site].static` folder, and
any non-empty directory without the build's marker (`build-manifest.json` with its format line).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from generator.config import Config
from generator.errors import ConfigError
from generator.incremental import FORMAT, MANIFEST

ASK = "pass --out a new or empty directory, or one this tool built before"


@dataclass(frozen=True)
class Protected:
    """A path the output directory must neither be nor hold, and what it is, in the user's words."""

    path: Path
    what: str
    fix: str
    """What the user can change instead."""
    may_hold_site: bool = False
    """True for the config's folder: the site may live inside it (site/ beside stats.toml), not around it."""


def is_built_site(directory: Path) -> bool:
    """True when `directory` holds the marker a build writes (build-manifest.json of this format)."""
    marker = directory / MANIFEST
    try:
        doc = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("format") == FORMAT


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def given(text: str) -> Path:
    """The --out argument as a path; an empty one (an unset shell variable) would mean the current folder."""
    if not text.strip():
        raise ConfigError(f"--out is empty (an unset shell variable?); {ASK}, such as --out site")
    return Path(text)


def check(out_dir: Path, protected: list[Protected]) -> Path:
    """The resolved output directory, or a ConfigError naming it and saying what to do.

    Nothing is created or changed here.
    """
    out = out_dir.expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: --out is a file, not a directory; {ASK}")
    if out == Path(out.anchor):
        raise ConfigError(f"{out}: --out is the filesystem root; {ASK}")
    if out == Path.home().resolve():
        raise ConfigError(f"{out}: --out is your home directory; {ASK}")
    for item in protected:
        path = item.path.expanduser().resolve()
        around = _inside(path, out)
        within = not item.may_hold_site and _inside(out, path)
        if around or within:
            where = "is" if path == out else ("holds" if around else "is inside")
            raise ConfigError(
                f"{out}: --out {where} {item.what} ({path}), and a build replaces the whole output directory;"
                f" {item.fix}"
            )
    if out.is_dir() and any(out.iterdir()) and not is_built_site(out):
        raise ConfigError(
            f"{out}: --out is not empty and is not a site this tool built (no {MANIFEST}); a build replaces"
            f" the whole directory, so its files would be deleted; {ASK}"
        )
    return out


def protected_paths(cfg: Config) -> list[Protected]:
    """What the output directory must never be or hold (nor, but for the config's folder, sit inside)."""
    out = [
        Protected(cfg.path.parent, "the config file's folder", "choose a folder inside it, such as --out site", True),
        Protected(cfg.store.path, "the store", "set [store].path outside the output directory"),
    ]
    if cfg.source.kind == "local" and cfg.source.path is not None:
        out.append(Protected(cfg.source.path, "the events folder", "choose --out outside [source].path"))
    if cfg.site.static is not None:
        out.append(Protected(cfg.site.static, "the [site].static folder", "choose --out outside it"))
    return out


def check_out_dir(cfg: Config, out_dir: Path) -> Path:
    """The output directory, resolved, if a build of `cfg` may replace it; else a ConfigError."""
    return check(out_dir, protected_paths(cfg))
