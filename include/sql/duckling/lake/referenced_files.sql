-- Every file the catalog references, as full paths: the data files and delete files of ANY snapshot (a
-- relative path is relative to its table's path, itself relative to its schema's, itself relative to
-- DATA_PATH), and the files scheduled for deletion (relative to DATA_PATH) until a cleanup removes them.
-- $basename = '' lists them all; otherwise only paths ending with that file name (the path guard).
WITH
    root AS
    (
        SELECT CASE WHEN suffix(value, '/') THEN value ELSE value || '/' END AS data_path
        FROM __ducklake_metadata_lake.ducklake_metadata
        WHERE key = 'data_path' AND scope IS NULL
    ),
    schemas AS
    (
        SELECT DISTINCT s.schema_id, CASE WHEN s.path_is_relative THEN root.data_path || s.path ELSE s.path END AS base
        FROM __ducklake_metadata_lake.ducklake_schema s, root
    ),
    tables AS
    (
        SELECT DISTINCT t.table_id, CASE WHEN t.path_is_relative THEN s.base || t.path ELSE t.path END AS base
        FROM __ducklake_metadata_lake.ducklake_table t JOIN schemas s USING (schema_id)
    ),
    files AS
    (
        SELECT CASE WHEN f.path_is_relative THEN t.base || f.path ELSE f.path END AS path, 'data' AS source
        FROM __ducklake_metadata_lake.ducklake_data_file f JOIN tables t USING (table_id)
        UNION ALL
        SELECT CASE WHEN d.path_is_relative THEN t.base || d.path ELSE d.path END, 'delete'
        FROM __ducklake_metadata_lake.ducklake_delete_file d JOIN tables t USING (table_id)
        UNION ALL
        SELECT CASE WHEN x.path_is_relative THEN root.data_path || x.path ELSE x.path END, 'scheduled'
        FROM __ducklake_metadata_lake.ducklake_files_scheduled_for_deletion x, root
    )
SELECT path, source FROM files WHERE $basename = '' OR suffix(path, '/' || $basename)
