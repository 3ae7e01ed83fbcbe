"""GoogleSQL's own analyzer and reference engine (ZetaSQL, `pip install zetasql`: a WASM build of
Google's open-source implementation; it runs offline) over the public table's schema.

`analyze(sql, parameter_types)` returns None when ZetaSQL accepts the statement, else its error
message: the fake BigQuery refuses such a statement with `invalidQuery`. Results are cached by
statement text and parameter types (an analysis takes ~0.1 s).

Compiling the 28 MB WASM module takes a minute or more; the compiled module is cached on disk
(`$PYPI_STATS_ZETASQL_CACHE`, default ~/.cache/pypi-stats-site), keyed by the module's hash and
the wasmtime version, so later processes start in about a second.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.fakes.bigquery_server import FILE_DOWNLOADS, Schema

PUBLIC_TABLE_NAME = "bigquery-public-data.pypi.file_downloads"
"""The table as the tool writes it, one backticked path: ZetaSQL reads it as one identifier."""
PARTITIONS_VIEW_NAME = "bigquery-public-data.pypi.INFORMATION_SCHEMA.PARTITIONS"
"""The public dataset's partition metadata view (generator/queries/partition_metadata.sql), written the same way."""
TABLES: dict[str, Schema] = {
    # Every table a statement of the tool may read, by the backticked name it uses: one line each
    # (e.g. the dataset's INFORMATION_SCHEMA.PARTITIONS, with the columns Google documents).
    PUBLIC_TABLE_NAME: FILE_DOWNLOADS,
    # https://cloud.google.com/bigquery/docs/information-schema-partitions#schema
    PARTITIONS_VIEW_NAME: {
        "table_catalog": "STRING",
        "table_schema": "STRING",
        "table_name": "STRING",
        "partition_id": "STRING",
        "total_rows": "INT64",
        "total_logical_bytes": "INT64",
        "total_billable_bytes": "INT64",
        "last_modified_time": "TIMESTAMP",
        "storage_tier": "STRING",
    },
}

_lock = threading.RLock()


def _cache_dir() -> Path:
    return Path(os.environ.get("PYPI_STATS_ZETASQL_CACHE") or Path.home() / ".cache" / "pypi-stats-site")


def _install_module_cache() -> None:
    """Compile the WASM module once per machine: serialize it next to its hash, load it after."""
    import wasmtime
    from zetasql.core import wasm_client

    def from_file(engine: Any, path: str) -> Any:
        data = Path(path).read_bytes()
        key = hashlib.sha256(data + importlib.metadata.version("wasmtime").encode()).hexdigest()[:20]
        cached = _cache_dir() / f"zetasql-{key}.cwasm"
        if cached.exists():
            try:
                return wasmtime.Module.deserialize_file(engine, str(cached))
            except Exception:  # noqa: BLE001 - a stale or partial cache file: compile again
                pass
        module = wasmtime.Module(engine, data)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(module.serialize())
        partial.replace(cached)  # atomic: a concurrent reader sees the whole file or none
        return module

    if hasattr(wasm_client, "Module"):
        wasm_client.Module = type("CachedModule", (), {"from_file": staticmethod(from_file)})  # type: ignore[attr-defined]


def _zeta_type(spec: Any) -> Any:
    from zetasql.api import TypeFactory
    from zetasql.types import TypeKind

    if isinstance(spec, Mapping):
        return TypeFactory.create_struct_type([(k, _zeta_type(v)) for k, v in spec.items()])
    if spec.startswith("ARRAY<") and spec.endswith(">"):
        return TypeFactory.create_array_type(_zeta_type(spec[6:-1]))
    kinds = {
        "STRING": TypeKind.TYPE_STRING,
        "BOOL": TypeKind.TYPE_BOOL,
        "INT64": TypeKind.TYPE_INT64,
        "FLOAT64": TypeKind.TYPE_DOUBLE,
        "TIMESTAMP": TypeKind.TYPE_TIMESTAMP,
        "DATE": TypeKind.TYPE_DATE,
    }
    return TypeFactory.create_simple_type(kinds[spec])


@functools.cache
def _catalog() -> tuple[Any, Any]:
    """The catalog (the public table, GoogleSQL's built-in functions) and its language options."""
    _install_module_cache()
    from zetasql.api import CatalogBuilder, TableBuilder
    from zetasql.types import LanguageOptions, ZetaSQLBuiltinFunctionOptions

    language = LanguageOptions.maximum_features()
    functions = ZetaSQLBuiltinFunctionOptions(language_options=language)
    builder = CatalogBuilder("bigquery").with_builtin_functions(functions)
    for table_name, schema in TABLES.items():
        table = TableBuilder(table_name)
        for name, spec in schema.items():
            table.add_column(name, _zeta_type(spec))
        builder.add_table(table.build())
    return builder.build(), language


