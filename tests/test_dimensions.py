"""The breakdown registry (generator.dimensions) is the one place a breakdown is declared.

- A site built from events with known installer versions shows them ("pip 24") on the page, in its
  CSV and in data/<name>.json: the breakdown's name, store column and page are read from one entry.
- No breakdown name is written as a literal anywhere else in the code or the templates.
- The SQL files agree with the registry: daily_aggregates.sql computes one column per dimension,
  names its grouping set after it and reads what the cost model says it reads; every ClickPy query
  returns the one narrow shape and only the breakdowns the registry gives it.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from conftest import code_and_templates, event, spelled_outside, write_config, write_events
from htmltools import parse
from sqlglot import exp

from generator import build, config, dimensions, queries
from generator.sources import STORE_SCHEMA, clickpy
from generator.store import AGGREGATE_COLUMNS, open_store

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-10-31"

# (installer, installer version, Python, how many events) on one day inside the 30-day window.
EVENTS = [
    ("pip", "25.1", "3.12.1", 5),
    ("pip", "24.0", "3.10.4", 3),
    ("uv", "0.5.1", "3.9.7", 2),
    ("pip", None, "3.13.0", 1),
    ("bandersnatch", "6.5.0", None, 4),  # a mirror: not in the package-manager breakdowns
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("dimensions")
    events = [
        event(day="2026-10-20", installer=name, iv=version, python=python)
        for name, version, python, n in EVENTS
        for _ in range(n)
    ]
    cfg = config.load(write_config(tmp / "stats.toml", write_events(tmp / "events", events), ["acme"], AS_OF))
    out = tmp / "site"
    build.build(cfg, as_of=dt.date.fromisoformat(AS_OF), out_dir=out, jobs=1)
    return out


def page_rows(site: Path, table: str) -> list[tuple[str, int]]:
    rows = parse((site / "packages/acme/index.html").read_text(encoding="utf-8")).tables[table]
    value = 2 if rows[0][1] == "Bar" else 1  # a table drawn with CSS bars: the bar cell holds no text
    return [(r[0], int(r[value].replace(",", ""))) for r in rows[1:]]


def csv_rows(site: Path, table: str) -> list[tuple[str, int]]:
    rows = list(csv.reader(io.StringIO((site / f"packages/acme/{table}.csv").read_text(encoding="utf-8"))))
    return [(r[0], int(r[1])) for r in rows[1:]]


def json_rows(site: Path, table: str) -> list[tuple[str, int]]:
    doc = json.loads((site / "data/acme.json").read_text(encoding="utf-8"))
    return [(r[0], r[1]) for r in doc["tables"][table]["rows"]]


OUTPUTS = {"page": page_rows, "csv": csv_rows, "json": json_rows}


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize(
    ("dimension", "expected"),
    [
        # By count, each installer with its major version; a missing version says so.
        (dimensions.INSTALLER_VERSION, [("pip 25", 5), ("pip 24", 3), ("uv 0", 2), ("pip (no version)", 1)]),
        # By version, not by count: 3.9 before 3.10.
        (dimensions.PYTHON_MINOR, [("3.9", 2), ("3.10", 3), ("3.12", 5), ("3.13", 1)]),
    ],
    ids=lambda v: v.name if isinstance(v, dimensions.Dimension) else None,
)
def test_a_breakdown_shows_its_values_on_the_page_in_its_csv_and_json(
    site: Path, output: str, dimension: dimensions.Dimension, expected: list[tuple[str, int]]
) -> None:
    assert OUTPUTS[output](site, dimension.table) == expected


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["3.10", "3.9", "3.13", "unknown", "3.8"], ["3.8", "3.9", "3.10", "3.13", "unknown"]),
        (["2.0", "2.0.post1", "10.0", "2.0rc1", "1.9.9"], ["1.9.9", "2.0rc1", "2.0", "2.0.post1", "10.0"]),
    ],
)
def test_versions_sort_as_versions(labels: list[str], expected: list[str]) -> None:
    assert sorted(labels, key=dimensions.version_key) == expected


# -- one declaration ----------------------------------------------------------------------------------
# Files where breakdown names appear with another meaning, and which.
NOT_A_BREAKDOWN: dict[str, str] = {
    "generator/sample.py": "writes raw file_downloads events: the table's own field names",
    "generator/sources/local.py": "declares the types of the file_downloads table's nested fields",
}
SPELLINGS = sorted(set(dimensions.NAMES) | set(dimensions.COLUMNS))
DISTINCT = {name for name in SPELLINGS if "_" in name}
"""Names that mean a breakdown wherever they stand (installer_version, python_minor, ...)."""
GENERIC = set(SPELLINGS) - DISTINCT
"""Everyday words (version, system, country, ...): a breakdown only where the code treats them as one."""
QUOTED = re.compile("['\"](" + "|".join(SPELLINGS) + ")['\"]")


def _in_text(text: str) -> set[str]:
    """Names quoted inside a string or template line: a generic one only where it speaks of a breakdown."""
    return {m for m in QUOTED.findall(text) if m in DISTINCT or "breakdown" in text}


def _constant(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def literal_names(path: Path) -> list[tuple[int, str]]:
    """Each (line, name) where a breakdown's name or store column is written out as a breakdown.

    Distinct names count everywhere; generic words count when compared with something named
    "breakdown", passed as `breakdown(s)=`, quoted in SQL about breakdowns, or listed (as values or
    keys) with another breakdown name, which is how a second table of breakdowns starts.
    """
    found: set[tuple[int, str]] = set()
    if path.suffix != ".py":
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            found |= {(number, m) for m in _in_text(line)}
            if len({m for m in QUOTED.findall(line)}) >= 2:
                found |= {(number, m) for m in QUOTED.findall(line)}
        return sorted(found)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        value = _constant(node)
        if value is not None:
            if value in DISTINCT:
                found.add((node.lineno, value))
            found |= {(node.lineno, m) for m in _in_text(value)}
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any("breakdown" in ast.unparse(side) for side in sides):
                found |= {(node.lineno, v) for side in sides if (v := _constant(side)) in GENERIC}
        elif isinstance(node, ast.keyword) and node.arg in ("breakdown", "breakdowns"):
            items = node.value.elts if isinstance(node.value, ast.Tuple | ast.List | ast.Set) else [node.value]
            found |= {(node.lineno, v) for item in items if (v := _constant(item)) in GENERIC}
        elif isinstance(node, ast.Dict | ast.Tuple | ast.List | ast.Set):
            items = node.keys if isinstance(node, ast.Dict) else node.elts
            named = [(item.lineno, v) for item in items if item is not None and (v := _constant(item)) in SPELLINGS]
            if len({v for _, v in named}) >= 2:
                found |= set(named)
    return sorted(found)


def test_no_breakdown_name_is_spelled_outside_the_registry_and_the_sql() -> None:
    registry = {"generator/dimensions.py", *NOT_A_BREAKDOWN}
    stray = spelled_outside(code_and_templates(), registry, lambda path, _rel: literal_names(path))
    assert not stray, "use generator.dimensions (the registry entry), not the name:\n" + "\n".join(stray)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("code.py", 'x = "installer_version"\n', [(1, "installer_version")]),
        ("code.py", "# installer_version in a comment\nversion = 1\n", []),
        ("code.py", "sql = \"breakdown IN ('python_minor', 'version')\"\n", [(1, "python_minor"), (1, "version")]),
        ("code.py", "if r.breakdown != 'version':\n    pass\n", [(1, "version")]),
        ("code.py", "rows(breakdowns=('system',))\n", [(1, "system")]),
        ("code.py", 'TITLES = {\n "country": "Country",\n "system": "OS",\n}\n', [(2, "country"), (3, "system")]),
        ("code.py", 'doc = {"version": 1, "format": "x"}\nparser.add_argument(action="version")\n', []),
        ("page.html", '{% if b.key == "file_type" %}\n', [(1, "file_type")]),
        ("page.html", '{% for n in ["system", "country"] %}\n', [(1, "country"), (1, "system")]),
        ("page.html", "<p>Python version, country and system</p>\n", []),
    ],
)
def test_the_literal_check_sees_a_breakdown_name_not_a_word(
    tmp_path: Path, name: str, text: str, expected: list[tuple[int, str]]
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert literal_names(path) == expected


# -- the SQL files ---------------------------------------------------------------------------------------
def canonical() -> exp.Select:
    tree = sqlglot.parse_one(queries.load("daily_aggregates"), read="bigquery")
    assert isinstance(tree, exp.Select)
    return tree


def test_daily_aggregates_outputs_the_store_columns_in_order() -> None:
    assert canonical().named_selects == [name for name, _ in AGGREGATE_COLUMNS]


def test_daily_aggregates_computes_each_dimension_from_the_columns_the_cost_model_reads() -> None:
    """What a dimension reads is what its grouping set's columns read: a distribution reads the OS too."""
    cte = next(canonical().find_all(exp.CTE)).this
    reads = {
        e.alias_or_name: {".".join(p.name for p in c.parts) for c in e.find_all(exp.Column)} for e in cte.expressions
    }
    assert {d.column: sorted(set().union(*(reads[c] for c in d.group_columns))) for d in dimensions.DIMENSIONS} == {
        d.column: sorted(d.reads) for d in dimensions.DIMENSIONS
    }


