-- Every data file path the catalog has ever registered (any snapshot) whose name ends with $basename.
SELECT path, path_is_relative
FROM __ducklake_metadata_lake.ducklake_data_file
WHERE path LIKE '%' || $basename
