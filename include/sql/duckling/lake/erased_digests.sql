-- The team's erasure tombstones (SHA-256 digests): what a merge or a registration must never write back.
SELECT entity, key FROM lake.main.person_deletions
WHERE team_id = $team_id AND entity IN ('erased_person', 'erased_distinct_id', 'erasure_kept_id')
