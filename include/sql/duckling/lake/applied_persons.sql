-- Staged rows whose state the lake now holds (same or higher version, or a tombstone): after a merge
-- this must equal the number of staged rows.
SELECT
  (SELECT count(*) FROM new_persons n
    WHERE EXISTS (SELECT 1 FROM lake.main.persons p WHERE p.team_id = $team_id AND p.id = n.id
                    AND (p.version > n.version OR (p.version = n.version AND NOT n.is_deleted)))
       OR (n.is_deleted AND EXISTS (SELECT 1 FROM lake.main.person_deletions d WHERE d.team_id = $team_id
                    AND d.entity = 'person' AND d.key = CAST(n.id AS VARCHAR) AND d.version >= n.version))
       OR (NOT n.is_deleted AND EXISTS (SELECT 1 FROM lake.main.person_deletions d WHERE d.team_id = $team_id
                    AND d.entity = 'person' AND d.key = CAST(n.id AS VARCHAR) AND d.version >= n.version)))
  +
  (SELECT count(*) FROM new_distinct_ids n
    WHERE EXISTS (SELECT 1 FROM lake.main.person_distinct_ids p WHERE p.team_id = $team_id
                    AND p.distinct_id = n.distinct_id
                    AND (p.version > n.version OR (p.version = n.version AND NOT n.is_deleted)))
       OR EXISTS (SELECT 1 FROM lake.main.person_deletions d WHERE d.team_id = $team_id
                    AND d.entity = 'distinct_id' AND d.key = n.distinct_id AND d.version >= n.version))
  AS applied
