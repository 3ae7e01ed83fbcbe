-- month_spend: bytes billed since @since by this tool's own jobs, from BigQuery's job history.
--
-- Used once, when the store (and so its cost ledger) is new, so that [budget].max_bytes_per_month
-- still counts what earlier runs billed this month. Counts every job that carries the label
-- tool = @tool, whatever its outcome (failed jobs bill nothing: total_bytes_billed is NULL or 0).
-- Reads: `region-us`.INFORMATION_SCHEMA.JOBS_BY_USER (the caller's jobs in the job region; the
--   source points the region at [source].location by rewriting this table name, never by text),
--   columns creation_time, labels, total_bytes_billed. Billed at least 10 MB, like any query.
-- Parameters: @since TIMESTAMP (first instant of the month, UTC), @tool STRING (the label value)
SELECT COALESCE(SUM(total_bytes_billed), 0) AS bytes_billed, COUNT(*) AS jobs
FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_USER
WHERE creation_time >= @since
  AND EXISTS (SELECT 1 FROM UNNEST(labels) AS label WHERE label.key = 'tool' AND label.value = @tool)
