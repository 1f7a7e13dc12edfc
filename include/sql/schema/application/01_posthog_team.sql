-- The application's teams: the columns of PostHog's posthog_team this package reads. The application owns
-- this table; the package never runs this DDL (the tests, the demo and docker-compose's init stand in for
-- the application). Portable SQL: PostgreSQL and SQLite.
CREATE TABLE IF NOT EXISTS posthog_team (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    web_analytics_pre_aggregated_tables_enabled BOOLEAN NOT NULL DEFAULT FALSE
);
