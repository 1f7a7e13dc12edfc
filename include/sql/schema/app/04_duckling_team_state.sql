-- Per-team facts of the full duckling backfill, cached so ClickHouse is asked once:
-- earliest_day = the team's first day with events; full_persons_exported_at = first full snapshot.
CREATE TABLE IF NOT EXISTS duckling_team_state (
    team_id BIGINT PRIMARY KEY,
    earliest_day DATE,
    full_persons_exported_at TIMESTAMP
);
