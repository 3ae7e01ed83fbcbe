"""Where the files the tool reads at run time are: templates, content pages, the demo config, `init`'s skeleton.

The only module that knows. The repository keeps `templates/`, `content/` and `demo/` at its top
level; the build maps them into the package as `generator/templates`, `generator/content` and
`generator/demo` (pyproject.toml, `[tool.setuptools.package-dir]`), so a wheel or sdist install
finds them with `importlib.resources`. An editable install, or `python -m generator` run in a
checkout (the working tree shadows any installed copy), has no such folders inside `generator/`:
there they are the checkout's top-level folders. `generator/skeleton` (the files `init` writes)
is inside the package everywhere. Nothing here is ever written to.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from generator.errors import GeneratorError

FOLDERS = ("templates", "content", "demo", "skeleton")


@functools.cache
def folder(name: str) -> Path:
    """The read-only folder `name` (one of FOLDERS): inside the installed package, else the checkout's."""
    if name not in FOLDERS:
        raise ValueError(f"unknown resource folder {name!r}")
    # files() of a regular package on disk is a pathlib.Path (no zip installs: pip never makes one).
    package = Path(str(resources.files("generator")))
    packaged = package / name
    if packaged.is_dir():
        return packaged
    checkout = package.parent / name
    if checkout.is_dir():
        return checkout
    raise GeneratorError(f"{packaged}: missing, so this install of pypi-stats-site is incomplete; reinstall it")


def templates() -> Path:
    return folder("templates")


def content() -> Path:
    return folder("content")


def demo_config() -> Path:
    return folder("demo") / "stats.toml"
