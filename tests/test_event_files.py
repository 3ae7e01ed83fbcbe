"""Every event file is read, or named: the local source never counts a fraction of the events silently.

A BigQuery export to Cloud Storage writes `.json` or `.json.gz`, often under hive-style folders; people
rename files in upper case. Whatever the layout, the same events give the same counts, and the data's
project names match the config's however they are spelled (PEP 503).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
from pathlib import Path

import duckdb
import pytest
from conftest import event

from generator.dates import Window
from generator.plan import Job
from generator.sources.local import LocalSource

DAY = dt.date(2026, 10, 1)


def ndjson(events: list[dict]) -> bytes:
    return "".join(json.dumps(e) + "\n" for e in events).encode()


def write(path: Path, events: list[dict]) -> None:
    """`events` at `path`, in the format its name says (Parquet, or NDJSON, gzip-compressed for .gz)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name.lower()
    if name.endswith(".parquet"):
        plain = path.with_name("tmp.jsonl")
        plain.write_bytes(ndjson(events))
        con = duckdb.connect()
        con.read_json(str(plain), format="newline_delimited").write_parquet(str(path))
        plain.unlink()
    elif name.endswith(".gz"):
        path.write_bytes(gzip.compress(ndjson(events)))
    else:
        path.write_bytes(ndjson(events))


def installs(directory: Path, projects: tuple[str, ...] = ("acme",)) -> dict[str, int]:
    """Downloads per project, as the local source counts them for DAY."""
    source = LocalSource(directory)
    try:
        rows = source.fetch(Job(Window(DAY, DAY), projects)).rows.to_pylist()
    finally:
        source.close()
    out: dict[str, int] = {}
    for r in rows:
        if r["breakdown"] == "total":
            out[r["project"]] = out.get(r["project"], 0) + r["downloads"]
    return out


@pytest.mark.parametrize(
    "name",
    [
        "more.ndjson",
        "more.ndjson.gz",
        "more.json",
        "more.json.gz",
        "more.jsonl.gz",
        "MORE.NDJSON",
        "more.Json.GZ",
        "more.parquet",
        "MORE.PARQUET",
        "sub/folder/more.jsonl",
        "date=2026-10-01/000000000000.json.gz",
        "date=2026-10-01/part-0.parquet",
    ],
)
def test_every_event_file_is_read_whatever_its_layout(tmp_path: Path, name: str) -> None:
    write(tmp_path / "base.jsonl", [event("2026-10-01")] * 3)
    write(tmp_path / name, [event("2026-10-01", installer="uv")] * 4)
    assert installs(tmp_path) == {"acme": 7}


def test_other_files_are_named_in_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path / "events.jsonl", [event("2026-10-01")])
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "export.csv").write_text("a,b")
    (tmp_path / ".gitkeep").write_text("")
    (tmp_path / "SYNTHETIC.json").write_text("{}")  # the sample's marker is not an event file
    with caplog.at_level(logging.WARNING):
        assert installs(tmp_path) == {"acme": 1}
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"{tmp_path}: 2 file(s) are not event files and were not read: notes.txt, old/export.csv" in message
    assert "(event files are .parquet, or .json, .jsonl or .ndjson (each optionally .gz))" in message


@pytest.mark.parametrize("fmt", ["events.jsonl", "events.parquet"])
def test_project_names_match_however_the_data_spells_them(tmp_path: Path, fmt: str) -> None:
    write(
        tmp_path / fmt,
        [
            event("2026-10-01", project=p)
            for p in ("alpha", "Alpha", "ALPHA", "foo_bar", "Foo.Bar", "foo--bar", "other")
        ],
    )
    assert installs(tmp_path, ("alpha", "foo-bar")) == {"alpha": 3, "foo-bar": 3}
