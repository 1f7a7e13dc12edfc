-- The size of a duckling now: live data files and their bytes, live delete files, and snapshots.
SELECT
    (SELECT count(*) FROM __ducklake_metadata_lake.ducklake_data_file WHERE end_snapshot IS NULL) AS data_files,
    (SELECT coalesce(sum(file_size_bytes), 0) FROM __ducklake_metadata_lake.ducklake_data_file
     WHERE end_snapshot IS NULL) AS data_bytes,
    (SELECT count(*) FROM __ducklake_metadata_lake.ducklake_delete_file WHERE end_snapshot IS NULL) AS delete_files,
    (SELECT count(*) FROM __ducklake_metadata_lake.ducklake_snapshot) AS snapshots,
    (SELECT count(*) FROM __ducklake_metadata_lake.ducklake_files_scheduled_for_deletion) AS scheduled_for_deletion
