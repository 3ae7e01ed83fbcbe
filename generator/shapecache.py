"""The compiled chart shapes, kept between builds: a build that finds them need not import Altair.

Compiling the shapes (generator.charts: Altair's import, its schema validation and Vega-Lite's
compiler) costs about a second of every build that renders a page; a rebuild after late rows for a
few packages spends a quarter of its time there. The result depends only on the chart code and the
versions of Altair and vl-convert, so it is kept in a JSON file named by a hash of those, in the
user's cache folder (`$PYPI_STATS_CACHE_DIR`, else `$XDG_CACHE_HOME/pypi-stats-site`, else
`~/.cache/pypi-stats-site`). A missing, unreadable or malformed file is compiled again; a cache
that cannot be written is skipped. The file is the tool's own: nothing else there is touched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from generator.drawing import Shape, Shapes

CACHE_ENV = "PYPI_STATS_CACHE_DIR"
FORMAT = 1
"""Bumped when the file's shape changes."""
KEY_FILES = ("charts.py", "drawing.py", "svg.py", "categories.py")
"""The modules whose code shapes the compiled result: the chart shapes and every generator module they
import (tests/test_shapecache.py checks the list against charts.py's imports)."""
KEY_LIBRARIES = ("altair", "vl-convert-python")


def folder() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pypi-stats-site"


def key() -> str:
    """A hash of what the compiled shapes depend on: the chart code and the libraries' versions."""
    h = hashlib.sha256(f"format {FORMAT}".encode())
    here = Path(__file__).resolve().parent
    for name in KEY_FILES:
        h.update((here / name).read_bytes())
    for library in KEY_LIBRARIES:
        h.update(f"{library} {metadata.version(library)}".encode())
    return h.hexdigest()[:32]


def path() -> Path:
    return folder() / f"chart-shapes-{key()}.json"


def load() -> Shapes | None:
    """The kept shapes for this code and these libraries, or None."""
    try:
        doc = json.loads(path().read_text(encoding="utf-8"))
        return Shapes(**{f.name: _shape(doc[f.name]) for f in dataclasses.fields(Shapes)})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(shapes: Shapes) -> None:
    """Keep the shapes (written to a temporary file, then renamed: a reader never sees half a file)."""
    target = path()
    doc = {f.name: _json(getattr(shapes, f.name)) for f in dataclasses.fields(Shapes)}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(partial, target)
    except OSError:
        pass  # a cache: the next build compiles again


def _json(shape: Shape) -> dict[str, Any]:
    return {
        "vega_lite": shape.vega_lite,
        "vega": shape.vega,
        "datasets": list(shape.datasets),
        "filled": {k: list(v) for k, v in shape.filled.items()},
    }


def _shape(doc: dict[str, Any]) -> Shape:
    if not (isinstance(doc["vega_lite"], dict) and isinstance(doc["vega"], dict)):
        raise ValueError("not a compiled shape")
    return Shape(
        vega_lite=doc["vega_lite"],
        vega=doc["vega"],
        datasets=tuple(str(d) for d in doc["datasets"]),
        filled={str(k): tuple(str(p) for p in v) for k, v in doc["filled"].items()},
    )
