-- clickpy_installers (ClickHouse SQL): daily downloads per project and installer, and per
-- installer by package version, in ONE scan of ClickPy's installer table.
--
-- Output: one row per stored row and wanted set (day, project, installer_name, breakdown,
-- breakdown_value, n), which ClickPySource sums (clickpy.SUMMED) and puts into the store's aggregate
-- schema (the value into the breakdown's column, see generator.dimensions). `breakdown` names the
-- set: 'total' (installer only) or 'version' (installer and version). Rows are repeated once per
-- wanted set by ARRAY JOIN, then summed: the same result as GROUPING SETS, without depending on
-- GROUPING()'s bit convention.
-- The table's `type` column is NOT read: its sorting key (project, version, date, installer) leaves
-- `type` out, and a SummingMergeTree merge keeps an arbitrary value for such a column, so after
-- merges its file-type split is wrong. File types come from clickpy_installer_country.sql.
-- Mapping to the canonical schema (daily_aggregates.sql), and what ClickPy does not have:
--   installer   = file_downloads.details.installer.name; ClickPy stores a NULL as '' (its loader
--                 reads Parquet with input_format_null_as_default = 1), so '' becomes NULL again.
--   version     = file.version ('' -> NULL likewise).
--   ci          NULL: ClickPy keeps no CI flag (set by ClickPySource).
--   python_malformed FALSE: ClickPy keeps no raw Python string, so pypistats.org's filter cannot
--                 be reproduced (the page says so).
--   the other breakdowns: python, system, country and file type come from their own tables; the
--                 rest ClickPy does not keep.
--
-- Reads: pypi.pypi_downloads_per_day_by_version_by_installer_by_type
--        (project, version, date, installer, count; SummingMergeTree
--         ORDER BY (project, version, date, installer), so `project IN` prunes by primary key;
--         rows may be unmerged, hence the sum in clickpy.SUMMED)
-- Parameters: {projects:Array(String)} (PEP 503-normalized), {start:Date}, {end:Date},
--   {days:Array(Date)} (the days wanted, between start and end), {breakdowns:Array(String)}
--   (whether to compute 'version'; 'total' always)
-- Schemas: github.com/ClickHouse/clickpy, scripts/create_tables.sh and README ("Importing data")
SELECT
  date AS day,
  project,
  nullIf(installer, '') AS installer_name,
  breakdown,
  if(breakdown = 'version', nullIf(version, ''), NULL) AS breakdown_value,
  count AS n
FROM pypi.pypi_downloads_per_day_by_version_by_installer_by_type
ARRAY JOIN arrayFilter(b -> b = 'total' OR has({breakdowns:Array(String)}, b), ['total', 'version']) AS breakdown
WHERE project IN {projects:Array(String)}
  AND date BETWEEN {start:Date} AND {end:Date}
  AND has({days:Array(Date)}, date)
