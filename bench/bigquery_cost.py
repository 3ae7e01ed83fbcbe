"""What our plan costs on BigQuery, against the per-package, per-question queries a pypinfo-style
tool runs to fill the same page. Not a timed test: it prints bytes and dollars.

    python -m bench.bigquery_cost [--rows-per-day 20000] [--block-rows 128]

Everything is measured with the byte accounting of the local BigQuery fake
(tests/fakes/bigquery_server.py), over synthetic events at the public table's scale:
- each stored event stands for `row_weight` real ones, so a day holds ~1.6 billion rows;
- project popularity is log-uniform over 2,000 projects; the 100 packages priced are spread from
  rank 20 to rank 1,901 (a popular package to a small one);
- value lengths follow the real table's (short project names, "pip", "3.11.4", "bdist_wheel"...).

"Ours" is the real path: BigQuerySource.preflight + fetch, through google-cloud-bigquery, over
HTTP, against the fake: one job for all packages and days, ceiling = maximum_bytes_billed.
"pypinfo-style" is what `pypinfo <pkg> <field>` runs: one query per package and question,
filtered on `file.project` (not the clustering column, so it prunes nothing) over the same days;
its ceiling is the rounded dry-run figure and its bill the fake's, from the same accounting.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from generator import config as config_mod  # noqa: E402
from generator import cost  # noqa: E402
from generator.dates import Window  # noqa: E402
from generator.sources import Job  # noqa: E402
from generator.sources.bigquery import BigQuerySource, RetryPolicy  # noqa: E402
from tests.fakes.bigquery_server import FILE_DOWNLOADS, EventsQuery, FakeBigQuery, duck_type  # noqa: E402

LAST_DAY = dt.date(2026, 10, 30)
HISTORY = 30
N_PROJECTS = 2000
PACKAGE_COUNTS = (1, 10, 100)
DAY_COUNTS = (1, 30)
ROWS_PER_REAL_DAY = cost.FACT_ROWS_PER_DAY
PRICE = 6.25

# One pypinfo-style question per breakdown of the page, each by installer, plus the total.
QUESTIONS: dict[str, str | None] = {
    "total": None,
    "installer_version": "details.installer.version",
    "python_minor": r"REGEXP_EXTRACT(details.python, r'^([0-9]+\.[0-9]+)')",
    "implementation": "details.implementation.name",
    "system": "details.system.name",
    "distro": "details.distro.name",
    "country": "country_code",
    "file_type": "file.type",
    "version": "file.version",
}


def pypinfo_sql(expression: str | None) -> str:
    """A pypinfo-shaped query: filtered on file.project; bound parameters, as we require."""
    column = f"{expression} AS value, " if expression else ""
    group = ", value" if expression else ""
    return (
        f"SELECT details.installer.name AS installer_name, {column}COUNT(*) AS download_count\n"  # noqa: S608
        "FROM `bigquery-public-data.pypi.file_downloads`\n"
        "WHERE timestamp BETWEEN TIMESTAMP(@start) AND TIMESTAMP_ADD(TIMESTAMP(@end), INTERVAL 1 DAY)\n"
        "  AND file.project = @project\n"
        f"GROUP BY installer_name{group}"
    )


# -- synthetic events ---------------------------------------------------------------------------------
def _pick(values: list[str | None], salt: int) -> str:
    items = ", ".join("NULL" if v is None else f"'{v}'" for v in values)
    return f"[{items}][1 + CAST(hash(h, {salt}) % {len(values)} AS BIGINT)]"


LEAF_SQL: dict[tuple[str, ...], str] = {
    ("project",): "name",
    ("country_code",): _pick(["US", "US", "DE", "CN", "GB", "JP", "IN", "FR", "BR", None], 1),
    ("url",): "'/packages/' || name || '-1.0-py3-none-any.whl'",
    ("file", "filename"): "name || '-1.0-py3-none-any.whl'",
    ("file", "project"): "name",
    ("file", "version"): _pick(["1.26.18", "2.31.0", "1.0", "0.9.1", "24.1.0"], 2),
    ("file", "type"): _pick(["bdist_wheel", "bdist_wheel", "bdist_wheel", "sdist"], 3),
    ("details", "installer", "name"): _pick(["pip", "pip", "pip", "pip", "uv", "poetry", "bandersnatch", None], 4),
    ("details", "installer", "version"): _pick(["24.0", "23.3.1", "0.4.18", "1.8.2"], 5),
    ("details", "python"): _pick(["3.11.4", "3.12.1", "3.10.12", "3.8.18", None], 6),
    ("details", "implementation", "name"): _pick(["CPython", "CPython", "CPython", "PyPy", None], 7),
    ("details", "distro", "name"): _pick(["Ubuntu", "Debian GNU/Linux", "Amazon Linux", None, None], 8),
    ("details", "system", "name"): _pick(["Linux", "Linux", "Linux", "Windows", "Darwin"], 9),
    ("details", "ci"): "CASE WHEN hash(h, 10) % 5 = 0 THEN TRUE END",
}


def _column_sql(spec: Any, path: tuple[str, ...]) -> str:
    if isinstance(spec, Mapping):
        parts = ", ".join(f'"{k}" := {_column_sql(v, (*path, k))}' for k, v in spec.items())
        return f"struct_pack({parts})"
    return f"CAST({LEAF_SQL[path]} AS {duck_type(spec)})" if path in LEAF_SQL else f"NULL::{duck_type(spec)}"


def events_sql(rows_per_day: int) -> str:
    """`rows_per_day` events a day for HISTORY days, in the file_downloads schema, in pure SQL."""
    first = LAST_DAY - dt.timedelta(days=HISTORY - 1)
    columns = ['CAST(day AS TIMESTAMPTZ) + to_microseconds(CAST(hash(h, 0) % 86400000000 AS BIGINT)) AS "timestamp"']
    columns += [
        f'{_column_sql(spec, (name,))} AS "{name}"' for name, spec in FILE_DOWNLOADS.items() if name != "timestamp"
    ]
    # Log-uniform popularity: rank = N ** u, so rank r gets a share of about 1 / (r ln N).
    rank = f"CAST(floor(pow({N_PROJECTS}, (hash(d.day, r.i) % 1000000) / 1000000.0)) AS INTEGER)"
    return (
        f"SELECT {', '.join(columns)} FROM ("  # noqa: S608 - our own constants
        f" SELECT CAST(d.day AS DATE) AS day, hash(d.day, r.i, 'h') AS h, 'p' || {rank} AS name"
        f" FROM range(DATE '{first}', DATE '{LAST_DAY}' + INTERVAL 1 DAY, INTERVAL 1 DAY) d(day),"
        f" range(0, {int(rows_per_day)}) r(i))"
    )


def packages(n: int) -> tuple[str, ...]:
    ranks = [20 + 19 * k for k in range(100)]
    step = len(ranks) // n
    return tuple(f"p{r}" for r in ranks[::step][:n])


# -- measuring ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cost:
    queries: int
    ceiling: int
    billed: int


def ours(fake: FakeBigQuery, cfg: config_mod.Config, projects: tuple[str, ...], days: int) -> Cost:
    """Our plan: one job for all packages and days, through the real client and the cost guard."""
    job = Job(Window(LAST_DAY - dt.timedelta(days=days - 1), LAST_DAY), projects, config_mod.BREAKDOWNS)
    source = BigQuerySource(
        cfg,
        client=fake.client(),
        run_id="bench",
        retry=RetryPolicy(sleep=lambda s: None),
        today=lambda: LAST_DAY + dt.timedelta(days=1),
    )
    try:
        source.preflight([job])
        result = source.fetch(job)
    finally:
        source.close()
    return Cost(1, result.ceiling_bytes, result.bytes_billed)


def pypinfo_style(fake: FakeBigQuery, projects: tuple[str, ...], days: int) -> Cost:
    """One query per package and question, priced by the fake's accounting (what it would bill)."""
    start = LAST_DAY - dt.timedelta(days=days - 1)
    ceiling = billed = queries = 0
    for project in projects:
        for expression in QUESTIONS.values():
            acct = fake.account(pypinfo_sql(expression), {"project": project, "start": start, "end": LAST_DAY})
            ceiling += cost.billed_ceiling(acct.estimate_bytes)
            billed += acct.billed_bytes
            queries += 1
    return Cost(queries, ceiling, billed)


