-- The duckling's person_deletions rewritten as new files without the plain-text tombstones of erased
-- persons and their ids (temp table erased_keys), inside the caller's DuckLake transaction; then the
-- erasure's own tombstones, which hold only SHA-256 digests of the keys (entities erased_person,
-- erased_distinct_id, erasure_kept_id): later merges and registrations drop any row of an erased person
-- by them, and no file holds the ids themselves.
CREATE OR REPLACE TEMP TABLE rewrite_rows AS
SELECT * FROM lake.main.person_deletions
WHERE NOT (entity IN ('person', 'distinct_id')
           AND key IN (SELECT key FROM erased_keys WHERE kind = entity));

INSERT INTO rewrite_rows
SELECT DISTINCT $team_id, 'erased_' || k.kind, sha256(k.key), k.version
FROM erased_keys k
WHERE k.kind IN ('person', 'distinct_id')
  AND NOT EXISTS (SELECT 1 FROM rewrite_rows r WHERE r.entity = 'erased_' || k.kind AND r.key = sha256(k.key))
UNION ALL
SELECT DISTINCT $team_id, 'erasure_kept_id', sha256(k.key), k.version
FROM erased_keys k
WHERE k.kind = 'kept_id'
  AND NOT EXISTS (SELECT 1 FROM rewrite_rows r WHERE r.entity = 'erasure_kept_id' AND r.key = sha256(k.key));

DELETE FROM lake.main.person_deletions;

INSERT INTO lake.main.person_deletions SELECT * FROM rewrite_rows;

DROP TABLE rewrite_rows;
