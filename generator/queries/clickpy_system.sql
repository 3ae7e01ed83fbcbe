-- clickpy_system (ClickHouse SQL): daily downloads per project and operating system, ALL
-- installers together.
--
-- ClickPy's system table has no installer column: installer is NULL here and means "all
-- downloads" (no capability "system.by_installer"; the page labels the breakdown accordingly).
-- system = file_downloads.details.system.name; ClickPy stores NULL as '', so '' becomes NULL.
-- Output: one row per stored row (day, project, installer_name, breakdown, breakdown_value, n), as
-- every ClickPy table query; ClickPySource sums them (clickpy.SUMMED).
--
-- Reads: pypi.pypi_downloads_per_day_by_version_by_system
--        (date, project, version, system, count; SummingMergeTree
--         ORDER BY (project, version, date, system))
-- Parameters: {projects:Array(String)}, {start:Date}, {end:Date}, {days:Array(Date)}
-- Schemas: github.com/ClickHouse/clickpy, scripts/create_tables.sh
SELECT
  date AS day,
  project,
  CAST(NULL, 'Nullable(String)') AS installer_name,
  'system' AS breakdown,
  nullIf(system, '') AS breakdown_value,
  count AS n
FROM pypi.pypi_downloads_per_day_by_version_by_system
WHERE project IN {projects:Array(String)}
  AND date BETWEEN {start:Date} AND {end:Date}
  AND has({days:Array(Date)}, date)
