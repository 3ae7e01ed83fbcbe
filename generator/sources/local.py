"""The local source: the canonical SQL on embedded DuckDB over files in the file_downloads schema.

Input is a directory of Parquet and newline-delimited JSON files (`.json`, `.jsonl`, `.ndjson`, each
plain or gzip-compressed as `.gz`: a BigQuery export to Cloud Storage writes `.json` or `.json.gz`),
found in every subfolder (hive-style `date=2024-11-01/` folders too), suffixes in any case. Any
other file is named in a warning, never skipped silently; hidden files (`.gitkeep`) are ignored.
Rows are nested as BigQuery exports them. Missing fields are NULL. Timestamps may be BigQuery's
export text (`2024-11-07 03:57:04.000000 UTC`) or ISO 8601 with an offset; they are read as text
and cast, so both work. The data's `project` is PEP 503-normalized (`Foo_Bar` is `foo-bar`), as the
config's names are, before it is matched.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeAlias

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from generator import queries
from generator.errors import SourceError
from generator.plan import Job
from generator.sources import FetchResult
from generator.sql import to_duckdb
from generator.store import AGGREGATE_COLUMNS

VIEW = "file_downloads"
SYNTHETIC_MARKER = "SYNTHETIC.json"
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
GZIP_SUFFIX = ".gz"
EVENT_FILES = ".parquet, or .json, .jsonl or .ndjson (each optionally .gz)"
log = logging.getLogger(__name__)

FieldType: TypeAlias = "str | dict[str, FieldType]"
"""A column's DuckDB type: a type's name, or a STRUCT's fields by name."""

# The file_downloads schema (contract), as nested DuckDB types. Leaves are types; dicts are STRUCTs.
SCHEMA: dict[str, FieldType] = {
    "timestamp": "TIMESTAMPTZ",
    "country_code": "VARCHAR",
    "url": "VARCHAR",
    "project": "VARCHAR",
    "file": {"filename": "VARCHAR", "project": "VARCHAR", "version": "VARCHAR", "type": "VARCHAR"},
    "details": {
        "installer": {"name": "VARCHAR", "version": "VARCHAR"},
        "python": "VARCHAR",
        "implementation": {"name": "VARCHAR", "version": "VARCHAR"},
        "distro": {
            "name": "VARCHAR",
            "version": "VARCHAR",
            "id": "VARCHAR",
            "libc": {"lib": "VARCHAR", "version": "VARCHAR"},
        },
        "system": {"name": "VARCHAR", "release": "VARCHAR"},
        "cpu": "VARCHAR",
        "openssl_version": "VARCHAR",
        "setuptools_version": "VARCHAR",
        "rustc_version": "VARCHAR",
        "ci": "BOOLEAN",
    },
    "tls_protocol": "VARCHAR",
    "tls_cipher": "VARCHAR",
}


def holds_synthetic_events(directory: Path) -> bool:
    """The events folder is the synthetic generator's (its marker): never PyPI's logs, never sent anywhere."""
    return (Path(directory) / SYNTHETIC_MARKER).is_file()


def duck_type(spec: FieldType) -> str:
    """The DuckDB type string for a schema node."""
    if isinstance(spec, dict):
        return "STRUCT(" + ", ".join(f'"{k}" {duck_type(v)}' for k, v in spec.items()) + ")"
    return spec


def _json_columns() -> dict[str, str]:
    # Timestamps are read as text and cast after, so both export forms are accepted.
    return {k: ("VARCHAR" if k == "timestamp" else duck_type(v)) for k, v in SCHEMA.items()}


def _same_type(spec: FieldType, arrow_type: pa.DataType) -> bool:
    """True when a Parquet column already has `spec`'s type, field for field and in order."""
    if isinstance(spec, dict):
        return (
            pa.types.is_struct(arrow_type)
            and arrow_type.num_fields == len(spec)
            and all(
                arrow_type.field(i).name == name and _same_type(child, arrow_type.field(i).type)
                for i, (name, child) in enumerate(spec.items())
            )
        )
    if spec == "TIMESTAMPTZ":
        return pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None
    if spec == "VARCHAR":
        return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))
    if spec == "BOOLEAN":
        return bool(pa.types.is_boolean(arrow_type))
    return False


