-- clickpy_before_store (ClickHouse SQL): each project's downloads on every day ClickPy holds before
-- a day of that project's own (the store's first day for it), summed: what pepy/ClickPy's all-time
-- figure counts that the store does not hold.
--
-- pepy and ClickPy show every row of PyPI's download logs since they began loading them; the store
-- holds [source].history_days. This one number per project lets the package page reconcile their
-- all-time figure: days before the store + the store's all-time count. A project with no row before
-- its day is absent from the answer (zero downloads then).
--
-- Reads: pypi.pypi_downloads_per_day (date, project, count; SummingMergeTree ORDER BY (project, date),
--        so unmerged parts are summed here and the project filter reads a few granules)
-- Parameters: {projects:Array(String)}, {befores:Array(Date)} (the same length: befores[i] is the
--   first day the store holds for projects[i]; bound by the HTTP interface's param_* values, never
--   formatted into this text)
-- Schemas: github.com/ClickHouse/clickpy, scripts/create_tables.sh
SELECT project, sum(count) AS downloads
FROM pypi.pypi_downloads_per_day
WHERE project IN {projects:Array(String)}
  AND date < arrayElement({befores:Array(Date)}, indexOf({projects:Array(String)}, project))
GROUP BY project
ORDER BY project
