-- The UTC days of the team's events that belong to erased persons (temp table erased_keys): the days
-- whose files must be rewritten so that no live file keeps their rows.
SELECT DISTINCT CAST(timezone('UTC', "timestamp") AS DATE) AS day
FROM lake.main.events
WHERE team_id = $team_id
  AND (CAST(person_id AS VARCHAR) IN (SELECT key FROM erased_keys WHERE kind = 'person')
       OR distinct_id IN (SELECT key FROM erased_keys WHERE kind = 'distinct_id'))
ORDER BY day
