-- clickpy_python (ClickHouse SQL): daily downloads per project and Python minor version, ALL
-- installers together.
--
-- ClickPy's python table has no installer column, so these rows cannot be split into package
-- managers, mirrors and scripts: installer is NULL here and means "all downloads" (the source
-- lacks the capability "python_minor.by_installer"; the page labels the breakdown accordingly).
-- ClickPy's python_minor is arrayStringConcat(arraySlice(splitByChar('.', python), 1, 2), '.')
-- of the raw details.python, with NULL stored as ''. Taking ^([0-9]+\.[0-9]+) of it gives
-- exactly the canonical REGEXP_EXTRACT(details.python, r'^([0-9]+\.[0-9]+)'): that match never
-- reaches past the second dot. No match (NULL, '', 'cpython', '3') is NULL, as in the canonical SQL.
-- Whether the raw string was malformed (pypistats.org's filter) is lost: python_malformed FALSE.
-- Output: one row per stored row (day, project, installer_name, breakdown, breakdown_value, n), as
-- every ClickPy table query; ClickPySource sums them (clickpy.SUMMED).
--
-- Reads: pypi.pypi_downloads_per_day_by_version_by_python
--        (date, project, version, python_minor, count; SummingMergeTree
--         ORDER BY (project, version, date, python_minor))
-- Parameters: {projects:Array(String)}, {start:Date}, {end:Date}, {days:Array(Date)}
-- Schemas: github.com/ClickHouse/clickpy, scripts/create_tables.sh and README ("Importing data")
SELECT
  date AS day,
  project,
  CAST(NULL, 'Nullable(String)') AS installer_name,
  'python_minor' AS breakdown,
  nullIf(extract(python_minor, '^([0-9]+\\.[0-9]+)'), '') AS breakdown_value,
  count AS n
FROM pypi.pypi_downloads_per_day_by_version_by_python
WHERE project IN {projects:Array(String)}
  AND date BETWEEN {start:Date} AND {end:Date}
  AND has({days:Array(Date)}, date)
