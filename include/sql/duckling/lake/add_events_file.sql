-- Register one exported Parquet file in place (no copy). Extra file columns are ignored; lake columns
-- absent from the file read as NULL.
CALL ducklake_add_data_files('lake', 'events', $path, schema => 'main', allow_missing => true,
                             ignore_extra_columns => true)
