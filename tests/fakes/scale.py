"""Synthetic events at the public table's scale, for the BigQuery fake (benchmarks and the multi-run test).

Each stored event stands for `row_weight` real ones, so a day holds as many rows as the cost model's
`FACT_ROWS_PER_DAY`; project popularity is log-uniform over `N_PROJECTS` projects (rank r gets a
share of about 1 / (r ln N)); value lengths follow the real table's (short project names, "pip",
"3.11.4", "bdist_wheel"...). Everything is generated in DuckDB SQL from our own constants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from generator import cost

from .bigquery_server import FILE_DOWNLOADS, EventsQuery, FakeBigQuery, duck_type

N_PROJECTS = 2000
ROWS_PER_REAL_DAY = cost.FACT_ROWS_PER_DAY


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


def events_sql(first: dt.date, last: dt.date, rows_per_day: int, weekend_share: float = 1.0) -> str:
    """`rows_per_day` events a day from `first` to `last` in the file_downloads schema, in pure SQL.

    `weekend_share` < 1 stores fewer rows on Saturdays and Sundays (real weekend volume is ~70%)."""
    columns = ['CAST(day AS TIMESTAMPTZ) + to_microseconds(CAST(hash(h, 0) % 86400000000 AS BIGINT)) AS "timestamp"']
    columns += [
        f'{_column_sql(spec, (name,))} AS "{name}"' for name, spec in FILE_DOWNLOADS.items() if name != "timestamp"
    ]
    # Log-uniform popularity: rank = N ** u, so rank r gets a share of about 1 / (r ln N).
    rank = f"CAST(floor(pow({N_PROJECTS}, (hash(d.day, r.i) % 1000000) / 1000000.0)) AS INTEGER)"
    keep = f"r.i < {int(rows_per_day)} * (CASE WHEN dayofweek(d.day) IN (0, 6) THEN {float(weekend_share)} ELSE 1 END)"
    return (
        f"SELECT {', '.join(columns)} FROM ("  # noqa: S608 - our own constants
        f" SELECT CAST(d.day AS DATE) AS day, hash(d.day, r.i, 'h') AS h, 'p' || {rank} AS name"
        f" FROM range(DATE '{first}', DATE '{last}' + INTERVAL 1 DAY, INTERVAL 1 DAY) d(day),"
        f" range(0, {int(rows_per_day)}) r(i) WHERE {keep})"
    )


def packages(n: int) -> tuple[str, ...]:
    """`n` packages spread from rank 20 (popular) to rank 1,901 (small)."""
    ranks = [20 + 19 * k for k in range(100)]
    step = len(ranks) // n
    return tuple(f"p{r}" for r in ranks[::step][:n])


def real_scale_fake(
    first: dt.date, last: dt.date, *, rows_per_day: int, block_rows: int, **kwargs: Any
) -> FakeBigQuery:
    """A fake over `events_sql`, each stored row weighted to stand for the real table's rows."""
    weight = ROWS_PER_REAL_DAY / rows_per_day
    return FakeBigQuery(
        EventsQuery(events_sql(first, last, rows_per_day, kwargs.pop("weekend_share", 1.0))),
        block_rows=block_rows,
        row_weight=weight,
        **kwargs,
    )
