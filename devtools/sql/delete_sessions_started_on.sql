-- Removes a team's sessions that started on {day} (a day without traffic, for the demo and tests).
DELETE FROM events
WHERE team_id = {team_id:Int64}
  AND session_id IN (
      SELECT session_id FROM events
      WHERE team_id = {team_id:Int64}
        AND timestamp >= toDateTime64({day:Date}, 6, 'UTC') - INTERVAL 1 DAY
        AND timestamp < toDateTime64({day:Date}, 6, 'UTC') + INTERVAL 2 DAY
      GROUP BY session_id
      HAVING toDate(min(timestamp), 'UTC') = {day:Date}
  )
