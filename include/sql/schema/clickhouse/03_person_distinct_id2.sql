-- distinct_id -> person mapping, versioned like PostHog's person_distinct_id2: the highest version per
-- (team_id, distinct_id) wins; a move to another person is a new version, a deletion sets is_deleted.
CREATE TABLE IF NOT EXISTS person_distinct_id2
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
