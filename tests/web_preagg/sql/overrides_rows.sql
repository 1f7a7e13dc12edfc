-- Every person override row of some teams (all versions), for the independent Python computation.
SELECT team_id, distinct_id, toString(person_id) AS person_id, is_deleted, version
FROM person_distinct_id_overrides
WHERE team_id IN {team_ids:Array(Int64)}
