"""What a build keeps in the user's cache folder (generator.usercache) to spare the next build work: SQL
translated for DuckDB and compiled templates (the chart shapes: tests/test_shapecache.py).

Each kept thing is the same as what it spares making, is made again when the file is not one, and is
skipped when the folder cannot be written. tests/test_layering.py checks, in real builds, that a build
finding the translations kept imports no sqlglot and writes the same pages.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from generator import queries, render, sql, sqlrewrite, usercache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(usercache.CACHE_ENV, str(tmp_path / "cache"))
    sql.to_duckdb.cache_clear()  # this process's own memo of translations
    yield tmp_path / "cache"
    sql.to_duckdb.cache_clear()


@pytest.fixture
def unwritable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(usercache.CACHE_ENV, str(blocker / "cache"))  # under a file: no folder can be made
    sql.to_duckdb.cache_clear()
    yield blocker / "cache"
    sql.to_duckdb.cache_clear()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({usercache.CACHE_ENV: "/x/shapes", "XDG_CACHE_HOME": "/y"}, "/x/shapes"),
        ({"XDG_CACHE_HOME": "/y"}, "/y/pypi-stats-site"),
        ({"HOME": "/home/someone"}, "/home/someone/.cache/pypi-stats-site"),
    ],
)
def test_the_cache_folder(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str) -> None:
    for name in (usercache.CACHE_ENV, "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert usercache.folder() == Path(expected)


@pytest.mark.parametrize(
    ("a", "b"),
    [(("ab", "c"), ("a", "bc")), (("x",), ("x", "")), (("1.0",), ("1.1",))],
    ids=["the parts' boundaries count", "an empty part counts", "a version counts"],
)
def test_different_inputs_name_different_files(a: tuple[str, ...], b: tuple[str, ...]) -> None:
    assert usercache.digest(*a) != usercache.digest(*b)


# -- SQL translated for DuckDB ------------------------------------------------------------------------
DAILY = queries.load("daily_aggregates")


def kept_translations(cache: Path) -> list[Path]:
    return sorted(cache.glob("sql-*.json"))


def test_a_kept_translation_is_what_sqlglot_translates(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    translated = sqlrewrite.transpile(DAILY, "events")
    assert sql.to_duckdb(DAILY, "events") == translated
    assert len(kept_translations(cache)) == 1
    sql.to_duckdb.cache_clear()

    def no_sqlglot(*args: object) -> str:
        raise AssertionError("translated again although a translation was kept")

    monkeypatch.setattr(sqlrewrite, "transpile", no_sqlglot)
    assert sql.to_duckdb(DAILY, "events") == translated


@pytest.mark.parametrize(
    "text",
    ["", "{not json", "[]", '{"duckdb": 1}', '{"duckdb": ""}'],
    ids=["empty", "not JSON", "a list", "a number", "empty SQL"],
)
def test_a_file_that_is_not_a_kept_translation_is_translated_again(cache: Path, text: str) -> None:
    sql.to_duckdb(DAILY, "events")
    (kept,) = kept_translations(cache)
    kept.write_text(text, encoding="utf-8")
    sql.to_duckdb.cache_clear()
    assert sql.to_duckdb(DAILY, "events") == sqlrewrite.transpile(DAILY, "events")


@pytest.mark.parametrize(
    "other",
    [(DAILY + "\n", "events"), (DAILY, "other_view"), (DAILY, None)],
    ids=["another SQL text", "another table", "no table"],
)
def test_another_query_is_kept_in_another_file(cache: Path, other: tuple[str, str | None]) -> None:
    sql.to_duckdb(DAILY, "events")
    sql.to_duckdb(*other)
    assert len(kept_translations(cache)) == 2


def test_another_sqlglot_reads_another_file(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sql.to_duckdb(DAILY, "events")
    real = sql.metadata.version
    monkeypatch.setattr(sql.metadata, "version", lambda name: "0.0.1" if name == "sqlglot" else real(name))
    sql.to_duckdb.cache_clear()
    sql.to_duckdb(DAILY, "events")
    assert len(kept_translations(cache)) == 2


def test_translating_without_a_writable_cache_still_translates(unwritable: Path) -> None:
    assert sql.to_duckdb(DAILY, "events") == sqlrewrite.transpile(DAILY, "events")
    assert not unwritable.exists()


# -- compiled templates ---------------------------------------------------------------------------------
def rendered(env: jinja2.Environment) -> str:
    return env.from_string("{{ 1234567 | num }}").render() + env.get_template("_macros.html").render()


def test_kept_templates_render_what_compiled_ones_render(cache: Path) -> None:
    first = render.environment()
    expected = rendered(first)
    kept = sorted(p.name for p in cache.glob("templates-*/*"))
    assert kept, "the compiled templates were kept"
    again = render.environment()  # a new process's environment: compiled templates read back
    assert rendered(again) == expected
    assert sorted(p.name for p in cache.glob("templates-*/*")) == kept


def test_a_kept_template_that_is_not_one_is_compiled_again(cache: Path) -> None:
    expected = rendered(render.environment())
    for kept in cache.glob("templates-*/*"):
        kept.write_bytes(b"j2 not a compiled template")
    assert rendered(render.environment()) == expected


def test_rendering_without_a_writable_cache_still_renders(cache: Path, unwritable: Path) -> None:
    assert rendered(render.environment())
    assert not unwritable.exists()
