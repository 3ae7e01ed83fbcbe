"""The store's rows for package pages: for many packages, one sorted pass over the aggregates.

The aggregates table is in the order rows were fetched (by day), not by package: a query for one
package touches nearly every block of the table, so reading packages one at a time costs
packages x table size, which grows with the square of the portfolio (a thousand packages: a fifth
of a second per package, more than its charts). Instead the build reads every package it renders in
one query sorted by package, streamed in batches with a bounded memory, and hands each package's rows
to a page worker as an Arrow table. `read_package` reads one package the same way (tests, tools).
"""

from __future__ import annotations

import datetime as dt
import struct
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from itertools import compress, repeat
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from generator import analysis, api, dimensions
from generator.dates import Window, last_days
from generator.errors import StoreError
from generator.sources import ALL_CAPABILITIES
from generator.store import PAGE_COLUMNS, AggRow, Store

STREAM_MEMORY = "256MB"
"""DuckDB's memory limit while it sorts the rows (it spills to disk beyond it)."""
BATCH_ROWS = 50_000
ORDER = ("day", "breakdown", "value", "within", "installer", "ci", "python_malformed", "source")
"""A total order of one package's rows (the aggregate key): the same rows in the same order every build."""
ALL_DAYS = (dimensions.VERSION.name,)
"""The breakdowns a page reads over every day (the releases), not only the last 30."""
API_BREAKDOWNS = tuple(d.name for d in dimensions.DIMENSIONS if d.api)
"""The breakdowns pypistats.org's API documents read, over its 181 retained days."""


@dataclass
class PackageRows:
    """Everything one package page reads from the store."""

    history: list[AggRow]
    """Total rows of the page's source, every day up to the as-of date."""
    month: list[AggRow]
    """Breakdown rows of the page's source in the last 30 days."""
    versions: list[AggRow]
    """Package-version rows of the page's source, every day."""
    retained: list[AggRow]
    """Rows of the page's source in pypistats.org's 181 retained days (the API documents)."""
    covered: set[dt.date]
    shapes: dict[dt.date, int]
    """The shape of each covered day's rows (dimensions.ROWS_SHAPE; older days lack what newer rows carry)."""
    others: dict[str, tuple[list[AggRow], set[dt.date]]]
    """Other sources' total rows and covered days (the cross-check)."""


Coverage = dict[str, dict[str, dict[dt.date, int]]]
"""project → source → the days the store holds for it, each with its rows' shape (Store.held_days)."""


def stream(store: Store, source: str, projects: Iterable[str], as_of: dt.date) -> Iterator[tuple[str, pa.Table]]:
    """(project, its rows) for every project given, in name order; an empty table for one without rows.

    Every row a page, its API documents and its cross-check read: total rows of every source (all
    days), version rows (all days), every breakdown in the last 30 days, and pypistats.org's
    breakdowns (Python version, OS) over its 181 retained days.
    """
    wanted = sorted(set(projects))
    if not wanted:
        return
    batches = store.page_rows(
        source,
        wanted,
        as_of,
        month_start=last_days(as_of, analysis.HONEST_DAYS).start,
        all_days=ALL_DAYS,
        retained=API_BREAKDOWNS,
        retained_start=api.retention_window(as_of).start,
        batch_rows=BATCH_ROWS,
        memory_limit=STREAM_MEMORY,
    )
    pending = iter(wanted)
    carry: list[pa.RecordBatch] = []
    carry_project: str | None = None
    try:
        for batch in batches:
            runs = pc.run_end_encode(batch.column(0))
            start = 0
            for end, project in zip(runs.run_ends.to_pylist(), runs.values.to_pylist(), strict=True):
                piece = batch.slice(start, end - start).drop_columns(["project"])
                start = end
                if project == carry_project:
                    carry.append(piece)
                    continue
                if carry_project is not None:
                    yield from _emit(pending, carry_project, carry)
                carry_project, carry = project, [piece]
    finally:
        batches.close()  # puts the store's settings back, even when the caller stops early
    if carry_project is not None:
        yield from _emit(pending, carry_project, carry)
    for project in pending:
        yield project, _empty()


def _emit(pending: Iterator[str], project: str, batches: list[pa.RecordBatch]) -> Iterator[tuple[str, pa.Table]]:
    for name in pending:  # projects without rows come before this one in name order
        if name == project:
            yield project, _compact(batches)
            return
        yield name, _empty()
    raise StoreError(f"package {project!r} streamed out of order")  # cannot happen: the query sorts by project


def _compact(batches: list[pa.RecordBatch]) -> pa.Table:
    """One package's pieces of the stream's batches, copied into a table of their own.

    A piece is a slice of a 50,000-row batch, and a pickled slice carries its whole batch: sent to
    a page worker as it is, a package of 9,000 rows weighed 2.7 MB instead of 0.4 MB (2.8 GB through
    the pipes at 1,000 packages), and pickling and unpickling it cost five times the copy made here.
    """
    return pa.Table.from_batches([pa.concat_batches(batches)])


def _empty() -> pa.Table:
    return pa.table({name: pa.nulls(0) for name in PAGE_COLUMNS})


