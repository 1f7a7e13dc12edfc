-- The UTC days of the team's events that belong to erased persons (temp table erased_keys): the days
-- whose files must be rewritten so that no live file keeps their rows.
SELECT DISTINCT CAST(timezone('UTC', "timestamp") AS DATE) AS day
FROM lake.main.events
WHERE team_id = $team_id
  AND
@include(duckling/lake/fragments/erased_event)
ORDER BY day
