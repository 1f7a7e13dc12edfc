-- distinct_id -> person overrides, shaped like PostHog's person_distinct_id_overrides: written when a
-- person merge moves a distinct id after its events were ingested. The highest version per
-- (team_id, distinct_id) wins; is_deleted = 1 on that version means "no override any more".
CREATE TABLE IF NOT EXISTS person_distinct_id_overrides
(
    team_id Int64,
    distinct_id String,
    person_id UUID,
    is_deleted Int8,
    version Int64,
    _timestamp DateTime('UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (team_id, distinct_id);
