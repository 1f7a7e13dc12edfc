-- Columns of a lake table as DuckDB reports them.
SELECT column_name, data_type
FROM duckdb_columns()
WHERE database_name = 'lake' AND schema_name = 'main' AND table_name = $table
ORDER BY column_index
