"""The compiled chart shapes kept between builds (generator.shapecache): the same shapes, or none.

A build that finds them imports no Altair (tests/test_layering.py checks that in a real build, and
that its pages are the same bytes); here: what is kept is what was compiled, a file that is not a
kept shape is compiled again, and the file is named by the code and the libraries' versions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from generator import charts, shapecache, usercache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(usercache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_kept_shapes_are_the_compiled_shapes(cache: Path) -> None:
    compiled = charts.compile_shapes()
    assert shapecache.load() is None
    shapecache.save(compiled)
    assert shapecache.load() == compiled


@pytest.mark.parametrize(
    "text",
    ["", "{not json", "[]", '{"honest": 1}', '{"honest": {"vega_lite": [], "vega": {}, "datasets": [], "filled": {}}}'],
    ids=["empty", "not JSON", "a list", "a shape that is a number", "a spec that is a list"],
)
def test_a_file_that_is_not_kept_shapes_is_compiled_again(cache: Path, text: str) -> None:
    cache.mkdir()
    (cache / shapecache.name()).write_text(text, encoding="utf-8")
    assert shapecache.load() is None


@pytest.mark.parametrize("library", shapecache.KEY_LIBRARIES)
def test_another_version_of_a_library_that_shapes_the_charts_reads_another_file(
    cache: Path, monkeypatch: pytest.MonkeyPatch, library: str
) -> None:
    before = shapecache.name()
    real = shapecache.metadata.version
    monkeypatch.setattr(shapecache.metadata, "version", lambda name: "0.0.1" if name == library else real(name))
    assert shapecache.name() != before


def test_a_cache_that_cannot_be_written_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(usercache.CACHE_ENV, str(blocker / "cache"))  # under a file: no folder can be made
    shapecache.save(charts.compile_shapes())
    assert shapecache.load() is None


def generator_imports(module: str) -> set[str]:
    """The generator modules `module` imports, directly or through them (by file name)."""
    root = Path(shapecache.__file__).resolve().parent
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(ast.parse((root / name).read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("generator."):
                todo.append(node.module.removeprefix("generator.") + ".py")
            elif isinstance(node, ast.ImportFrom) and node.module == "generator":
                todo += [f"{alias.name}.py" for alias in node.names if (root / f"{alias.name}.py").is_file()]
    return seen


def test_the_cache_is_named_by_every_module_the_chart_shapes_are_made_from() -> None:
    """A change to a colour in categories or an ink in svg must compile the shapes again."""
    assert generator_imports("charts.py") == set(shapecache.KEY_FILES)
