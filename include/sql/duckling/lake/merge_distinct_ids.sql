-- Apply the staged distinct ids (temp table new_distinct_ids) to the lake, version-guarded like persons.
DELETE FROM lake.main.person_distinct_ids AS p
WHERE p.team_id = $team_id
  AND EXISTS (SELECT 1 FROM new_distinct_ids n WHERE n.distinct_id = p.distinct_id AND n.version > p.version);

INSERT INTO lake.main.person_distinct_ids (team_id, distinct_id, person_id, version)
SELECT n.team_id, n.distinct_id, n.person_id, n.version
FROM new_distinct_ids n
WHERE NOT n.is_deleted
  AND NOT EXISTS (SELECT 1 FROM lake.main.person_distinct_ids p
                  WHERE p.team_id = $team_id AND p.distinct_id = n.distinct_id AND p.version >= n.version)
  AND NOT EXISTS (SELECT 1 FROM lake.main.person_deletions d
                  WHERE d.team_id = $team_id AND d.entity = 'distinct_id' AND d.key = n.distinct_id
                    AND d.version >= n.version);

DELETE FROM lake.main.person_deletions AS d
WHERE d.team_id = $team_id AND d.entity = 'distinct_id'
  AND EXISTS (SELECT 1 FROM new_distinct_ids n WHERE n.distinct_id = d.key AND n.version > d.version);

INSERT INTO lake.main.person_deletions (team_id, entity, key, version)
SELECT n.team_id, 'distinct_id', n.distinct_id, n.version
FROM new_distinct_ids n
WHERE n.is_deleted
  AND NOT EXISTS (SELECT 1 FROM lake.main.person_deletions d
                  WHERE d.team_id = $team_id AND d.entity = 'distinct_id' AND d.key = n.distinct_id
                    AND d.version >= n.version)
  AND NOT EXISTS (SELECT 1 FROM lake.main.person_distinct_ids p
                  WHERE p.team_id = $team_id AND p.distinct_id = n.distinct_id AND p.version > n.version);
