-- Fragment: the current person override of each distinct id of teams {team_ids}: the latest version
-- in person_distinct_id_overrides, unless that version is a deletion.
SELECT team_id, distinct_id, argMax(person_id, version) AS override_person_id, toUInt8(1) AS has_override
FROM person_distinct_id_overrides
WHERE team_id IN {team_ids:Array(Int64)}
GROUP BY team_id, distinct_id
HAVING argMax(is_deleted, version) = 0