def _field_expr(ref: str, spec: FieldType, arrow_type: pa.DataType | None) -> str:
    """A projection that yields `spec`'s type from a column that may lack fields or be absent."""
    if arrow_type is None:
        return f"NULL::{duck_type(spec)}"
    if _same_type(spec, arrow_type):
        # The column as it is: DuckDB then reads only the nested fields the query uses. Rebuilding
        # the struct with struct_pack would make it read every field of every row (a third of the
        # aggregation's time on BigQuery-shaped exports).
        return ref
    if isinstance(spec, dict):
        if not pa.types.is_struct(arrow_type):
            return f"NULL::{duck_type(spec)}"
        present = {arrow_type.field(i).name: arrow_type.field(i).type for i in range(arrow_type.num_fields)}
        parts = [f'"{k}" := {_field_expr(_child(ref, k), v, present.get(k))}' for k, v in spec.items()]
        return "struct_pack(" + ", ".join(parts) + ")"
    if spec == "TIMESTAMPTZ" and pa.types.is_timestamp(arrow_type) and arrow_type.tz is None:
        # A naive Parquet timestamp is UTC by BigQuery's export convention.
        return f"timezone('UTC', {ref})"
    return f"CAST({ref} AS {spec})"


def _normalized_project(ref: str) -> str:
    """PEP 503 in SQL, as generator.config.normalize_name: runs of - _ . become one -, lower-cased."""
    return f"lower(regexp_replace({ref}, '[-_.]+', '-', 'g'))"


# Timestamps are cast from text after reading; every other column is read as typed.
def _quote(name: str) -> str:
    return f'"{name}"'


_JSON_SELECT = ", ".join(
    "TRY_CAST(timestamp AS TIMESTAMPTZ) AS timestamp"
    if k == "timestamp"
    else (f'{_normalized_project(_quote(k))} AS "project"' if k == "project" else f'"{k}"')
    for k in SCHEMA
)


def _child(ref: str, key: str) -> str:
    return f'{ref}."{key}"'


def _parquet_projection(path: Path) -> str:
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's data problem
        raise SourceError(f"{path}: not a readable Parquet file ({_short(exc)})") from None
    present = {f.name: f.type for f in schema}
    for required in ("timestamp", "project"):
        if required not in present:
            raise SourceError(f"{path}: column {required!r} is missing (expected the file_downloads schema)")
    columns = {k: _field_expr(_quote(k), v, present.get(k)) for k, v in SCHEMA.items()}
    columns["project"] = _normalized_project(columns["project"])
    return ", ".join(f"{expr} AS {_quote(k)}" for k, expr in columns.items())


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


