-- A late event of another kind on a session with one pageview and no click (a bounce) of team {team_id} that started on {day}: a copy of the
-- session's only $pageview as {event} ('$autocapture': no longer a bounce; '$pageleave': a longer
-- duration), {delay_s} seconds later, ingested now. No pageview total changes.
INSERT INTO events
SELECT generateUUIDv4() AS uuid, {event:String}, properties, timestamp + toIntervalSecond({delay_s:UInt32}),
       team_id, distinct_id, person_id, session_id, elements_chain, created_at, now()
FROM events
WHERE team_id = {team_id:Int64} AND event = '$pageview'
  AND timestamp >= toDateTime64({day:Date}, 6, 'UTC') + INTERVAL 1 HOUR
  AND timestamp < toDateTime64({day:Date}, 6, 'UTC') + INTERVAL 20 HOUR
  AND session_id IN (
      SELECT session_id FROM events
      WHERE team_id = {team_id:Int64}
        AND timestamp >= toDateTime64({day:Date}, 6, 'UTC') - INTERVAL 1 DAY
        AND timestamp < toDateTime64({day:Date} + 2, 6, 'UTC')
      GROUP BY session_id
      HAVING countIf(event = '$pageview') = 1 AND countIf(event IN ('$autocapture', '$screen')) = 0
         AND dateDiff('second', min(timestamp), max(timestamp)) < 10)
ORDER BY uuid
LIMIT 1
