-- clickpy_leaderboard_candidates (ClickHouse SQL): every project ClickPy holds, ranked by all downloads
-- over the leaderboard's window; one slice of that ranking (LIMIT/OFFSET), for the exact ranking by
-- package-manager installs (generator/leaderboard_fetch.py proves which slice is enough).
--
-- Output, one row per project of the slice: project, downloads (every installer, unknown included),
-- downloads_rank (1-based, by downloads descending, ties by project name ascending: the order of the
-- whole ranking, so an OFFSET slice continues the previous one), and `projects`: how many projects
-- have downloads in the window, counted before LIMIT (a window function over the grouped rows). The
-- caller checks that exactly min(limit, projects - offset) rows came back: ClickHouse's
-- max_result_rows with result_overflow_mode = 'break' ends a result early WITHOUT an error, and a
-- short answer must never read as "no more projects".
--
-- Reads: pypi.pypi_downloads_per_day (date, project, count; SummingMergeTree ORDER BY (project, date):
--        rows may be unmerged, hence sum(count); the date filter cannot use the key's first column,
--        so this reads the whole window's rows of every project once)
-- Parameters: {start:Date}, {end:Date}, {limit:UInt64}, {offset:UInt64} (bound by the HTTP
--   interface's param_* values; never formatted into this text)
-- Schemas: github.com/ClickHouse/clickpy, scripts/create_tables.sh
SELECT
  project,
  downloads,
  row_number() OVER (ORDER BY downloads DESC, project ASC) AS downloads_rank,
  count() OVER () AS projects
FROM (
  SELECT project, sum(count) AS downloads
  FROM pypi.pypi_downloads_per_day
  WHERE date BETWEEN {start:Date} AND {end:Date}
  GROUP BY project
  HAVING downloads > 0
)
ORDER BY downloads DESC, project ASC
LIMIT {limit:UInt64} OFFSET {offset:UInt64}