class LocalSource:
    """Runs the canonical queries over a directory of event files."""

    name = "local"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        if not directory.is_dir():
            raise SourceError(f"{directory}: events directory not found ([source].path in the config)")
        found = event_files(directory)
        self.parquet, self.json, others = found["parquet"], found["json"], found["other"]
        if others:
            shown = ", ".join(str(p.relative_to(directory)) for p in others[:10])
            more = f" and {len(others) - 10} more" if len(others) > 10 else ""
            log.warning(
                "%s: %d file(s) are not event files and were not read: %s%s (event files are %s)",
                directory,
                len(others),
                shown,
                more,
                EVENT_FILES,
            )
        if not self.parquet and not self.json:
            raise SourceError(
                f"{directory}: no event files ({EVENT_FILES}) in it or its subfolders (run `sample` for demo"
                " data, or export rows from bigquery-public-data.pypi.file_downloads)"
            )
        self.synthetic = holds_synthetic_events(directory)
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self._create_view()
        self._available = self._days_with_events()

    # -- reading ------------------------------------------------------------------------
    def _json_relation(self, paths: list[Path]) -> duckdb.DuckDBPyRelation:
        """One relation over JSON files that are all plain or all gzip-compressed."""
        # Paths go through DuckDB's relational API as values, never into SQL text. The compression is
        # named, not guessed from a suffix that may be upper-case; hive-style folder names add no column.
        return self.con.read_json(
            [str(p) for p in paths],
            format="newline_delimited",
            columns=_json_columns(),
            maximum_object_size=16 * 1024 * 1024,
            compression="gzip" if _gzipped(paths[0]) else "none",
            hive_partitioning=False,
        )

    def _parquet_relation(self, path: Path) -> duckdb.DuckDBPyRelation:
        projection = _parquet_projection(path)
        try:
            return self.con.read_parquet(str(path), hive_partitioning=False).select(projection)
        except duckdb.Error as exc:
            raise SourceError(f"{path}: not a readable Parquet file ({_short(exc)})") from None

    def _create_view(self) -> None:
        relations = [self._parquet_relation(p) for p in self.parquet]
        for gzipped in (False, True):
            group = [p for p in self.json if _gzipped(p) == gzipped]
            if group:
                relations.append(self._json_relation(group).select(_JSON_SELECT))
        self._validate()
        view = functools.reduce(lambda a, b: a.union(b), relations)
        view.create_view(VIEW)

    def _validate(self) -> None:
        """Fail on the first malformed file, by name and line, before anything is written."""
        for path in self.json:
            self._check_json_file(path)
        for path in self.parquet:
            try:
                self._parquet_relation(path).aggregate("count(*)").fetchall()
            except duckdb.Error as exc:
                raise SourceError(f"{path}: unreadable Parquet ({_short(exc)})") from None

    def _check_json_file(self, path: Path) -> None:
        try:
            bad = (
                self._json_relation([path])
                .filter("timestamp IS NULL OR TRY_CAST(timestamp AS TIMESTAMPTZ) IS NULL")
                .aggregate("count(*)")
                .fetchall()[0][0]
            )
        except duckdb.Error as exc:
            line, why = _find_bad_json_line(path)
            where = f"line {line}: {why}" if line else _short(exc)
            raise SourceError(f"{path}: malformed event file at {where}") from None
        if bad:
            line, why = _find_bad_json_line(path)
            raise SourceError(f"{path}: malformed event file at line {line}: {why}")

    def _days_with_events(self) -> set[dt.date]:
        # A day with no events at all in the export is "not available", shown as a gap, not zero.
        rows = self.con.execute(f"SELECT DISTINCT CAST(timestamp AS DATE) FROM {VIEW}").fetchall()  # noqa: S608
        return {r[0] for r in rows if r[0] is not None}

    # -- Source protocol ----------------------------------------------------------------
    def fetch(self, job: Job) -> FetchResult:
        """Run the canonical aggregate query for the job's projects and days."""
        # Cast to the store's schema inside the same statement: no second pass over the result.
        casts = ", ".join(f"CAST({name} AS {kind}) AS {name}" for name, kind in AGGREGATE_COLUMNS)
        sql = f"SELECT {casts} FROM ({to_duckdb(queries.load('daily_aggregates'), table=VIEW)})"  # noqa: S608
        params = {"projects": list(job.projects), "start": job.window.start, "end": job.window.end}
        try:
            rows = self.con.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise SourceError(f"local query failed: {_short(exc)}") from None
        return FetchResult(rows=rows, available_days=[d for d in job.window if d in self._available])

    def close(self) -> None:
        self.con.close()


def _find_bad_json_line(path: Path) -> tuple[int, str]:
    """Scan line by line to name the first line DuckDB could not read."""
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            return number, f"not valid JSON ({exc.msg})"
        if not isinstance(obj, dict):
            return number, "not a JSON object"
        why = _check_event(obj)
        if why:
            return number, why
    return 0, "unreadable (no single bad line found)"


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    opener = gzip.open if _gzipped(path) else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        yield from enumerate(fh, start=1)


def _gzipped(path: Path) -> bool:
    return path.name.lower().endswith(GZIP_SUFFIX)


def event_files(directory: Path) -> dict[str, list[Path]]:
    """Every file under `directory`, recursively, sorted into "parquet", "json" and "other".

    Suffixes count in any case; JSON may be gzip-compressed. Hidden files and folders and the
    synthetic data's marker are left out of all three.
    """
    out: dict[str, list[Path]] = {"parquet": [], "json": [], "other": []}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts) or rel.as_posix() == SYNTHETIC_MARKER:
            continue
        name = path.name.lower().removesuffix(GZIP_SUFFIX)
        suffix = Path(name).suffix
        if suffix == ".parquet" and not _gzipped(path):
            out["parquet"].append(path)
        elif suffix in JSON_SUFFIXES:
            out["json"].append(path)
        else:
            out["other"].append(path)
    return out


def _check_event(obj: dict[str, Any]) -> str:
    ts = obj.get("timestamp")
    if not isinstance(ts, str) or not ts:
        return "timestamp is missing or not a string"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if con.execute("SELECT TRY_CAST($t AS TIMESTAMPTZ)", {"t": ts}).fetchall()[0][0] is None:
        return f"timestamp {ts[:60]!r} is neither '2024-11-07 03:57:04 UTC' nor ISO 8601 with an offset"
    for key, spec in SCHEMA.items():
        if isinstance(spec, dict) and obj.get(key) is not None and not isinstance(obj[key], dict):
            return f"{key!r} must be an object"
    return ""