def test_daily_aggregates_names_each_grouping_set_after_its_dimension() -> None:
    tree = canonical()
    case = tree.expressions[tree.named_selects.index("breakdown")].unalias()
    branches = [(next(branch.this.find_all(exp.Column)).name, branch.args["true"].name) for branch in case.args["ifs"]]
    assert sorted(branches) == sorted((d.column, d.name) for d in dimensions.DIMENSIONS)
    assert case.args["default"].name == dimensions.TOTAL
    sets = next(tree.args["group"].find_all(exp.GroupingSets)).expressions
    extra = [
        sorted({c.name for c in s.find_all(exp.Column)} - {c.name for c in sets[0].find_all(exp.Column)}) for s in sets
    ]
    assert extra == [[], *(sorted(d.group_columns) for d in dimensions.DIMENSIONS)]


def test_a_breakdown_counted_within_another_is_named_before_it_in_the_breakdown_case() -> None:
    """A distro row groups by the OS too (GROUPING(system) is 0 on it), so its branch must come first."""
    tree = canonical()
    case = tree.expressions[tree.named_selects.index("breakdown")].unalias()
    order = [branch.args["true"].name for branch in case.args["ifs"]]
    within = [(d.name, d.within.dimension.name) for d in dimensions.DIMENSIONS if d.within is not None]
    assert within
    assert [(name, outer) for name, outer in within if order.index(name) >= order.index(outer)] == []


