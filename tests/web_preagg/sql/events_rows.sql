-- Raw events of some teams around a window, for the independent Python computation.
SELECT toString(uuid) AS uuid, team_id, session_id, event, timestamp
FROM events
WHERE team_id IN {team_ids:Array(Int64)}
  AND timestamp >= toDateTime64({start_day:Date} - 1, 6, 'UTC')
  AND timestamp < toDateTime64({end_day:Date} + 2, 6, 'UTC')
