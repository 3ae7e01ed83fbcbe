-- clickpy_installer_country (ClickHouse SQL): daily downloads per project and installer, by
-- country and by file type, in ONE scan of ClickPy's installer x type x country table.
--
-- Output: one row per stored row and wanted breakdown, 'country' or 'file_type' (day, project,
-- installer_name, breakdown, breakdown_value, n), summed by ClickPySource (clickpy.SUMMED), which
-- puts the value into that breakdown's store column. The installer is kept, so both breakdowns
-- can be restricted to package-manager installs like the canonical ones.
-- File types come from this table, not from ..._by_installer_by_type: here `type` is part of the
-- sorting key (project, version, date, country_code, installer, type), so SummingMergeTree merges
-- never mix two types in one row.
-- Mapping: country = file_downloads.country_code, file_type = file.type, installer =
-- details.installer.name; ClickPy stores NULL as '' (its loader reads Parquet with
-- input_format_null_as_default = 1), so '' becomes NULL. No CI flag, no raw Python string
-- (ClickPy has neither).
--
-- Reads: pypi.pypi_downloads_per_day_by_version_by_installer_by_type_by_country
--        (project, date, installer, type, country_code, count; SummingMergeTree
--         ORDER BY (project, version, date, country_code, installer, type); rows may be unmerged,
--         hence the sum in clickpy.SUMMED)
-- Parameters: {projects:Array(String)}, {start:Date}, {end:Date}, {days:Array(Date)},
--   {breakdowns:Array(String)} (which of 'country', 'file_type' to compute)
-- Schemas: github.com/ClickHouse/clickpy, scripts/create_tables.sh
SELECT
  date AS day,
  project,
  nullIf(installer, '') AS installer_name,
  breakdown,
  multiIf(
    breakdown = 'country', nullIf(toString(country_code), ''),
    breakdown = 'file_type', nullIf(toString(type), ''),
    NULL
  ) AS breakdown_value,
  count AS n
FROM pypi.pypi_downloads_per_day_by_version_by_installer_by_type_by_country
ARRAY JOIN arrayFilter(b -> has({breakdowns:Array(String)}, b), ['country', 'file_type']) AS breakdown
WHERE project IN {projects:Array(String)}
  AND date BETWEEN {start:Date} AND {end:Date}
  AND has({days:Array(Date)}, date)
