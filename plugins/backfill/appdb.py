"""The application database (``posthog_db``): teams, the duckling registry and this package's tables.

One data-access layer for PostgreSQL (psycopg 3, production and tests) and SQLite (embedded demo):
SQLAlchemy Core, the tables declared in ``backfill.app_tables``.

Two owners share the database:
* the application's tables, ``posthog_team`` and ``duckling_registry``: read here, never altered
  (their shape is documented in include/sql/schema/application; the application creates them);
* the package's own tables, ``ledger``, ``coverage`` and ``duckling_team_state``: created and changed
  only by the alembic migrations in ``backfill.migrations``, in the PostgreSQL schema ``backfill``
  (on SQLite, with the table prefix ``backfill_``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from backfill import app_tables
from backfill.settings import CONNECTIONS


class AppDBSchemaError(RuntimeError):
    """The package's tables are missing or older than this code: the app DB needs ``db upgrade``."""


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
    schema_checked: bool = False

    @classmethod
    def from_url(cls, url: str | sa.URL) -> AppDB:
        engine = sa.create_engine(url, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            # The demo's file database: wait for a concurrent writer instead of failing at once.
            sa.event.listen(engine, "connect", lambda c, _: c.execute("PRAGMA busy_timeout = 30000"))
        return cls(engine)

    @classmethod
    def from_conn_id(cls, conn_id: str = CONNECTIONS.app_db) -> AppDB:
        """The app DB of an Airflow connection: ``postgres`` through the postgres provider (every extra
        of the connection reaches the driver: ``sslmode``, ``sslrootcert``, ``sslcert``, ``sslkey``,
        ``options``, ``iam``...), ``sqlite`` (the embedded demo) by its file path."""
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
        if (conn.conn_type or "").lower() in ("postgres", "postgresql"):
            return cls.from_postgres_connection(conn)
        return cls.from_url(url_from_connection(conn))

    @classmethod
    def from_postgres_connection(cls, conn: Any) -> AppDB:
        """SQLAlchemy on the postgres provider's hook: its URL names the database, its ``get_conn``
        opens each pooled connection with the connection's extras (and a fresh IAM token, if used)."""
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        hook = PostgresHook(postgres_conn_id=conn.conn_id, connection=conn)
        url = hook.sqlalchemy_url.set(drivername="postgresql+psycopg")  # psycopg 3, whatever the default
        return cls(sa.create_engine(url, creator=hook.get_conn, pool_pre_ping=True))

    def __enter__(self) -> AppDB:
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the pool: tasks open the app DB per task (``with AppDB.from_conn_id() as db:``)."""
        self.engine.dispose()

    def migrate(self, revision: str = "head") -> None:
        """Bring the package's tables to ``revision`` (idempotent; a deployment step, like
        ``airflow db migrate``: ``python -m backfill db upgrade``)."""
        from backfill import migrations

        migrations.upgrade(self.engine, revision)
        self.schema_checked = False

    def physical_name(self, name: str) -> tuple[str, str | None]:
        return app_tables.physical_name(name, self.dialect)

    def table(self, name: str) -> sa.Table:
        """A table by its name in the package (see ``app_tables``). The first use of one of the
        package's own tables checks, once, that the database is migrated to what this code needs."""
        table = app_tables.tables(self.dialect)[name]
        if not self.schema_checked and name in app_tables.PACKAGE_TABLES:
            self.check_schema()
        return table

    def check_schema(self) -> None:
        """One query: the package's alembic revision. Missing or older than this code: a clear error
        naming the command; a newer one (a migration ran ahead of this worker's code) is accepted."""
        from backfill.migrations import HEAD, REVISIONS

        found = app_tables.revision(self.engine)
        if found is None:
            raise AppDBSchemaError(
                "the app DB is not migrated (no package tables): run `python -m backfill db upgrade`"
            )
        if found in REVISIONS and REVISIONS.index(found) < REVISIONS.index(HEAD):
            raise AppDBSchemaError(
                f"the app DB is at revision {found}, this code needs {HEAD}: run `python -m backfill db upgrade`"
            )
        self.schema_checked = True

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
