-- Whether an exported events row belongs to an erased person, by the team's erasure digests (temp table
-- erased_digests(entity, key), loaded from person_deletions). NULL-safe.
coalesce(sha256(distinct_id) IN (SELECT key FROM erased_digests WHERE entity = 'erased_distinct_id')
         OR (sha256(CAST(person_id AS VARCHAR)) IN (SELECT key FROM erased_digests WHERE entity = 'erased_person')
             AND sha256(distinct_id) NOT IN (SELECT key FROM erased_digests WHERE entity = 'erasure_kept_id')),
         false)
