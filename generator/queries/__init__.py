"""Canonical BigQuery Standard SQL, one query per file, loaded by name."""

from __future__ import annotations

from importlib import resources


def load(name: str) -> str:
    """Return the text of `<name>.sql` from this package."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def names() -> list[str]:
    """Every query shipped, by file stem."""
    return sorted(p.name[:-4] for p in resources.files(__package__).iterdir() if p.name.endswith(".sql"))
