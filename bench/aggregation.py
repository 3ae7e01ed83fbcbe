"""Aggregation throughput of the local source against DuckDB running the same aggregation bare.

    python -m bench.aggregation [--sizes 10,50] [--repeat 3]

"Ours" is the real path: LocalSource over the Parquet files (schema-normalising view, the
canonical BigQuery SQL transpiled by sqlglot, result cast to the store schema, as Arrow).
"Bare" is the same GROUPING SETS aggregation written by hand in DuckDB SQL straight over
`read_parquet`, with no view, no transpiling and no casting: the engine's own limit for this
work. A plain three-column GROUP BY is printed too, to show what the nine grouping sets cost.
Target: ours ≥ 0.5 × bare (events per second).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Measurement, best_of, ensure_events, print_table  # noqa: E402
from generator import dimensions  # noqa: E402
from generator.dates import Window  # noqa: E402
from generator.plan import Job  # noqa: E402
from generator.sources.local import LocalSource  # noqa: E402

# The canonical aggregation, hand-written for DuckDB over raw Parquet (reference only). Each dimension
# column's expression is written here, bare; which columns there are and their grouping sets are read
# from the breakdown registry (generator/dimensions.py), as daily_aggregates.sql's are.
BASE_COLUMNS = ("day", "project", "installer", "ci", "python_malformed")
BARE_EXPRESSIONS = {
    "day": "CAST(timestamp AS DATE)",
    "project": "project",
    "installer": "details.installer.name",
    "ci": "coalesce(details.ci, false)",
    "python_malformed": "coalesce(NOT regexp_matches(details.python, '^[0-9]\\.[0-9]+.{0,}$'), false)",
    "installer_major": "regexp_extract(details.installer.version, '^([0-9]+)', 1)",
    "python_minor": "regexp_extract(details.python, '^([0-9]+\\.[0-9]+)', 1)",
    "implementation": "details.implementation.name",
    "system": "details.system.name",
    "distro": "details.distro.name",
    "country": "country_code",
    "file_type": "file.type",
    "version": "file.version",
}


def bare_sql() -> str:
    """GROUPING SETS over raw Parquet: the totals' set, then one set per registered breakdown."""
    columns = (*BASE_COLUMNS, *dimensions.COLUMNS)
    missing = [c for c in columns if c not in BARE_EXPRESSIONS]
    if missing:
        raise SystemExit(f"bench/aggregation.py: no bare DuckDB expression for {missing}; add it to BARE_EXPRESSIONS")
    projection = ",\n    ".join(f"{BARE_EXPRESSIONS[c]} AS {c}" for c in columns)
    sets = [BASE_COLUMNS, *((*BASE_COLUMNS, *d.group_columns) for d in dimensions.DIMENSIONS)]
    grouping = ",\n  ".join("(" + ", ".join(s) + ")" for s in sets)
    select = f"SELECT {', '.join(columns)}, count(*) AS downloads"
    grouped = f"GROUP BY GROUPING SETS (\n  {grouping}\n)\n"
    events = f"WITH events AS (\n  SELECT {projection}\n  FROM read_parquet($files)\n)\n"  # noqa: S608 - constant names only
    return events + select + "\nFROM events\n" + grouped


PLAIN_SQL = (
    "SELECT CAST(timestamp AS DATE), project, details.installer.name, count(*) FROM read_parquet($files) GROUP BY ALL"
)


def measure(events_dir: Path, packages: list[str], start: dt.date, end: dt.date, repeat: int) -> list[Measurement]:
    files = [str(p) for p in sorted(events_dir.glob("*.parquet"))]
    n_events = duckdb.sql("SELECT count(*) FROM read_parquet($files)", params={"files": files}).fetchall()[0][0]
    job = Job(Window(start, end), tuple(packages))

    def ours() -> None:
        source = LocalSource(events_dir)
        try:
            source.fetch(job)
        finally:
            source.close()

    def bare() -> None:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.sql(bare_sql(), params={"files": files}).to_arrow_table()

    def plain() -> None:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.sql(PLAIN_SQL, params={"files": files}).to_arrow_table()

    t_ours, t_bare, t_plain = best_of(ours, repeat), best_of(bare, repeat), best_of(plain, repeat)
    label = f"{n_events / 1e6:.0f}M events"
    return [
        Measurement(
            f"aggregate {label}: ours vs same SQL bare",
            f"{n_events / t_ours / 1e6:.2f} M ev/s",
            f"{n_events / t_bare / 1e6:.2f} M ev/s",
            t_bare / t_ours,
            ">= 0.5",
            t_bare / t_ours >= 0.5,
        ),
        Measurement(
            f"aggregate {label}: ours vs plain 3-column GROUP BY",
            f"{t_ours:.2f} s",
            f"{t_plain:.2f} s",
            t_plain / t_ours,
            "(info)",
            True,
        ),
    ]


def run(sizes: list[int], repeat: int) -> list[Measurement]:
    out: list[Measurement] = []
    for millions in sizes:
        events_dir, packages, start, end = ensure_events(millions)
        out += measure(events_dir, packages, start, end, repeat)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50", help="millions of events, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rows = run([int(s) for s in args.sizes.split(",")], args.repeat)
    print_table("Aggregation throughput", rows)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
