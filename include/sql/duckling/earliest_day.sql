-- Each team's first UTC day with events (NULL-free: teams without events are absent).
SELECT team_id, toDate(min(timestamp), 'UTC') AS earliest_day
FROM events
WHERE team_id IN {team_ids:Array(Int64)}
GROUP BY team_id
