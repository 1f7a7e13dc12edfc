-- Stage an exported distinct-ids file into its temp table, made by empty_stage (outside the lake transaction).
INSERT INTO new_distinct_ids
SELECT CAST(team_id AS BIGINT) AS team_id, CAST(distinct_id AS VARCHAR) AS distinct_id,
       CAST(person_id AS UUID) AS person_id, CAST(is_deleted AS BOOLEAN) AS is_deleted,
       CAST(version AS BIGINT) AS version
FROM read_parquet($paths)
WHERE team_id = $team_id
