"""Turn the canonical BigQuery SQL into DuckDB SQL. There is one SQL, not two.

sqlglot does the translation (generator.sqlrewrite). A translation is kept in the user's cache folder
(generator.usercache), named by the SQL text, the rewriting code and sqlglot's version: a build that finds
it does not import sqlglot (about 0.15 s of every build from local files).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from generator import usercache


@lru_cache(maxsize=64)
def to_duckdb(bigquery_sql: str, table: str | None = None) -> str:
    """Transpile BigQuery Standard SQL to DuckDB; `@name` parameters become `$name`.

    With `table`, references to `bigquery-public-data.pypi.file_downloads` are pointed at
    that DuckDB table or view instead (the local source registers its files under a name).
    """
    rewriter = Path(__file__).with_name("sqlrewrite.py").read_bytes()
    name = "sql-{}.json".format(usercache.digest(bigquery_sql, table or "", rewriter, metadata.version("sqlglot")))
    try:
        kept = json.loads(usercache.read(name) or "")["duckdb"]
        if isinstance(kept, str) and kept:
            return kept
    except (ValueError, KeyError, TypeError):
        pass  # none kept, or not a kept translation: translate again
    from generator import sqlrewrite  # sqlglot: imported only to translate

    duckdb_sql = sqlrewrite.transpile(bigquery_sql, table)
    usercache.write(name, json.dumps({"duckdb": duckdb_sql}))
    return duckdb_sql