def check_dry_run_agrees(fake: FakeBigQuery, project: str) -> None:
    """The accounting used for pypinfo-style queries is exactly what a dry run through the client says."""
    from google.cloud import bigquery

    sql = pypinfo_sql(QUESTIONS["country"])
    params = [
        bigquery.ScalarQueryParameter("project", "STRING", project),
        bigquery.ScalarQueryParameter("start", "DATE", LAST_DAY),
        bigquery.ScalarQueryParameter("end", "DATE", LAST_DAY),
    ]
    client = fake.client()
    job = client.query(sql, job_config=bigquery.QueryJobConfig(dry_run=True, query_parameters=params))
    client.close()
    direct = fake.account(sql, {"project": project, "start": LAST_DAY, "end": LAST_DAY}).estimate_bytes
    assert job.total_bytes_processed == direct, (job.total_bytes_processed, direct)


def money(n: int) -> str:
    return f"{cost.format_bytes(n):>10} {cost.format_dollars(cost.dollars(n, PRICE)):>9}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=20_000, help="stored events per day")
    parser.add_argument("--block-rows", type=int, default=128, help="stored rows per cluster block")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    weight = ROWS_PER_REAL_DAY / args.rows_per_day
    fake = FakeBigQuery(
        EventsQuery(events_sql(args.rows_per_day)), block_rows=args.block_rows, row_weight=weight, page_rows=20_000
    ).start()
    with tempfile.TemporaryDirectory() as tmp:
        budget = {"max_bytes_per_query": 1000 * cost.TIB, "max_bytes_per_run": 1000 * cost.TIB}
        raw = {
            "packages": {"names": ["p20"]},
            "source": {"kind": "bigquery", "billing_project": "bench"},
            "budget": budget,
        }
        cfg = config_mod.parse(raw, Path(tmp) / "stats.toml")
        try:
            check_dry_run_agrees(fake, "p20")
            print(
                f"Synthetic table: {HISTORY} days x {args.rows_per_day:,} stored rows a day, each standing for "
                f"{weight:,.0f} (~{ROWS_PER_REAL_DAY / 1e9:.1f} billion rows a day); blocks of {args.block_rows} "
                f"stored rows. ${PRICE}/TiB on-demand.\n"
            )
            header = (
                f"{'pkgs':>4} {'days':>4} | {'ours: jobs':>10} {'ceiling':>20} {'bill':>20} | "
                f"{'pypinfo-style: queries':>22} {'ceiling':>20} {'bill':>20} | {'x ceiling':>9} {'x bill':>7}"
            )
            print(header)
            print("-" * len(header))
            for n in PACKAGE_COUNTS:
                for days in DAY_COUNTS:
                    a = ours(fake, cfg, packages(n), days)
                    b = pypinfo_style(fake, packages(n), days)
                    print(
                        f"{n:>4} {days:>4} | {a.queries:>10} {money(a.ceiling)} {money(a.billed)} | "
                        f"{b.queries:>22} {money(b.ceiling)} {money(b.billed)} | "
                        f"{b.ceiling / a.ceiling:>9.1f} {b.billed / a.billed:>7.1f}"
                    )
        finally:
            fake.stop()
    print(
        "\nceiling = maximum_bytes_billed (rounded dry run: what BigQuery may bill at most); bill = what the "
        "fake's block model bills after cluster pruning (10 MiB minimum per query). x = pypinfo-style / ours."
    )
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
