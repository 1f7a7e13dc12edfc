-- Every data file path the catalog has ever registered (any snapshot, including deleted ones).
SELECT path, path_is_relative FROM __ducklake_metadata_lake.ducklake_data_file
