-- Raw events, shaped like PostHog's sharded_events: a ReplacingMergeTree, so one uuid can exist in
-- several parts until a merge; readers that need one row per event deduplicate by uuid.
CREATE TABLE IF NOT EXISTS events
(
    uuid UUID,
    event String,
    properties String,                       -- JSON object as text ($current_url, $host, utm_*, ...)
    timestamp DateTime64(6, 'UTC'),
    team_id Int64,
    distinct_id String,
    person_id UUID,
    session_id String,                       -- PostHog's materialized `$session_id`
    elements_chain String,
    created_at DateTime64(6, 'UTC'),
    _timestamp DateTime('UTC')               -- ingestion time; the replacing version
)
ENGINE = ReplacingMergeTree(_timestamp)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (team_id, toDate(timestamp), event, cityHash64(distinct_id), cityHash64(uuid));
