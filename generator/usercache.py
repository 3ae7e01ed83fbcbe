"""The user's cache folder: what one build keeps to spare the next one work, never needed for a right result.

`$PYPI_STATS_CACHE_DIR`, else `$XDG_CACHE_HOME/pypi-stats-site`, else `~/.cache/pypi-stats-site`. It holds
files the tool writes and reads back, each named by a hash of everything its content depends on, so a
change of code or library version reads another file:
- `chart-shapes-<key>.json`: the compiled chart shapes (generator.shapecache);
- `sql-<key>.json`: a SQL file translated for DuckDB (generator.sql);
- `templates-<key>/`: the compiled templates (Jinja's own bytecode cache, checked against each template's text).

A missing, unreadable or malformed file is made again; a cache that cannot be written is skipped. Nothing
else in the folder is touched.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CACHE_ENV = "PYPI_STATS_CACHE_DIR"


def folder() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pypi-stats-site"


def digest(*parts: str | bytes) -> str:
    """A file name's key: a hash of what the file's content depends on."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big") + data)  # lengths: ("ab", "c") and ("a", "bc") differ
    return h.hexdigest()[:32]


def read(name: str) -> str | None:
    """The kept file's text, or None."""
    try:
        return (folder() / name).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None


def write(name: str, text: str) -> None:
    """Keep a file (written to a temporary file, then renamed: a reader never sees half a file)."""
    target = folder() / name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    except OSError:
        pass  # a cache: the next build makes it again
