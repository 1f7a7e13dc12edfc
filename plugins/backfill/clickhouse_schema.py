"""Create the ClickHouse source and target tables from include/sql/schema/clickhouse (idempotent)."""

from __future__ import annotations

from backfill.clickhouse import ClickHouse
from backfill.settings import SQL_DIR

CLICKHOUSE_SCHEMA_FILES = sorted(p.stem for p in (SQL_DIR / "schema" / "clickhouse").glob("*.sql"))


def create_clickhouse_schema(ch: ClickHouse) -> None:
    for name in CLICKHOUSE_SCHEMA_FILES:
        ch.run_statements(f"schema/clickhouse/{name}")
