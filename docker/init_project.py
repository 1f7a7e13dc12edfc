"""airflow-init's project step (docker-compose.yaml): idempotent, run after `airflow db migrate`.

Uses the package itself, through the same Airflow connections the DAGs use, so the schema created
here is exactly what the DAGs expect:
* the application's tables in ``posthog_db`` (include/sql/schema/application), then the package's
  (its alembic migrations),
* the ClickHouse source and target tables in ``clickhouse_default`` (include/sql/schema/clickhouse),
* an empty PostgreSQL database for duckling catalogs (DUCKLING_CATALOG_DB, default duckling_catalog)
  on the app DB's server, which duckling_registry rows can point at.
"""

from __future__ import annotations

import os
import time

import psycopg
from psycopg import sql

from backfill import sql as sqlt
from backfill.appdb import AppDB
from backfill.clickhouse import ClickHouse
from backfill.clickhouse_schema import create_clickhouse_schema
from backfill.settings import CONNECTIONS, SQL_DIR


def _retry(what, fn, attempts: int = 30, wait_s: float = 2.0):
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:  # services may still be starting despite their health checks
            if attempt == attempts:
                raise
            print(f"{what}: {exc}; retrying in {wait_s:.0f}s")
            time.sleep(wait_s)


def create_catalog_database(name: str) -> None:
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(CONNECTIONS.app_db)
    with psycopg.connect(
        host=conn.host,
        port=conn.port or 5432,
        user=conn.login,
        password=conn.password,
        dbname=conn.schema,
        autocommit=True,
    ) as pg:
        if not pg.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            pg.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def prepare_app_db() -> None:
    with AppDB.from_conn_id() as db:
        with db.engine.begin() as conn:
            for path in sorted((SQL_DIR / "schema" / "application").glob("*.sql")):
                for stmt in sqlt.statements(f"schema/application/{path.stem}"):
                    conn.exec_driver_sql(stmt.text)
        db.migrate()


def main() -> None:
    # The compose stack has no application: its tables are created from the reference DDL, then the
    # package's own tables are migrated (what a production deployment runs: python -m backfill db upgrade).
    _retry("app DB schema", prepare_app_db)
    print("app DB schema ready")
    _retry("ClickHouse schema", lambda: create_clickhouse_schema(ClickHouse.from_conn_id()))
    print("ClickHouse schema ready")
    catalog = os.environ.get("DUCKLING_CATALOG_DB", "duckling_catalog")
    _retry("duckling catalog database", lambda: create_catalog_database(catalog))
    print(f"duckling catalog database {catalog} ready")


if __name__ == "__main__":
    main()
