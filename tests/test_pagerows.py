"""A package's Arrow rows become the AggRows its page reads, field for field, whatever the nulls."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import pickle
import subprocess
import sys
from collections.abc import Iterator

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import pagerows
from generator.store import PAGE_COLUMNS, AggRow

AS_OF = dt.date(2026, 3, 31)
DAYS = [AS_OF - dt.timedelta(days=n) for n in (0, 0, 1, 40, 200, 1)]
ROWS = [
    # source, day, installer, ci, python_malformed, breakdown, value, downloads, within
    ("local", DAYS[0], "pip", False, False, "total", None, 10, None),
    ("local", DAYS[1], None, None, False, "total", None, 3, None),
    ("local", DAYS[2], "uv", True, True, "python_minor", "3.12", 7, None),
    ("local", DAYS[3], "pip", None, False, "version", "1.0", 2, None),
    ("local", DAYS[2], "pip", False, False, "distro", "Ubuntu", 4, "Linux"),
    ("local", DAYS[4], "bandersnatch", None, False, "total", None, 5, None),
    ("clickpy", DAYS[5], None, None, False, "total", None, 99, None),
]


def arrow(rows: list[tuple]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    return pa.table({name: list(values) for name, values in zip(PAGE_COLUMNS, columns, strict=True)})


def test_rows_read_from_arrow_are_the_rows_their_fields_make() -> None:
    rows = pagerows.partition(
        arrow(ROWS), {"local": dict.fromkeys(DAYS, 1), "clickpy": dict.fromkeys(DAYS, 1)}, "local", AS_OF
    )
    made = sorted((AggRow(*r[1:]) for r in ROWS if r[0] == "local"), key=lambda r: (r.day, r.breakdown))
    read = sorted(rows.history + rows.month + rows.versions, key=lambda r: (r.day, r.breakdown))
    assert read == made  # each of the page's source's rows once, in the part that reads it
    assert [type(r) for r in read if type(r) is not AggRow] == []
    for got in read:
        want = next(r for r in made if r == got)
        assert dataclasses.astuple(got) == dataclasses.astuple(want)
        assert hash(got) == hash(want)
    assert rows.others["clickpy"][0] == [AggRow(*ROWS[-1][1:])]
    with pytest.raises(dataclasses.FrozenInstanceError):
        read[0].downloads = 1  # still frozen


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["local", "local", "clickpy"]),
            st.sampled_from([AS_OF - dt.timedelta(days=n) for n in (0, 1, 29, 30, 31, 179, 180, 181, 400)]),
            st.sampled_from(["pip", None, "bandersnatch"]),
            st.sampled_from([True, False, None]),
            st.booleans(),
            st.sampled_from(["total", "version", "python_minor", "country"]),
            st.sampled_from([None, "1.0", "3.12"]),
            st.integers(min_value=0, max_value=1000),
            st.just(None),
        ),
        max_size=40,
    )
)
def test_each_part_holds_the_rows_its_rule_picks_in_the_rows_order(rows: list[tuple]) -> None:
    """History: the source's totals; month: its breakdown rows of the last 30 days; versions: its
    version rows; retained: its rows of pypistats.org's 181 dates; others: other sources' rows."""
    table = arrow(rows) if rows else pagerows._empty()
    got = pagerows.partition(table, {"local": {}, "clickpy": {}}, "local", AS_OF)
    ordered = [tuple(r.values()) for r in table.sort_by([(k, "ascending") for k in pagerows.ORDER]).to_pylist()]
    mine = [AggRow(*r[1:]) for r in ordered if r[0] == "local"]
    month_start, retained_start = AS_OF - dt.timedelta(days=29), AS_OF - dt.timedelta(days=180)
    assert got.history == [r for r in mine if r.breakdown == "total"]
    assert got.month == [r for r in mine if r.breakdown != "total" and r.day >= month_start]
    assert got.versions == [r for r in mine if r.breakdown == "version"]
    assert got.retained == [r for r in mine if r.day >= retained_start]
    assert got.others["clickpy"][0] == [AggRow(*r[1:]) for r in ordered if r[0] == "clickpy"]


def test_rows_are_made_column_by_column_as_their_constructor_makes_them() -> None:
    columns = [list(c) for c in zip(*(r[1:] for r in ROWS), strict=True)]
    assert pagerows.agg_rows(columns) == [AggRow(*r[1:]) for r in ROWS]
    assert pagerows.agg_rows([[] for _ in columns]) == []
    with pytest.raises(ValueError):
        pagerows.agg_rows([c[:2] if i == 3 else c for i, c in enumerate(columns)])


class OneBatchStore:
    """A store whose sorted page rows come in one batch, as DuckDB's stream hands out 50,000 rows at a time."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch

    def page_rows(self, *args: object, **kwargs: object) -> Iterator[pa.RecordBatch]:
        yield self.batch


