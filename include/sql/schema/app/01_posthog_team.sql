-- The application's teams (a subset of PostHog's posthog_team). Portable SQL: PostgreSQL and SQLite.
CREATE TABLE IF NOT EXISTS posthog_team (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    web_analytics_pre_aggregated_tables_enabled BOOLEAN NOT NULL DEFAULT FALSE
);
