-- daily_aggregates: daily download counts per project, for every breakdown, in ONE scan.
--
-- Computes one row per (day, project, installer, ci, python_malformed) and, for each
-- breakdown dimension, one row per value of that dimension under the same keys. The
-- `breakdown` column names the grouping set; columns outside it are NULL by construction,
-- so a NULL in the breakdown's own column is a real NULL in the logs.
-- The distro set is grouped by the OS too (`system` is filled on distro rows), so a page can
-- count distributions among Linux installs only; a Windows or macOS install has no distro name.
-- Its CASE branch comes before the system one, whose grouping flag is 0 on distro rows as well.
--
-- Reads columns: timestamp, project, country_code, file.type, file.version,
--   details.installer.name, details.installer.version, details.python,
--   details.implementation.name, details.system.name, details.distro.name, details.ci
-- Partitions: only the daily partitions of `timestamp` in [@start, @end] (UTC days, inclusive);
--   `project` is the clustering column, so the IN filter prunes blocks (not in the dry-run estimate).
-- Parameters: @projects ARRAY<STRING> (PEP 503-normalized), @start DATE, @end DATE
-- Rough scan: ~40 GB/day for timestamp+project (Feb 2025, growing) plus several GB/day per further column, before
--   cluster pruning (see the `plan` command for the per-column ceiling).
--
-- python_malformed reproduces pypistats.org's filter: a non-NULL details.python that does not
-- match ^[0-9]\.[0-9]+.{0,}$ is dropped from every pypistats count.
WITH events AS (
  SELECT
    DATE(timestamp) AS day,
    project,
    details.installer.name AS installer,
    REGEXP_EXTRACT(details.installer.version, r'^([0-9]+)') AS installer_major,
    COALESCE(details.ci, FALSE) AS ci,
    COALESCE(NOT REGEXP_CONTAINS(details.python, r'^[0-9]\.[0-9]+.{0,}$'), FALSE) AS python_malformed,
    REGEXP_EXTRACT(details.python, r'^([0-9]+\.[0-9]+)') AS python_minor,
    details.implementation.name AS implementation,
    details.system.name AS system,
    details.distro.name AS distro,
    country_code AS country,
    file.type AS file_type,
    file.version AS version
  FROM `bigquery-public-data.pypi.file_downloads`
  WHERE timestamp >= TIMESTAMP(@start)
    AND timestamp < TIMESTAMP_ADD(TIMESTAMP(@end), INTERVAL 1 DAY)
    AND project IN UNNEST(@projects)
)
SELECT
  day,
  project,
  installer,
  ci,
  python_malformed,
  CASE
    WHEN GROUPING(installer_major) = 0 THEN 'installer_version'
    WHEN GROUPING(python_minor) = 0 THEN 'python_minor'
    WHEN GROUPING(implementation) = 0 THEN 'implementation'
    WHEN GROUPING(distro) = 0 THEN 'distro'
    WHEN GROUPING(system) = 0 THEN 'system'
    WHEN GROUPING(country) = 0 THEN 'country'
    WHEN GROUPING(file_type) = 0 THEN 'file_type'
    WHEN GROUPING(version) = 0 THEN 'version'
    ELSE 'total'
  END AS breakdown,
  installer_major,
  python_minor,
  implementation,
  system,
  distro,
  country,
  file_type,
  version,
  COUNT(*) AS downloads
FROM events
GROUP BY GROUPING SETS (
  (day, project, installer, ci, python_malformed),
  (day, project, installer, ci, python_malformed, installer_major),
  (day, project, installer, ci, python_malformed, python_minor),
  (day, project, installer, ci, python_malformed, implementation),
  (day, project, installer, ci, python_malformed, system),
  (day, project, installer, ci, python_malformed, system, distro),
  (day, project, installer, ci, python_malformed, country),
  (day, project, installer, ci, python_malformed, file_type),
  (day, project, installer, ci, python_malformed, version)
)
