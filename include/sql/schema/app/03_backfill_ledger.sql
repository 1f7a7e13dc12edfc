-- This package's own ledger: one row per (family, team, day, kind) partition.
--   status: claimed | exported | done | failed | skipped | deferred (planned over a run's cap)
--   claim_owner + lease_expires_at: a claim is live while lease_expires_at > now (UTC).
--   source_count: what the source had when the partition was written (stale/late-event baseline).
--   target_count: what the target held after the write (verification).
--   files: JSON list of object keys written for this partition (duckling); detail: JSON, free form.
CREATE TABLE IF NOT EXISTS backfill_ledger (
    family TEXT NOT NULL,
    team_id BIGINT NOT NULL,
    day DATE NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    claim_owner TEXT,
    lease_expires_at TIMESTAMP,
    attempts INTEGER NOT NULL DEFAULT 0,
    source_count BIGINT,
    target_count BIGINT,
    files TEXT,
    detail TEXT,
    error TEXT,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (family, team_id, day, kind)
);
CREATE INDEX IF NOT EXISTS backfill_ledger_status ON backfill_ledger (family, status, day);
CREATE INDEX IF NOT EXISTS backfill_ledger_updated ON backfill_ledger (updated_at);
