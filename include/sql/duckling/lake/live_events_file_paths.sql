-- The live data files of the events table, by path (no data is read). Each path carries its partition
-- as hive folders team_id=/year=/month=/day= (the export's, or DuckLake's own when it wrote the file).
-- (The catalog's partition values are not used: DuckLake 1.5.5 records the partition_key_index of
-- year/month/day as the same index for files added with ducklake_add_data_files.)
SELECT f.path
FROM __ducklake_metadata_lake.ducklake_data_file f
JOIN __ducklake_metadata_lake.ducklake_table t ON t.table_id = f.table_id AND t.end_snapshot IS NULL
WHERE t.table_name = 'events' AND f.end_snapshot IS NULL
