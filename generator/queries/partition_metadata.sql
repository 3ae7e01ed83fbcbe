-- partition_metadata: per daily partition of the public table, its row count and when data was last written.
--
-- A held day is fetched again only when its partition changed since it was fetched (late rows, or
-- a day PyPI reloads weeks later); the build records each day's figures when it fetches the day.
-- Reads: `bigquery-public-data.pypi.INFORMATION_SCHEMA.PARTITIONS` (dataset-qualified: the
--   dataset's location), columns table_name, partition_id ('YYYYMMDD' for a daily partition),
--   total_rows, last_modified_time. Metadata only: billed the 10 MB minimum of an INFORMATION_SCHEMA
--   query, never cached. Needs bigquery.tables.get and bigquery.tables.list on the public dataset
--   (https://cloud.google.com/bigquery/docs/information-schema-partitions).
-- Parameters: @first STRING, @last STRING (partition ids 'YYYYMMDD', both included)
SELECT partition_id, total_rows, last_modified_time
FROM `bigquery-public-data.pypi.INFORMATION_SCHEMA.PARTITIONS`
WHERE table_name = 'file_downloads'
  AND partition_id BETWEEN @first AND @last
