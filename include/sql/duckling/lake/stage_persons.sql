-- Stage an exported persons file into its temp table, made by empty_stage (outside the lake transaction).
INSERT INTO new_persons
SELECT CAST(team_id AS BIGINT) AS team_id, CAST(id AS UUID) AS id, CAST(created_at AS TIMESTAMPTZ) AS created_at,
       CAST(properties AS VARCHAR) AS properties, CAST(is_identified AS BOOLEAN) AS is_identified,
       CAST(is_deleted AS BOOLEAN) AS is_deleted, CAST(version AS BIGINT) AS version
FROM read_parquet($paths)
WHERE team_id = $team_id
