"""Docs that tests keep true: every config key, CLI command and query file is documented."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from generator import cli, config, queries

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("section", "cls"),
    [
        ("site", config.SiteConfig),
        ("source", config.SourceConfig),
        ("budget", config.BudgetConfig),
        ("store", config.StoreConfig),
    ],
)
def test_every_config_key_is_in_the_readme(section: str, cls: type) -> None:
    block = README[README.index("## Configuration") :]
    for f in dataclasses.fields(cls):
        assert re.search(rf"^{f.name}\s*=", block, re.MULTILINE), f"[{section}].{f.name} is not documented"


def test_every_config_field_has_a_docstring() -> None:
    source = (ROOT / "generator" / "config.py").read_text(encoding="utf-8")
    for cls in (config.SiteConfig, config.SourceConfig, config.BudgetConfig, config.StoreConfig):
        for f in dataclasses.fields(cls):
            assert re.search(rf"    {f.name}: .*\n    \"\"\"", source), f"{cls.__name__}.{f.name} has no docstring"


def test_every_cli_command_is_in_the_readme() -> None:
    parser = cli._parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name in commands:
        assert f"python -m generator {name}" in README, f"`{name}` is not documented in the README"


@pytest.mark.parametrize("name", queries.names())
def test_every_query_file_says_what_it_computes_and_reads(name: str) -> None:
    text = queries.load(name)
    header = "\n".join(line for line in text.splitlines()[:40] if line.startswith("--"))
    assert header.startswith(f"-- {name}"), f"{name}.sql must start with a comment naming what it computes"
    assert re.search(r"(?i)reads?\b", header), f"{name}.sql's header must say which columns/tables it reads"


def test_queries_take_bound_parameters_only() -> None:
    """No Python-style placeholders: values reach the SQL only as @name (BigQuery) or {name:Type}
    (ClickHouse) parameters."""
    for name in queries.names():
        code = "\n".join(line for line in queries.load(name).splitlines() if not line.lstrip().startswith("--"))
        for brace in re.findall(r"\{[^}]*\}", code):
            assert re.fullmatch(r"\{\w+:[\w()]+\}|\{\d*,\d*\}", brace), (name, brace)
        assert "%s" not in code, name
        assert "%(" not in code, name
        if name == "daily_aggregates":
            assert {"@projects", "@start", "@end"} <= set(re.findall(r"@\w+", code)), name


# -- README's "How the code is laid out" -------------------------------------------------------------
LAID_OUT = re.compile(r"^\| (\d) \| `([a-z_/]+)` \| (.+) \|$", re.MULTILINE)


def readme_layout() -> dict[str, int]:
    """Module (dotted, as tests/test_layering.py names it) → the layer README's table gives it."""
    start = README.index("### How the code is laid out")
    section = README[start : README.index("\n### ", start + 1)]
    out = {}
    for layer, name, _job in LAID_OUT.findall(section):
        dotted = "generator" if name == "__init__" else "generator." + name.strip("/").replace("/", ".")
        out[dotted.removesuffix(".__init__")] = int(layer)
    return out


def test_the_readme_names_every_module_in_the_layer_the_layering_test_gives_it() -> None:
    """A newcomer reads each module's one job and its layer in README; both stay true as modules come and go."""
    from test_layering import LAYERS

    declared = {module: number for number, (_name, members) in enumerate(LAYERS, start=1) for module in members}
    assert readme_layout() == declared


def test_the_layout_table_reads_a_row_as_module_layer_and_job() -> None:
    table = "| 4 | `sources/bigquery` | the canonical SQL on BigQuery |\n| 8 | `cli` | the command line |"
    rows = LAID_OUT.findall(table)
    assert rows == [("4", "sources/bigquery", "the canonical SQL on BigQuery"), ("8", "cli", "the command line")]
