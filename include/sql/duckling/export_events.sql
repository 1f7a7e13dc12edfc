-- One team's events of one UTC day [day, day+1), one row per uuid (events is a ReplacingMergeTree: the
-- row with the latest _timestamp wins), written straight to S3 as Parquet: timestamps as
-- DateTime64(6, 'UTC') (Parquet timestamp[us, UTC] = DuckDB TIMESTAMPTZ), uuid as UUID.
-- One row per uuid without sorting the day: a uuid seen once is kept as it is; of a uuid seen more than
-- once only the rows with its latest _timestamp pass, and LIMIT 1 BY keeps one of those (hash based).
-- The 5-argument s3() takes a session token ('' for static keys).
INSERT INTO FUNCTION s3({url:String}, {key_id:String}, {secret:String}, {session_token:String}, 'Parquet')
SELECT
    uuid,
    event,
    properties,
    toDateTime64(timestamp, 6, 'UTC') AS timestamp,
    team_id,
    distinct_id,
    person_id,
    session_id,
    elements_chain,
    toDateTime64(created_at, 6, 'UTC') AS created_at
FROM events
WHERE team_id = {team_id:Int64}
  AND timestamp >= toDateTime64({day:Date}, 6, 'UTC')
  AND timestamp < toDateTime64({day:Date} + 1, 6, 'UTC')
  AND (
      uuid NOT IN (
          SELECT uuid FROM events
          WHERE team_id = {team_id:Int64}
            AND timestamp >= toDateTime64({day:Date}, 6, 'UTC')
            AND timestamp < toDateTime64({day:Date} + 1, 6, 'UTC')
          GROUP BY uuid HAVING count() > 1
      )
      OR (uuid, _timestamp) IN (
          SELECT uuid, max(_timestamp) FROM events
          WHERE team_id = {team_id:Int64}
            AND timestamp >= toDateTime64({day:Date}, 6, 'UTC')
            AND timestamp < toDateTime64({day:Date} + 1, 6, 'UTC')
          GROUP BY uuid HAVING count() > 1
      )
  )
LIMIT 1 BY uuid
