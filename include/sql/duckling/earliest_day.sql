-- Each team's first UTC day with events (teams without events are absent). Timestamps before 1970 are
-- ignored, as PostHog does: a Date cannot hold them (toDate would wrap a 1960 timestamp to 2139).
SELECT team_id, toDate(min(timestamp), 'UTC') AS earliest_day
FROM events
WHERE team_id IN {team_ids:Array(Int64)}
  AND timestamp >= toDateTime64('1970-01-01 00:00:00', 6, 'UTC')
GROUP BY team_id