def partition(rows: pa.Table, covered: Mapping[str, Mapping[dt.date, int]], source: str, as_of: dt.date) -> PackageRows:
    """One package's Arrow rows (from `stream`) and coverage, split into what each part of its page reads."""
    month = last_days(as_of, analysis.HONEST_DAYS)
    retained = api.retention_window(as_of)
    parts: dict[str, list[AggRow]] = {"history": [], "month": [], "versions": [], "retained": []}
    theirs: dict[str, list[AggRow]] = defaultdict(list)
    if rows.num_rows:
        rows = rows.sort_by([(name, "ascending") for name in ORDER])
        every = agg_rows([_pylist(rows.column(name)) for name in PAGE_COLUMNS[1:]])
        own = pc.equal(rows.column("source"), _scalar(source))
        # Each part's rows picked by an Arrow mask: four Python passes over ten thousand rows cost more.
        for part, mask in _parts(rows, own, month.start, retained.start).items():
            parts[part] = list(compress(every, mask.to_pylist()))
        if not pc.all(own).as_py():
            for src, row in zip(rows.column("source").to_pylist(), every, strict=True):
                if src != source:
                    theirs[src].append(row)
    days = {src: {d for d in held if d <= as_of} for src, held in covered.items()}
    return PackageRows(
        **parts,
        covered=days.get(source, set()),
        shapes={d: shape for d, shape in covered.get(source, {}).items() if d <= as_of},
        others={src: (theirs.get(src, []), held) for src, held in sorted(days.items()) if src != source},
    )


def _parts(rows: pa.Table, own: pa.ChunkedArray, month_start: dt.date, retained_start: dt.date) -> dict[str, Any]:
    """Which of the page source's (`own`) rows each part of PackageRows holds, as boolean columns."""
    kind, day = rows.column("breakdown"), rows.column("day")
    total = pc.equal(kind, _scalar(dimensions.TOTAL))
    return {
        "history": pc.and_(own, total),
        "month": pc.and_(own, pc.and_(pc.invert(total), pc.greater_equal(day, _scalar(month_start)))),
        "versions": pc.and_(own, pc.equal(kind, _scalar(dimensions.VERSION.name))),
        "retained": pc.and_(own, pc.greater_equal(day, _scalar(retained_start))),
    }


_EPOCH = dt.date(1970, 1, 1)


def _scalar(value: str | dt.date) -> pa.Scalar[Any]:
    """An Arrow string or date32 scalar, made from its bytes rather than converted from Python.

    pyarrow's conversion of a Python value (`pa.scalar`, `pa.array`, a bare value given to `pc`)
    first imports pandas when it is installed, to recognise pandas objects: 0.2-0.3 s, once per page
    worker, and in a rebuild of a few pages on the build's own critical path. Nothing here needs it.
    """
    if isinstance(value, str):
        data = value.encode("utf-8")
        buffers = [None, pa.py_buffer(struct.pack("<ii", 0, len(data))), pa.py_buffer(data)]
        return pa.Array.from_buffers(pa.string(), 1, buffers)[0]
    return pa.Array.from_buffers(pa.date32(), 1, [None, pa.py_buffer(struct.pack("<i", (value - _EPOCH).days))])[0]


_FIELDS = tuple(f.name for f in fields(AggRow))
_SET_FIELD = tuple(getattr(AggRow, name).__set__ for name in _FIELDS) if hasattr(AggRow, "__slots__") else ()
"""Each field's slot setter: what AggRow's own __init__ does for each field, without a Python call per field."""


def agg_rows(columns: Sequence[Sequence[Any]]) -> list[AggRow]:
    """AggRows from their columns (AggRow's fields, in order): the rows `AggRow(*fields)` would make.

    A page reads ten thousand rows or so. A frozen dataclass sets each field in `__init__` through
    `object.__setattr__`, seven Python-level calls a row: a sixth of a page's CPU. AggRow has slots,
    so here the rows are made empty and filled a column at a time by each slot's setter, the loops
    running in C. (A class without slots, or with a `__post_init__`, gets its `__init__`.)
    """
    if not _SET_FIELD or hasattr(AggRow, "__post_init__") or len(columns) != len(_FIELDS):
        return [AggRow(*values) for values in zip(*columns, strict=True)]
    count = len(columns[0])
    rows = list(map(object.__new__, repeat(AggRow, count)))
    for set_field, column in zip(_SET_FIELD, columns, strict=True):
        if len(column) != count:
            raise ValueError("columns of different lengths")
        deque(map(set_field, rows, column), maxlen=0)
    return rows


def _pylist(column: pa.ChunkedArray) -> list[Any]:
    """A column's values as Python objects; a day column's through its distinct values.

    A package's rows share a few hundred days: converting each distinct day once, and pointing
    every row at it, is a tenth of the cost of a `date` object per row.
    """
    if not pa.types.is_date(column.type) or column.null_count:
        values: list[Any] = column.to_pylist()
        return values
    encoded = pc.dictionary_encode(column.combine_chunks())
    days = encoded.dictionary.to_pylist()
    return [days[i] for i in encoded.indices.to_pylist()]


def report(
    project: str,
    rows: PackageRows,
    *,
    as_of: dt.date,
    store_window: Window,
    source: str,
    capabilities: frozenset[str] = ALL_CAPABILITIES,
    uploads: Mapping[str, dt.datetime | None] | None = None,
) -> analysis.PackageReport:
    """One package's analysis from the rows its page reads (pure: no store access).

    `capabilities` are the source's: what it lacks is marked unavailable on the page. Other
    sources' total rows for the package, if the store holds any, feed the per-day cross-check.
    """
    return analysis.analyse(
        project,
        as_of,
        rows.history,
        rows.month,
        rows.versions,
        rows.covered,
        store_window,
        shapes=rows.shapes,
        source=source,
        capabilities=capabilities,
        others=rows.others,
        retained=rows.retained,
        uploads=uploads,
    )


def read_package(store: Store, source: str, project: str, as_of: dt.date) -> PackageRows:
    """One package's rows, read on their own."""
    ((_, rows),) = list(stream(store, source, [project], as_of))
    return partition(rows, store.held_days([project])[project], source, as_of)
