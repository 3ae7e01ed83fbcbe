"""The config file: the documented shape works, and every mistake is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator import config
from generator.errors import ConfigError

DOCUMENTED = """
[site]
title = "My packages"
base_url = "https://example.github.io/stats/"   # optional

[packages]
names = ["requests", "rich"]

[source]
kind = "local"          # later also "bigquery"
path = "data/events"    # relative to this file, or absolute
"""


def load_text(tmp_path: Path, text: str) -> config.Config:
    path = tmp_path / "stats.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path)


def test_the_documented_shape_loads(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, DOCUMENTED)
    assert cfg.site.title == "My packages"
    assert cfg.packages == ("requests", "rich")
    assert cfg.source.kind == "local"
    assert cfg.source.path == tmp_path / "data/events"  # relative to the config file
    assert cfg.store.path == tmp_path / "data/store.duckdb"


@pytest.mark.parametrize(
    ("names", "normalized"),
    [
        (["Django"], ("django",)),
        (["zope.interface"], ("zope-interface",)),
        (["Foo__Bar-.baz"], ("foo-bar-baz",)),
        pytest.param(["Foo_Bar", "foo-bar", "rich"], ("foo-bar", "rich"), id="duplicates after normalization merge"),
    ],
)
def test_package_names_are_pep503_normalized(tmp_path: Path, names: list[str], normalized: tuple[str, ...]) -> None:
    cfg = load_text(tmp_path, DOCUMENTED.replace('["requests", "rich"]', json.dumps(names)))
    assert cfg.packages == normalized


@pytest.mark.parametrize(
    "bad",
    ["../x", "a b", "x'; DROP TABLE t; --", "-leading", "trailing.", "", "pkg/../../etc", "é", 'a"b'],
)
def test_invalid_package_names_are_rejected_naming_the_key(tmp_path: Path, bad: str) -> None:
    # json.dumps gives a valid TOML basic string for these.
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, DOCUMENTED.replace('["requests", "rich"]', f"[{json.dumps(bad)}]"))
    message = str(info.value)
    assert "stats.toml" in message
    assert "[packages].names" in message
    assert "invalid package name" in message


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param(
            DOCUMENTED + "\n[budget]\nmax_dollars = 5\n",
            ("stats.toml", "[budget].max_dollars", "allowed: max_bytes_per_query"),
            id="an unknown key names the file, the key and what is allowed",
        ),
        pytest.param(
            DOCUMENTED.replace('kind = "local"', 'kind = "s3"').replace('"rich"', '"../rich"') + "\nextra = 1\n",
            ("kind must be one of", "invalid package name", "[source].extra"),
            id="every problem is reported at once",
        ),
        pytest.param(
            DOCUMENTED.replace('kind = "local"', 'kind = "bigquery"\nlocation = "EU"'),
            ('[source].location must be "US"', "multi-region", "'EU'"),
            id="a BigQuery job outside the dataset's US multi-region is refused before it is sent",
        ),
    ],
)
def test_config_errors_are_one_line_naming_each_problem(tmp_path: Path, text: str, fragments: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message  # one line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("[site\n", "not valid TOML", id="bad TOML"),
        pytest.param('as_of = "31/10/2026"\n' + DOCUMENTED, "YYYY-MM-DD", id="bad as_of"),
        pytest.param(
            DOCUMENTED + 'history_days = "many"\n', r"\[source\].history_days must be a int", id="wrong value type"
        ),
    ],
)
def test_a_bad_config_text_says_what_is_wrong(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_text(tmp_path, text)


def test_a_missing_config_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "nope.toml")
