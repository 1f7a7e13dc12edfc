-- Rows export_events writes for one team-day: distinct uuids in the UTC window [day, day+1).
SELECT uniqExact(uuid) AS n
FROM events
WHERE team_id = {team_id:Int64}
  AND timestamp >= toDateTime64({day:Date}, 6, 'UTC')
  AND timestamp < toDateTime64({day:Date} + 1, 6, 'UTC')
