-- Rows and distinct uuids of a team's UTC day in the lake.
SELECT count(*) AS n, count(DISTINCT uuid) AS uuids
FROM lake.main.events
WHERE team_id = $team_id AND "timestamp" >= $day_start AND "timestamp" < $day_end
