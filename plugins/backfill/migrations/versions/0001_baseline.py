"""Baseline: the package's tables exactly as the pre-alembic create_schema made them.

Every statement is ``IF NOT EXISTS``, so on a database that create_schema already set up this revision
changes nothing and only stamps it. Frozen: later changes are new revisions, never edits here. The
application's tables (posthog_team, duckling_registry) were created by create_schema too; they are not
part of this history, because the package does not own them.
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = (
    """
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
    )
    """,
    "CREATE INDEX IF NOT EXISTS backfill_ledger_status ON backfill_ledger (family, status, day)",
    "CREATE INDEX IF NOT EXISTS backfill_ledger_updated ON backfill_ledger (updated_at)",
    """
    CREATE TABLE IF NOT EXISTS duckling_team_state (
        team_id BIGINT PRIMARY KEY,
        earliest_day DATE,
        full_persons_exported_at TIMESTAMP
    )
    """,
    """
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
    )
    """,
    "CREATE INDEX IF NOT EXISTS backfill_coverage_day ON backfill_coverage (family, day)",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("backfill_coverage", "duckling_team_state", "backfill_ledger"):
        op.drop_table(table)
