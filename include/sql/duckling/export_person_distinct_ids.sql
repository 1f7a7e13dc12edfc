-- The CURRENT mapping (highest version) of every distinct id of the team that changed in the UTC day
-- (moved to another person, or deleted), or of all of them when full = 1.
INSERT INTO FUNCTION s3({url:String}, {key_id:String}, {secret:String}, {session_token:String}, 'Parquet')
SELECT team_id, distinct_id, person_id, is_deleted, max_version AS version
FROM (
SELECT
    team_id,
    distinct_id,
    argMax(person_id, version) AS person_id,
    toBool(argMax(is_deleted, version)) AS is_deleted,
    max(version) AS max_version
FROM person_distinct_id2
WHERE team_id = {team_id:Int64}
  AND ({full:UInt8} = 1 OR distinct_id IN (
        SELECT distinct_id FROM person_distinct_id2
        WHERE team_id = {team_id:Int64}
          AND _timestamp >= toDateTime({day:Date}, 'UTC')
          AND _timestamp < toDateTime({day:Date} + 1, 'UTC')))
GROUP BY team_id, distinct_id
)
