-- clickpy_coverage (ClickHouse SQL): the UTC days, among those asked, that ClickPy holds data for.
--
-- ClickPy loads PyPI's logs into ClickHouse one day at a time, after BigQuery has them, and it
-- has stalled for days at a time. A day it has not loaded has no rows at all, and must read as
-- "not yet available", never as zero downloads. A day counts as held when both:
--   * it is not after the newest day ClickPy holds for ANY project (max of
--     pypi_downloads_max_min.max_date over every project): overall, not per package, so a quiet
--     package's day without downloads is a real zero; and
--   * a probe project (a few of the most downloaded packages, which are downloaded every single
--     day) has downloads on it: this catches a day missing in the middle of the range.
--
-- Reads: pypi.pypi_downloads_max_min (project, max_date; one row per project, AggregatingMergeTree)
--        pypi.pypi_downloads_per_day (date, project, count; SummingMergeTree ORDER BY (project, date),
--        so the probe filter reads a handful of granules)
-- Parameters: {probes:Array(String)}, {start:Date}, {end:Date}, {days:Array(Date)} (bound by the
--   HTTP interface's param_* values; never formatted into this text)
-- Schemas: github.com/ClickHouse/clickpy, scripts/create_tables.sh
SELECT date AS day
FROM pypi.pypi_downloads_per_day
WHERE project IN {probes:Array(String)}
  AND date BETWEEN {start:Date} AND {end:Date}
  AND has({days:Array(Date)}, date)
  AND date <= (SELECT max(max_date) FROM pypi.pypi_downloads_max_min)
GROUP BY date
HAVING sum(count) > 0
ORDER BY day
