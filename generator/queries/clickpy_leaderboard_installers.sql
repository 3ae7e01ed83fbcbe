-- clickpy_leaderboard_installers (ClickHouse SQL): for a batch of candidate projects, their downloads
-- over the leaderboard's window split by installer category, and their installs on their 3 busiest days.
--
-- Categories (generator/categories.py, the one mapping): installs = installers in "Package managers";
-- mirrors = "Mirrors and proxies"; unknown = no installer name (ClickPy stores a NULL as ''); the rest
-- (scripts, browsers, packagers and unclassified names) is downloads - installs - mirrors - unknown,
-- computed by the caller. The category lists are parameters, so the SQL never repeats them.
-- peak_days: the sum of the 3 largest daily install counts in the window (a pip loop in a container
-- shows as most of a 30-day count on a few days).
-- Output: one row per project of the batch that has downloads in the window, ordered by project; the
-- caller checks that every project of the batch came back once (a short answer is a truncated one).
--
-- Reads: pypi.pypi_downloads_per_day_by_version_by_installer_by_type
--        (project, version, date, installer, count; SummingMergeTree
--         ORDER BY (project, version, date, installer), so `project IN` prunes by primary key;
--         `type` is not read: merges keep an arbitrary value of it)
-- Parameters: {projects:Array(String)} (one batch of candidates), {start:Date}, {end:Date},
--   {package_managers:Array(String)}, {mirrors:Array(String)} (bound by the HTTP interface's
--   param_* values; never formatted into this text)
-- Schemas: github.com/ClickHouse/clickpy, scripts/create_tables.sh
SELECT
  project,
  sum(day_downloads) AS downloads,
  sum(day_installs) AS installs,
  sum(day_mirrors) AS mirrors,
  sum(day_unknown) AS unknown,
  arraySum(arraySlice(arrayReverseSort(groupArray(day_installs)), 1, 3)) AS peak_days
FROM (
  SELECT
    project,
    date,
    sum(count) AS day_downloads,
    sumIf(count, has({package_managers:Array(String)}, installer)) AS day_installs,
    sumIf(count, has({mirrors:Array(String)}, installer)) AS day_mirrors,
    sumIf(count, installer = '') AS day_unknown
  FROM pypi.pypi_downloads_per_day_by_version_by_installer_by_type
  WHERE project IN {projects:Array(String)}
    AND date BETWEEN {start:Date} AND {end:Date}
  GROUP BY project, date
)
GROUP BY project
ORDER BY project
