-- Apply the staged persons (temp table new_persons: the current state of changed persons) to the lake.
-- A lake row is only ever replaced by a higher version; deleted persons leave a tombstone.
DELETE FROM lake.main.persons AS p
WHERE p.team_id = $team_id
  AND EXISTS (SELECT 1 FROM new_persons n WHERE n.id = p.id AND n.version > p.version);

INSERT INTO lake.main.persons (team_id, id, created_at, properties, is_identified, version)
SELECT n.team_id, n.id, n.created_at, n.properties, n.is_identified, n.version
FROM new_persons n
WHERE NOT n.is_deleted
  AND NOT EXISTS (SELECT 1 FROM lake.main.persons p
                  WHERE p.team_id = $team_id AND p.id = n.id AND p.version >= n.version)
  AND NOT EXISTS (SELECT 1 FROM lake.main.person_deletions d
                  WHERE d.team_id = $team_id AND d.entity = 'person' AND d.key = CAST(n.id AS VARCHAR)
                    AND d.version >= n.version);

DELETE FROM lake.main.person_deletions AS d
WHERE d.team_id = $team_id AND d.entity = 'person'
  AND EXISTS (SELECT 1 FROM new_persons n WHERE CAST(n.id AS VARCHAR) = d.key AND n.version > d.version);

INSERT INTO lake.main.person_deletions (team_id, entity, key, version)
SELECT n.team_id, 'person', CAST(n.id AS VARCHAR), n.version
FROM new_persons n
WHERE n.is_deleted
  AND NOT EXISTS (SELECT 1 FROM lake.main.person_deletions d
                  WHERE d.team_id = $team_id AND d.entity = 'person' AND d.key = CAST(n.id AS VARCHAR)
                    AND d.version >= n.version)
  AND NOT EXISTS (SELECT 1 FROM lake.main.persons p
                  WHERE p.team_id = $team_id AND p.id = n.id AND p.version > n.version);
