-- What each family's detection saw, per (team, day): the source count then, and (web_preagg) the state it
-- decided. The coverage page, its JSON, the PNG and the freshness check read this and the ledger, never
-- ClickHouse. One row per (family, team, day), overwritten by the latest detection that looked at it.
--   source_count: events (duckling) or counted pageviews (web_preagg) in the source when observed
--   target_count: what the target held then (web_preagg: the smaller table's pageviews), NULL if unknown
--   observed_state: the detection's verdict (web_preagg: done | missing | stale | no_traffic), NULL when
--                   the state follows from the ledger (duckling)
CREATE TABLE IF NOT EXISTS backfill_coverage (
    family TEXT NOT NULL,
    team_id BIGINT NOT NULL,
    day DATE NOT NULL,
    source_count BIGINT NOT NULL,
    target_count BIGINT,
    observed_state TEXT,
    observed_at TIMESTAMP NOT NULL,
    dag_id TEXT,
    run_id TEXT,
    PRIMARY KEY (family, team_id, day)
);
CREATE INDEX IF NOT EXISTS backfill_coverage_day ON backfill_coverage (family, day);