def _options(parameter_types: Sequence[tuple[str, str]]) -> Any:
    from zetasql.types import AnalyzerOptions

    catalog, language = _catalog()
    parameters = [AnalyzerOptions.QueryParameter(name=n, type=_zeta_type(t)) for n, t in parameter_types]
    # BigQuery evaluates DATE(timestamp) and TIMESTAMP(date) in UTC; ZetaSQL defaults to Los Angeles.
    return catalog, AnalyzerOptions(language_options=language, query_parameters=parameters, default_timezone="UTC")


@functools.lru_cache(maxsize=1024)
def analyze(sql: str, parameter_types: tuple[tuple[str, str], ...] = ()) -> str | None:
    """None if GoogleSQL's analyzer accepts `sql` with these (name, BigQuery type) parameters, else why not."""
    from zetasql.api import Analyzer

    with _lock:
        catalog, options = _options(parameter_types)
        try:
            Analyzer(options, catalog).analyze_statement(sql)
        except Exception as exc:  # noqa: BLE001 - ZetaSQL reports every rejection as a ServerError
            return str(exc).removeprefix("[INVALID_ARGUMENT] ").splitlines()[0]
    return None


# -- the reference engine ----------------------------------------------------------------------------
def _value(value: Any, spec: Any) -> Any:
    """A Python value as a ZetaSQL Value of the BigQuery type `spec`."""
    from zetasql.types import Value

    if value is None:
        return Value()
    if isinstance(spec, Mapping):
        fields = [_value(value.get(k) if isinstance(value, Mapping) else None, v) for k, v in spec.items()]
        return Value(struct_value=Value.Struct(field=fields))
    if spec.startswith("ARRAY<"):
        return Value(array_value=Value.Array(element=[_value(v, spec[6:-1]) for v in value]))
    if spec == "STRING":
        return Value(string_value=str(value))
    if spec == "BOOL":
        return Value(bool_value=bool(value))
    if spec == "INT64":
        return Value(int64_value=int(value))
    if spec == "DATE":
        return Value(date_value=(value - dt.date(1970, 1, 1)).days)
    if spec == "TIMESTAMP":
        from google.protobuf.timestamp_pb2 import Timestamp

        stamp = Timestamp()
        stamp.FromDatetime(value)
        return Value(timestamp_value=stamp)
    raise ValueError(f"no ZetaSQL value for BigQuery type {spec}")


def _python(value: Any) -> Any:
    """A result cell back as Python: None, bool, int, str, or a date."""
    for name in ("bool_value", "int64_value", "string_value"):
        got = getattr(value, name, None)
        if got is not None:
            return got
    if getattr(value, "date_value", None) is not None:
        return dt.date(1970, 1, 1) + dt.timedelta(days=value.date_value)
    return None


def execute(
    sql: str,
    events: Sequence[Mapping[str, Any]],
    parameters: Mapping[str, tuple[str, Any]],
    schema: Schema = FILE_DOWNLOADS,
) -> list[dict[str, Any]]:
    """Run `sql` on ZetaSQL's reference engine over `events` (file_downloads rows as nested dicts,
    timestamps as aware datetimes); `parameters`: name -> (BigQuery type, value)."""
    from zetasql.api import PreparedQuery
    from zetasql.types import Parameter, TableContent, TableData

    rows = [TableData.Row(cell=[_value(event.get(k), v) for k, v in schema.items()]) for event in events]
    with _lock:
        catalog, options = _options(tuple((n, t) for n, (t, _) in parameters.items()))
        content = {PUBLIC_TABLE_NAME: TableContent(table_data=TableData(row=rows))}
        query = (
            PreparedQuery.builder()
            .set_sql(sql)
            .set_analyzer_options(options)
            .set_catalog(catalog)
            .set_table_content(content)
            .prepare()
        )
        try:
            # PreparedQuery.execute passes parameters as a dict where the request wants a list.
            response = query._service.evaluate_query(
                prepared_query_id=query.prepared_query_id,
                params=[Parameter(name=n, value=_value(v, t)) for n, (t, v) in parameters.items()],
            )
        finally:
            query.close()
    names = [c.name for c in query.columns]
    data = response.content.table_data if response.content is not None else None
    return [dict(zip(names, (_python(c) for c in row.cell), strict=True)) for row in (data.row if data else [])]


__all__ = ["PUBLIC_TABLE_NAME", "TABLES", "analyze", "execute"]