CLICKPY_QUERIES = [
    n
    for n in queries.names()
    if n.startswith("clickpy_")
    and n not in (clickpy.COVERAGE_QUERY, clickpy.BEFORE_STORE_QUERY)
    and not n.startswith("clickpy_leaderboard_")  # all of PyPI ranked, not rows for the store
]


@pytest.mark.parametrize("name", CLICKPY_QUERIES)
def test_each_clickpy_query_returns_the_one_shape_and_the_breakdowns_the_registry_gives_it(name: str) -> None:
    tree = sqlglot.parse_one(queries.load(name), read="clickhouse")
    assert tuple(tree.named_selects) == clickpy.TABLE_COLUMNS
    summed = sqlglot.parse_one(clickpy.summed_query(queries.load(name)), read="clickhouse")
    assert tuple(summed.named_selects) == clickpy.OUTPUT_COLUMNS
    strings = {lit.name for lit in tree.find_all(exp.Literal) if lit.is_string}
    produced = strings & {dimensions.TOTAL, *dimensions.NAMES}
    given = {d.name for d in dimensions.DIMENSIONS if d.clickpy_query == name}
    if name == clickpy.INSTALLER_QUERY:
        given.add(dimensions.TOTAL)  # the totals come with the installers
    assert produced == given


def test_every_clickpy_query_the_registry_names_exists() -> None:
    named = {d.clickpy_query for d in dimensions.DIMENSIONS if d.clickpy_query}
    assert named <= set(CLICKPY_QUERIES)
    assert set(CLICKPY_QUERIES) == named | {clickpy.INSTALLER_QUERY}


# -- the store ---------------------------------------------------------------------------------------------
def test_a_store_made_before_a_dimension_existed_gets_its_column(tmp_path: Path) -> None:
    """A new registry entry needs no migration: opening the store adds its column (NULL in old rows),
    and a data export made before it still loads."""
    day = dt.date(2026, 10, 1)
    old = tmp_path / "old.duckdb"
    with open_store(old):
        pass
    con = duckdb.connect(str(old))
    con.execute(f"ALTER TABLE aggregates DROP COLUMN {dimensions.VERSION.column}")  # as before VERSION was added
    con.execute(
        "INSERT INTO aggregates (source, day, project, breakdown, downloads) VALUES ('local', $d, 'acme', $t, 7)",
        {"d": day, "t": dimensions.TOTAL},
    )
    export = tmp_path / "export"
    export.mkdir()
    for table in ("aggregates", "coverage", "ledger", "meta"):
        con.table(table).to_parquet(str(export / f"{table}.parquet"))
    con.close()
    row = {name: None for name in STORE_SCHEMA.names} | {
        "day": day, "project": "acme", "installer": "pip", "ci": False, "python_malformed": False,
        "breakdown": dimensions.VERSION.name, dimensions.VERSION.column: "2.0", "downloads": 3,
    }  # fmt: skip
    with open_store(old) as store:
        store.replace_days("local", ["acme"], [day], pa.Table.from_pylist([row], schema=STORE_SCHEMA))
        assert [(r.breakdown, r.value, r.downloads) for r in store.rows("local", "acme", dimensions.NAMES)] == [
            (dimensions.VERSION.name, "2.0", 3)
        ]
    with open_store(tmp_path / "new.duckdb") as fresh:
        fresh.load_export(export)
        assert [(r.breakdown, r.downloads) for r in fresh.rows("local", "acme")] == [(dimensions.TOTAL, 7)]
