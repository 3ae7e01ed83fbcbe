"""The canonical SQL rewritten with sqlglot: translated for DuckDB (the local source, the BigQuery fake) and
narrowed to the breakdowns a config keeps (the BigQuery source). generator.sql keeps the translations,
so that a build that finds them kept need not import this module, nor sqlglot."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from generator import dimensions

PUBLIC_TABLE = ("bigquery-public-data", "pypi", "file_downloads")


def transpile(bigquery_sql: str, table: str | None = None) -> str:
    """BigQuery Standard SQL as DuckDB's (see generator.sql.to_duckdb, which keeps the result)."""
    tree = sqlglot.parse_one(bigquery_sql, read="bigquery")
    if table is not None:
        for node in tree.find_all(exp.Table):
            if (node.catalog, node.db, node.name) == PUBLIC_TABLE:
                node.replace(exp.to_table(table, dialect="duckdb").as_(node.alias_or_name))
    tree = tree.transform(_plain_regexp_extract)
    return tree.sql(dialect="duckdb")


def _plain_regexp_extract(node: exp.Expression) -> exp.Expression:
    """BigQuery's REGEXP_EXTRACT as DuckDB's regexp_extract, NULL when there is no match.

    sqlglot's faithful form, ARRAY_EXTRACT(REGEXP_EXTRACT_ALL(...), 1), finds every match and
    costs ~10x more per row. The two agree except on an empty match, which none of our patterns
    can produce (each needs at least one digit).
    """
    if not isinstance(node, exp.RegexpExtract) or node.args.get("position") or node.args.get("occurrence"):
        return node
    group = node.args.get("group") or exp.Literal.number(0)
    call = exp.Anonymous(this="regexp_extract", expressions=[node.this, node.expression, group])
    return exp.Nullif(this=call, expression=exp.Literal.string(""))


# Which output column of daily_aggregates.sql each breakdown fills (generator.dimensions).
# Dropping a breakdown drops that column from the scan, which is what cuts the cost.
BREAKDOWN_OUTPUT_COLUMNS: dict[str, str] = {d.name: d.column for d in dimensions.DIMENSIONS}


def restrict_breakdowns(bigquery_sql: str, breakdowns: tuple[str, ...] | list[str]) -> str:
    """Derive a cheaper daily_aggregates query that computes only `breakdowns` (plus the total).

    A column no kept breakdown groups by leaves the CTE projection, so BigQuery no longer reads (or
    bills) its source columns; a dropped breakdown's grouping set and CASE branch go too. A column a
    kept breakdown is counted within stays (distro rows carry the OS even without the OS breakdown).
    The output keeps every column, NULL where dropped, so the result still has the one aggregate
    schema. With every breakdown kept, the canonical text is returned unchanged.
    """
    unknown = sorted(set(breakdowns) - set(BREAKDOWN_OUTPUT_COLUMNS))
    if unknown:
        raise ValueError(f"unknown breakdown(s): {', '.join(unknown)}")
    kept = [d for d in dimensions.DIMENSIONS if d.name in breakdowns]
    if len(kept) == len(dimensions.DIMENSIONS):
        return bigquery_sql
    grouped = {col for d in kept for col in d.group_columns}
    drop = set(dimensions.COLUMNS) - grouped
    sets_kept: set[frozenset[str]] = {frozenset(d.group_columns) for d in kept} | {frozenset()}
    names_kept = {d.name for d in kept}
    tree = sqlglot.parse_one(bigquery_sql, read="bigquery")
    for cte in tree.find_all(exp.CTE):
        inner = cte.this
        if isinstance(inner, exp.Select):
            inner.set("expressions", [e for e in inner.expressions if e.alias_or_name not in drop])
    if not isinstance(tree, exp.Select):
        raise ValueError("restrict_breakdowns expects a SELECT (with its CTE) as in daily_aggregates.sql")
    tree.set("expressions", [_restrict_projection(e, drop, names_kept) for e in tree.expressions])
    group = tree.args.get("group")
    if group is not None:
        for sets in group.find_all(exp.GroupingSets):
            sets.set("expressions", [s for s in sets.expressions if _dimension_columns(s) in sets_kept])
    _integer_intervals(tree)
    return tree.sql(dialect="bigquery", pretty=True)


def _dimension_columns(node: exp.Expr) -> frozenset[str]:
    """The dimension columns a grouping set groups by (none for the totals' set)."""
    return frozenset(col.name for col in node.find_all(exp.Column) if col.name in dimensions.COLUMNS)


def _restrict_projection(node: exp.Expr, drop: set[str], names_kept: set[str]) -> exp.Expr:
    """A dropped column becomes a typed NULL; the breakdown CASE keeps the branches of kept breakdowns."""
    name = node.alias_or_name
    if name in drop:
        return exp.alias_(exp.cast(exp.null(), exp.DataType.build("STRING", dialect="bigquery")), name)
    case = node.unalias()
    if isinstance(case, exp.Case):
        ifs = [branch for branch in case.args.get("ifs", []) if branch.args["true"].name in names_kept]
        if ifs:
            case.set("ifs", ifs)
        else:
            # Only the total is left: CASE with no WHEN is not valid SQL, so use its ELSE.
            default = case.args.get("default") or exp.null()
            return exp.alias_(default.copy(), name)
    return node


def _integer_intervals(tree: exp.Expression) -> None:
    """sqlglot parses `INTERVAL 1 DAY` with a string '1' and would print `INTERVAL '1' DAY`;
    print the integer form BigQuery documents for TIMESTAMP_ADD / DATE_ADD instead."""
    for node in tree.find_all(exp.TimestampAdd, exp.DateAdd, exp.TimestampSub, exp.DateSub):
        amount = node.expression
        if isinstance(amount, exp.Literal) and amount.is_string and amount.this.lstrip("-").isdigit():
            node.set("expression", exp.Literal.number(amount.this))
