-- The CURRENT state (highest version) of every person of the team that changed in the UTC day (any
-- version written that day), or of all the team's persons when full = 1. Deleted persons are included
-- with is_deleted = true and no properties (a staging file never carries a deleted person's data): the
-- lake merge removes them and keeps a tombstone.
INSERT INTO FUNCTION s3({url:String}, {key_id:String}, {secret:String}, {session_token:String}, 'Parquet')
SELECT team_id, id, created_at, if(is_deleted, '', properties) AS properties, is_identified, is_deleted,
       toInt64(max_version) AS version
FROM (
SELECT
    team_id,
    id,
    toDateTime64(argMax(created_at, version), 6, 'UTC') AS created_at,
    argMax(properties, version) AS properties,
    toBool(argMax(is_identified, version)) AS is_identified,
    toBool(argMax(is_deleted, version)) AS is_deleted,
    max(version) AS max_version
FROM person
WHERE team_id = {team_id:Int64}
  AND ({full:UInt8} = 1 OR id IN (
        SELECT id FROM person
        WHERE team_id = {team_id:Int64}
          AND _timestamp >= toDateTime({day:Date}, 'UTC')
          AND _timestamp < toDateTime({day:Date} + 1, 'UTC')))
GROUP BY team_id, id
)
