-- Distinct-uuid counts per (team, UTC day) for the late-event check over [start_day, end_day].
SELECT team_id, toDate(timestamp, 'UTC') AS day, uniqExact(uuid) AS n
FROM events
WHERE team_id IN {team_ids:Array(Int64)}
  AND timestamp >= toDateTime64({start_day:Date}, 6, 'UTC')
  AND timestamp < toDateTime64({end_day:Date} + 1, 6, 'UTC')
GROUP BY team_id, day
ORDER BY team_id, day
