"""The compiled chart shapes, kept between builds: a build that finds them need not import Altair.

Compiling the shapes (generator.charts: Altair's import, its schema validation and Vega-Lite's
compiler) costs about a second of every build that renders a page; a rebuild after late rows for a
few packages spends a quarter of its time there. The result depends only on the chart code and the
versions of Altair and vl-convert, so it is kept in a JSON file named by a hash of those, in the
user's cache folder (generator.usercache). A missing, unreadable or malformed file is compiled again;
a cache that cannot be written is skipped.
"""

from __future__ import annotations

import dataclasses
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from generator import usercache
from generator.drawing import Shape, Shapes

FORMAT = 1
"""Bumped when the file's shape changes."""
KEY_FILES = ("charts.py", "drawing.py", "chartproc.py", "svg.py", "categories.py", "errors.py")
"""The modules whose code shapes the compiled result: the chart shapes and every generator module they
import (tests/test_shapecache.py checks the list against charts.py's imports)."""
KEY_LIBRARIES = ("altair", "vl-convert-python")


def key() -> str:
    """A hash of what the compiled shapes depend on: the chart code and the libraries' versions."""
    here = Path(__file__).resolve().parent
    return usercache.digest(
        f"format {FORMAT}",
        *((here / name).read_bytes() for name in KEY_FILES),
        *(f"{library} {metadata.version(library)}" for library in KEY_LIBRARIES),
    )


def name() -> str:
    """The file's name in the user's cache folder (generator.usercache)."""
    return f"chart-shapes-{key()}.json"


def load() -> Shapes | None:
    """The kept shapes for this code and these libraries, or None."""
    try:
        doc = json.loads(usercache.read(name()) or "")
        return Shapes(**{f.name: _shape(doc[f.name]) for f in dataclasses.fields(Shapes)})
    except (ValueError, KeyError, TypeError):
        return None


def save(shapes: Shapes) -> None:
    """Keep the shapes."""
    doc = {f.name: _json(getattr(shapes, f.name)) for f in dataclasses.fields(Shapes)}
    usercache.write(name(), json.dumps(doc))


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
