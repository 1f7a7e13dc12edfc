"""Fixtures for the web_preagg tests: the demo world with deliberate gaps (see wp_helpers)."""

from __future__ import annotations

import pytest
from wp_helpers import BOUNCES, ENABLED, SPEC, STATS, build_world, tq

from backfill.ledger import Ledger
from devtools import appdb_setup

WORLD_TABLES = ("events", "person_distinct_id_overrides", STATS, BOUNCES)
# raw_sessions is rebuilt by its materialized view when the events are restored


@pytest.fixture(scope="session")
def world_snapshot(clickhouse_session):
    """Build the demo world once per test session and keep copies of its tables."""
    ch = clickhouse_session
    build_world(ch)
    for table in WORLD_TABLES:
        ch.query(tq("drop"), {"t": f"wp_snap_{table}"})
        ch.query(tq("snapshot_save"), {"src": table, "dst": f"wp_snap_{table}"})
    return ch


@pytest.fixture
def world(world_snapshot, appdb):
    """Demo data with gaps in ClickHouse, restored fresh for each test; teams 1-3 enabled in the app DB
    (team 4 has events but is not enabled)."""
    ch = world_snapshot
    for table in ("person", "person_distinct_id2", "raw_sessions", *WORLD_TABLES):
        ch.query(tq("truncate"), {"t": table})
    for table in WORLD_TABLES:
        ch.query(tq("snapshot_restore"), {"src": f"wp_snap_{table}", "dst": table})
    appdb_setup.upsert_teams(
        appdb,
        [
            {"id": t, "name": f"team {t}", "web_analytics_pre_aggregated_tables_enabled": t in ENABLED}
            for t in SPEC.team_ids
        ],
    )
    return ch


@pytest.fixture
def ledger(appdb):
    return Ledger(appdb)


@pytest.fixture
def dag(dag_module):
    """dags/web_preagg_backfill.py, loaded fresh."""
    return dag_module("web_preagg_backfill")