def test_a_streamed_package_carries_its_own_rows_not_the_batch_it_was_cut_from() -> None:
    # Each package goes to a page worker pickled: a slice would carry the whole batch with it.
    sizes = {"big": 5_000, "small": 10}
    rows = [(project, *ROWS[0]) for project, count in sorted(sizes.items()) for _ in range(count)]
    columns = list(zip(*rows, strict=True))
    batch = pa.record_batch([pa.array(values) for values in columns], names=["project", *PAGE_COLUMNS])
    streamed = dict(pagerows.stream(OneBatchStore(batch), "local", sizes, AS_OF))  # type: ignore[arg-type]  # a stand-in: stream reads only page_rows
    assert streamed["small"].num_rows == sizes["small"]
    assert len(pickle.dumps(streamed["small"])) * 50 < len(pickle.dumps(streamed["big"]))


def _blocks_kept(store) -> str:  # noqa: ANN001
    return store.con.execute("SELECT current_setting('block_allocator_memory')").fetchone()[0]


def test_the_store_keeps_memory_blocks_up_to_the_largest_size_asked(tmp_path) -> None:
    """DuckDB refuses to lower its kept blocks: a smaller size keeps the larger, and a bad size is refused."""
    from generator.store import open_store

    with open_store(tmp_path / "store.duckdb") as store:
        store.keep_blocks("512MB")
        kept = _blocks_kept(store)
        assert kept != "0 bytes"
        store.keep_blocks("256MB")
        assert _blocks_kept(store) == kept
        with pytest.raises(ValueError, match="not a memory size"):
            store.keep_blocks("512MB'; DROP TABLE meta; --")


def test_the_store_works_in_as_many_threads_as_it_is_given(tmp_path) -> None:
    """While pages render, the build leaves the cores to the page workers (build.STORE_THREADS)."""
    from generator.store import open_store

    with open_store(tmp_path / "store.duckdb") as store:
        for threads in (3, 1):
            store.limit_threads(threads)
            assert store.con.execute("SELECT current_setting('threads')").fetchone() == (threads,)
        with pytest.raises(ValueError, match="at least one thread"):
            store.limit_threads(0)


_NO_PANDAS = """
import datetime as dt, sys
import duckdb
from generator import pagerows
rows = duckdb.sql(
    "SELECT * FROM (VALUES ('local', DATE '2026-03-31', 'pip', false, false, 'total', NULL, 10::BIGINT, NULL),"
    " ('local', DATE '2026-03-30', 'uv', true, false, 'version', '1.0', 2::BIGINT, NULL),"
    " ('clickpy', DATE '2026-03-30', NULL, NULL, false, 'total', NULL, 99::BIGINT, NULL))"
    " AS t(source, day, installer, ci, python_malformed, breakdown, value, downloads, within)"
).to_arrow_table()
got = pagerows.partition(rows, {"local": {}}, "local", dt.date(2026, 3, 31))
assert [r.downloads for r in got.history] == [10], got.history
assert [r.downloads for r in got.versions] == [2], got.versions
pagerows.partition(pagerows._empty(), {}, "local", dt.date(2026, 3, 31))
print(sorted(m for m in sys.modules if m.split(".")[0] == "pandas")[:3])
"""


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pyarrow imports pandas only where installed")
def test_a_page_worker_never_makes_pyarrow_import_pandas() -> None:
    """pyarrow imports pandas (0.2-0.3 s) on its first conversion of a Python value; partition makes none."""
    done = subprocess.run([sys.executable, "-c", _NO_PANDAS], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
