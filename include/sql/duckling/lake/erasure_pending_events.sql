-- The erased persons (temp table erased_keys) the events table still holds rows of.
SELECT DISTINCT k.person
FROM lake.main.events e
JOIN erased_keys k
  ON (k.kind = 'distinct_id' AND e.distinct_id = k.key)
  OR (k.kind = 'person' AND CAST(e.person_id AS VARCHAR) = k.key
      AND e.distinct_id NOT IN (SELECT key FROM erased_keys WHERE kind = 'kept_id'))
WHERE e.team_id = $team_id
