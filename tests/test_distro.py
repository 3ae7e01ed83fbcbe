"""The Linux distribution table counts honest installs on Linux only.

- A Windows or macOS install is not in it; a Linux install with no distro name is "unknown" in it;
  the page, its CSV and data/<name>.json agree, and the caption says the population.
- Distro rows carry the OS (the store records, per day, the shape its rows were fetched in). Days
  fetched before that, in a store made by an older version, are not counted: the table says how many
  of its window's days it counts and how to get the others back, and a refetch does.
- An old store opened read-only still exports, and its export loads with its days marked old.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import duckdb
import pytest
from conftest import event, write_config, write_events
from htmltools import parse

from generator import build, cli, config, dimensions
from generator.store import OLD_SHAPE, open_store

AS_OF = "2026-10-31"
OLD_DAY = dt.date(2026, 10, 10)
NEW_DAY = dt.date(2026, 10, 20)
TABLE = dimensions.DISTRO.table


def installs(day: dt.date, system: str | None, distro: str | None, n: int, **kw: object) -> list[dict]:
    return [event(day=day.isoformat(), system=system, distro=distro, **kw) for _ in range(n)]


def page_rows(site: Path) -> list[tuple[str, int]]:
    rows = parse((site / "packages/acme/index.html").read_text(encoding="utf-8")).tables[TABLE]
    return [(r[0], int(r[2].replace(",", ""))) for r in rows[1:]]  # label, bar, installs, share


def csv_rows(site: Path) -> list[tuple[str, int]]:
    rows = list(csv.reader(io.StringIO((site / f"packages/acme/{TABLE}.csv").read_text(encoding="utf-8"))))
    return [(r[0], int(r[1])) for r in rows[1:]]


def json_table(site: Path) -> dict:
    return json.loads((site / "data/acme.json").read_text(encoding="utf-8"))["tables"][TABLE]


def json_rows(site: Path) -> list[tuple[str, int]]:
    return [(r[0], r[1]) for r in json_table(site)["rows"]]


OUTPUTS = {"page": page_rows, "csv": csv_rows, "json": json_rows}


def make_site(tmp: Path, events: list[dict], *, refresh: bool = False) -> Path:
    cfg = config.load(write_config(tmp / "stats.toml", write_events(tmp / "events", events), ["acme"], AS_OF))
    out = tmp / "site"
    build.build(cfg, as_of=dt.date.fromisoformat(AS_OF), out_dir=out, jobs=1, refresh=refresh)
    return out


# 23 Windows, 21 macOS and 12 Linux installs (10 Ubuntu, 2 with no distro name), and CI and a mirror
# on Linux, which the headline's population leaves out.
MIXED = [
    *installs(NEW_DAY, "Windows", None, 23),
    *installs(NEW_DAY, "Darwin", None, 21),
    *installs(NEW_DAY, "Linux", "Ubuntu", 10),
    *installs(NEW_DAY, "Linux", None, 2),
    *installs(NEW_DAY, "Linux", "Debian GNU/Linux", 4, ci=True),
    *installs(NEW_DAY, "Linux", "Debian GNU/Linux", 6, installer="bandersnatch"),
]


@pytest.fixture(scope="module")
def mixed_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_site(tmp_path_factory.mktemp("distro"), MIXED)


@pytest.mark.parametrize("output", OUTPUTS)
def test_a_windows_or_macos_install_is_not_in_the_linux_distribution_table_and_no_distro_name_is_unknown(
    mixed_site: Path, output: str
) -> None:
    assert OUTPUTS[output](mixed_site) == [("Ubuntu", 10), ("unknown", 2)]


def test_the_linux_distribution_table_says_it_counts_honest_installs_on_linux_and_shares_are_of_them(
    mixed_site: Path,
) -> None:
    table = json_table(mixed_site)
    assert table["caption"].startswith("Linux distribution, honest installs on Linux, ")
    assert "counting" not in table["caption"]  # every held day counts
    assert [round(r[2], 4) for r in table["rows"]] == [round(10 / 12, 4), round(2 / 12, 4)]
    page = "".join(parse((mixed_site / "packages/acme/index.html").read_text(encoding="utf-8")).text)
    assert table["caption"] in " ".join(page.split())


def test_the_os_table_still_counts_every_honest_install(mixed_site: Path) -> None:
    rows = json.loads((mixed_site / "data/acme.json").read_text(encoding="utf-8"))["tables"]
    assert [(r[0], r[1]) for r in rows[dimensions.SYSTEM.table]["rows"]] == [
        ("Windows", 23),
        ("Darwin", 21),
        ("Linux", 12),
    ]


# -- stores from before distro rows carried the OS -------------------------------------------------------
def make_old_store(path: Path) -> None:
    """A store as the previous version wrote it: no shape per day, distro rows grouped by distro name alone.

    On OLD_DAY: 5 Ubuntu installs on Linux, 8 on Windows (no distro name): the old rows cannot tell them apart.
    """
    with open_store(path):
        pass
    con = duckdb.connect(str(path))
    for column in ("shape", "partition_rows", "partition_modified"):  # as before shapes and partitions were recorded
        con.execute(f"ALTER TABLE coverage DROP COLUMN IF EXISTS {column}")
    rows = [(dimensions.TOTAL, None, 13), (dimensions.DISTRO.name, "Ubuntu", 5), (dimensions.DISTRO.name, None, 8)]
    for breakdown, distro, downloads in rows:
        con.execute(
            "INSERT INTO aggregates (source, day, project, installer, ci, python_malformed, breakdown, distro,"
            " downloads) VALUES ('local', $day, 'acme', 'pip', false, false, $b, $distro, $n)",
            {"day": OLD_DAY, "b": breakdown, "distro": distro, "n": downloads},
        )
    con.execute("INSERT INTO coverage VALUES ('local', 'acme', $day, now()::TIMESTAMP)", {"day": OLD_DAY})
    con.close()


OLD_AND_NEW = [
    *installs(OLD_DAY, "Linux", "Ubuntu", 5),
    *installs(OLD_DAY, "Windows", None, 8),
    *installs(NEW_DAY, "Linux", "Ubuntu", 4),
    *installs(NEW_DAY, "Windows", None, 3),
]


def test_days_fetched_before_distro_rows_carried_the_os_are_not_counted_and_the_table_says_how_many_days_it_covers(
    tmp_path: Path,
) -> None:
    make_old_store(tmp_path / "store.duckdb")
    site = make_site(tmp_path, OLD_AND_NEW)  # fetches NEW_DAY; OLD_DAY is held, in the old shape
    assert json_rows(site) == [("Ubuntu", 4)]
    assert json_table(site)["caption"].endswith(", counting 1 of its 30 days")
    page = " ".join("".join(parse((site / "packages/acme/index.html").read_text(encoding="utf-8")).text).split())
    assert "Not counted: 1 day of this window, fetched before these rows carried the operating system" in page
    assert "--refresh" in page
    assert "refetch_days = 30" in page


def test_a_refetch_brings_the_old_days_back_into_the_linux_distribution_table(tmp_path: Path) -> None:
    make_old_store(tmp_path / "store.duckdb")
    site = make_site(tmp_path, OLD_AND_NEW, refresh=True)
    assert json_rows(site) == [("Ubuntu", 9)]
    assert "counting" not in json_table(site)["caption"]
    assert "Not counted" not in (site / "packages/acme/index.html").read_text(encoding="utf-8")


def test_an_old_store_exports_read_only_and_its_export_loads_with_its_days_marked_old(tmp_path: Path) -> None:
    make_old_store(tmp_path / "store.duckdb")
    cfg = write_config(tmp_path / "stats.toml", write_events(tmp_path / "events", OLD_AND_NEW), ["acme"], AS_OF)
    export = tmp_path / "export"
    assert cli.main(["export-store", "--config", str(cfg), "--out", str(export)]) == 0
    with open_store(tmp_path / "store.duckdb", read_only=True) as old:  # not upgraded: still no shape column
        assert old.held_days(["acme"]) == {"acme": {"local": {OLD_DAY: OLD_SHAPE}}}
    with open_store(tmp_path / "fresh.duckdb") as fresh:
        fresh.load_export(export)
        assert fresh.held_days(["acme"]) == {"acme": {"local": {OLD_DAY: OLD_SHAPE}}}


def test_a_store_records_the_shape_of_the_days_it_fetches(tmp_path: Path) -> None:
    make_old_store(tmp_path / "store.duckdb")
    make_site(tmp_path, OLD_AND_NEW)
    with open_store(tmp_path / "store.duckdb", read_only=True) as store:
        assert store.held_days(["acme"])["acme"]["local"] == {OLD_DAY: OLD_SHAPE, NEW_DAY: dimensions.ROWS_SHAPE}
