-- Raw events of some teams around a window (every event type, duplicates included), for the
-- independent Python computation of the pre-aggregated tables (tests/web_preagg/oracle.py).
SELECT toString(uuid) AS uuid, team_id, event, timestamp, distinct_id, toString(person_id) AS person_id,
       session_id, properties, _timestamp
FROM events
WHERE team_id IN {team_ids:Array(Int64)}
  AND timestamp >= toDateTime64({start_day:Date} - 1, 6, 'UTC')
  AND timestamp < toDateTime64({end_day:Date} + 2, 6, 'UTC')
