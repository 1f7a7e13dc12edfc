-- Persons, versioned: the row with the highest version per (team_id, id) is the current state;
-- is_deleted = 1 on that row means the person was deleted. _timestamp is when the version was written.
CREATE TABLE IF NOT EXISTS person
(
    id UUID,
    created_at DateTime64(3, 'UTC'),
    team_id Int64,
    properties String,
    is_identified Int8,
    is_deleted Int8 DEFAULT 0,
    version UInt64,
    _timestamp DateTime('UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (team_id, id);
