-- The erased persons (temp table erased_keys, column person) the persons tables still hold something
-- of: a row, a plain-text tombstone, or a missing erasure digest. An erasure already complete is
-- found again inside the rescan margin and changes nothing.
SELECT DISTINCT k.person
FROM erased_keys k
WHERE k.kind IN ('person', 'distinct_id')
  AND (NOT EXISTS (SELECT 1 FROM lake.main.person_deletions d
                   WHERE d.team_id = $team_id AND d.entity = 'erased_' || k.kind AND d.key = sha256(k.key))
       OR EXISTS (SELECT 1 FROM lake.main.person_deletions d
                  WHERE d.team_id = $team_id AND d.entity = k.kind AND d.key = k.key)
       OR (k.kind = 'person' AND EXISTS (SELECT 1 FROM lake.main.persons p
                                         WHERE p.team_id = $team_id AND CAST(p.id AS VARCHAR) = k.key))
       OR (k.kind = 'distinct_id' AND EXISTS (SELECT 1 FROM lake.main.person_distinct_ids m
                                              WHERE m.team_id = $team_id AND m.distinct_id = k.key)))
