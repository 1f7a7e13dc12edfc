-- The team's live persons (highest version not deleted): what the duckling's persons table must equal.
SELECT toString(id) AS id, max_version AS version, properties
FROM (
    SELECT id, max(version) AS max_version, argMax(properties, version) AS properties,
           argMax(is_deleted, version) AS deleted
    FROM person WHERE team_id = {team_id:Int64} GROUP BY id
)
WHERE deleted = 0
ORDER BY id
