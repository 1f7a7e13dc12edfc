-- Live events: copies of {n} pageviews of team {team_id} between 02:00 and 03:00 on {day} (sessions that
-- started that day), with new uuids, one second later, ingested NOW (while a recompute runs).
INSERT INTO events
SELECT generateUUIDv4() AS uuid, event, properties, timestamp + INTERVAL 1 SECOND, team_id, distinct_id,
       person_id, session_id, elements_chain, created_at, now()
FROM events
WHERE team_id = {team_id:Int64} AND event IN ('$pageview', '$screen')
  AND timestamp >= toDateTime64({day:Date}, 6, 'UTC') + INTERVAL 2 HOUR
  AND timestamp < toDateTime64({day:Date}, 6, 'UTC') + INTERVAL 3 HOUR
ORDER BY uuid
LIMIT {n:UInt32}
