-- Re-ingestion: the same events (same uuid, same sorting key) of team {team_id} on {day} inserted again.
INSERT INTO events
SELECT * FROM events
WHERE team_id = {team_id:Int64}
  AND timestamp >= toDateTime64({day:Date}, 6, 'UTC') AND timestamp < toDateTime64({day:Date} + 1, 6, 'UTC')
