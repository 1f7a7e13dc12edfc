-- The UTC days with events per team over [start_day, end_day]: the full backfill's one grouped count,
-- so days without events are marked done in bulk (no mapped task, no cap) and the walk spends its cap on
-- days that hold data, whatever the earliest (or a stray 1970) timestamp.
SELECT team_id, toDate(timestamp, 'UTC') AS day
FROM events
WHERE team_id IN {team_ids:Array(Int64)}
  AND timestamp >= toDateTime64({start_day:Date}, 6, 'UTC')
  AND timestamp < toDateTime64({end_day:Date} + 1, 6, 'UTC')
GROUP BY team_id, day
ORDER BY team_id, day
