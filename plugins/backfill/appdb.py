"""The application database (``posthog_db``): teams, the duckling registry and this package's tables.

One data-access layer for PostgreSQL (psycopg 3, production and tests) and SQLite (embedded demo):
SQLAlchemy Core, tables reflected from the database.

Two owners share the database:
* the application's tables, ``posthog_team`` and ``duckling_registry``: read here, never altered
  (their shape is documented in include/sql/schema/application; the application creates them);
* the package's own tables, ``ledger``, ``coverage`` and ``duckling_team_state``: created and changed
  only by the alembic migrations in ``backfill.migrations``, in the PostgreSQL schema ``backfill``
  (on SQLite, with the table prefix ``backfill_``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from backfill.settings import APP_DB, CONNECTIONS

APPLICATION_TABLES = ("posthog_team", "duckling_registry")
PACKAGE_TABLES = ("ledger", "coverage", "duckling_team_state")


class AppDBSchemaError(RuntimeError):
    """A table the package needs is missing: the app DB is not migrated, or lacks an application table."""


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
    _tables: dict[str, sa.Table] = field(default_factory=dict, repr=False)

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

    def migrate(self, revision: str = "head") -> None:
        """Bring the package's tables to ``revision`` (idempotent; a deployment step, like
        ``airflow db migrate``: ``python -m backfill db upgrade``)."""
        from backfill import migrations

        migrations.upgrade(self.engine, revision)
        self._tables.clear()

    def physical_name(self, name: str) -> tuple[str, str | None]:
        """(table, schema) of a table by its name in the package: the package's own tables sit in
        their schema (PostgreSQL) or under their prefix (SQLite); the application's where it keeps them."""
        if name in APPLICATION_TABLES:
            return name, None
        if name not in PACKAGE_TABLES:
            raise KeyError(f"unknown app DB table {name!r}")
        if self.dialect == "postgresql":
            return name, APP_DB.schema
        return APP_DB.sqlite_prefix + name, None

    def table(self, name: str) -> sa.Table:
        """The reflected table, by its name in the package (see ``physical_name``)."""
        if name not in self._tables:
            physical, schema = self.physical_name(name)
            try:
                self._tables[name] = sa.Table(
                    physical, sa.MetaData(), schema=schema, autoload_with=self.engine
                )
            except sa.exc.NoSuchTableError:
                where = f"{schema}.{physical}" if schema else physical
                if name in APPLICATION_TABLES:
                    hint = "it belongs to the application (include/sql/schema/application shows its shape)"
                else:
                    hint = "the app DB is not migrated: run `python -m backfill db upgrade`"
                raise AppDBSchemaError(f"app DB table {where} does not exist; {hint}") from None
        return self._tables[name]

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
