-- The team's live distinct-id mapping (highest version not deleted).
SELECT distinct_id, toString(person_id) AS person_id, max_version AS version
FROM (
    SELECT distinct_id, argMax(person_id, version) AS person_id, max(version) AS max_version,
           argMax(is_deleted, version) AS deleted
    FROM person_distinct_id2 WHERE team_id = {team_id:Int64} GROUP BY distinct_id
)
WHERE deleted = 0
ORDER BY distinct_id
