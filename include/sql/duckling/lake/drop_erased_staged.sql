-- Staged persons rows (temp tables new_persons, new_distinct_ids) of erased persons, dropped before the
-- merge by their digests: an older or in-flight export never writes an erased person or id back.
DELETE FROM new_persons
WHERE sha256(CAST(id AS VARCHAR)) IN (SELECT key FROM lake.main.person_deletions
                                      WHERE team_id = $team_id AND entity = 'erased_person');

DELETE FROM new_distinct_ids
WHERE sha256(distinct_id) IN (SELECT key FROM lake.main.person_deletions
                              WHERE team_id = $team_id AND entity = 'erased_distinct_id')
   OR (sha256(CAST(person_id AS VARCHAR)) IN (SELECT key FROM lake.main.person_deletions
                                              WHERE team_id = $team_id AND entity = 'erased_person')
       AND sha256(distinct_id) NOT IN (SELECT key FROM lake.main.person_deletions
                                       WHERE team_id = $team_id AND entity = 'erasure_kept_id'));
