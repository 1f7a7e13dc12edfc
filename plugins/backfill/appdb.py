"""The application database (``posthog_db``): teams, the duckling registry and this package's ledger.

One data-access layer for PostgreSQL (psycopg 3, production and tests) and SQLite (embedded demo):
SQLAlchemy Core. The tables are defined once, by the DDL files in include/sql/schema/app, and
reflected from the database, so the SQL files stay the single source of truth for the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from backfill import sql as sqlt
from backfill.settings import CONNECTIONS, SQL_DIR

APP_SCHEMA_FILES = sorted(p.stem for p in (SQL_DIR / "schema" / "app").glob("*.sql"))


def url_from_connection(conn: Any) -> sa.URL:
    """Build a SQLAlchemy URL from an Airflow connection (``postgres`` or ``sqlite``)."""
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        path = conn.host or (conn.extra_dejson or {}).get("path") or conn.schema
        return sa.URL.create("sqlite", database=path)
    if conn_type in ("postgres", "postgresql"):
        return sa.URL.create(
            "postgresql+psycopg",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
        )
    raise ValueError(f"posthog_db must be a postgres or sqlite connection, got type {conn.conn_type!r}")


@dataclass
class AppDB:
    engine: sa.Engine

    @classmethod
    def from_url(cls, url: str | sa.URL) -> AppDB:
        engine = sa.create_engine(url, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            # The demo's file database: wait for a concurrent writer instead of failing at once.
            sa.event.listen(engine, "connect", lambda c, _: c.execute("PRAGMA busy_timeout = 30000"))
        return cls(engine)

    @classmethod
    def from_conn_id(cls, conn_id: str = CONNECTIONS.app_db) -> AppDB:
        from airflow.sdk import BaseHook

        return cls.from_url(url_from_connection(BaseHook.get_connection(conn_id)))

    def __enter__(self) -> AppDB:
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the pool: tasks open the app DB per task (``with AppDB.from_conn_id() as db:``)."""
        self.engine.dispose()

    def create_schema(self) -> None:
        """Create the app tables if missing (idempotent)."""
        with self.engine.begin() as conn:
            for name in APP_SCHEMA_FILES:
                for stmt in sqlt.statements(f"schema/app/{name}"):
                    conn.exec_driver_sql(stmt.text)
        self.__dict__.pop("tables", None)

    @cached_property
    def tables(self) -> sa.MetaData:
        meta = sa.MetaData()
        meta.reflect(
            self.engine,
            only=[
                "posthog_team",
                "duckling_registry",
                "backfill_ledger",
                "duckling_team_state",
                "backfill_coverage",
            ],
        )
        return meta

    def table(self, name: str) -> sa.Table:
        return self.tables.tables[name]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def insert(self, table: sa.Table):
        """A dialect-specific INSERT that supports ``on_conflict_do_update``."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    # --- teams --------------------------------------------------------------------------------
    def web_analytics_enabled_team_ids(self) -> list[int]:
        team = self.table("posthog_team")
        stmt = sa.select(team.c.id).where(team.c.web_analytics_pre_aggregated_tables_enabled.is_(True))
        with self.engine.connect() as conn:
            return sorted(int(r[0]) for r in conn.execute(stmt))

    def upsert_teams(self, rows: list[dict[str, Any]]) -> None:
        team = self.table("posthog_team")
        if not rows:
            return
        stmt = self.insert(team)
        stmt = stmt.on_conflict_do_update(
            index_elements=[team.c.id],
            set_={c: stmt.excluded[c] for c in ("name", "web_analytics_pre_aggregated_tables_enabled")},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)
