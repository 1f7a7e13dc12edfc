"""The app DB's tables as this package uses them, declared once in code (SQLAlchemy Core).

Declared rather than reflected: reflecting costs every task several catalog round trips before its
first query (about a tenth of a second per table on PostgreSQL). The package's own tables match its
migrations (``backfill.migrations``); the application's are declared with only the columns the package
reads (the application's real tables may hold many more). tests/core/test_migrations.py reflects a
migrated database and compares it with these declarations, on both dialects.
"""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa

from backfill.settings import APP_DB

APPLICATION_TABLES = ("posthog_team", "duckling_registry")
PACKAGE_TABLES = ("ledger", "coverage", "duckling_team_state")


def physical_name(name: str, dialect: str) -> tuple[str, str | None]:
    """(table, schema) of a table by its name in the package: the package's own tables sit in their
    schema (PostgreSQL) or under their prefix (SQLite); the application's where it keeps them."""
    if name in APPLICATION_TABLES:
        return name, None
    if name not in PACKAGE_TABLES:
        raise KeyError(f"unknown app DB table {name!r}")
    if dialect == "postgresql":
        return name, APP_DB.schema
    return APP_DB.sqlite_prefix + name, None


def _columns(name: str) -> list[sa.Column]:
    text, big, day, at = sa.Text, sa.BigInteger, sa.Date, sa.DateTime
    if name == "posthog_team":
        return [
            sa.Column("id", big, primary_key=True, autoincrement=False),
            sa.Column("name", text),
            sa.Column("web_analytics_pre_aggregated_tables_enabled", sa.Boolean),
        ]
    if name == "duckling_registry":
        optional = (
            "db_host",
            "db_port",
            "db_database",
            "db_username",
            "db_password",
            "db_password_conn_id",
            "cross_account_role_arn",
            "cross_account_external_id",
            "catalog_path",
            "db_sslmode",  # optional columns: a registry without them reads as NULL (Registry.get)
            "db_sslrootcert",
        )
        return [
            sa.Column("team_id", big, primary_key=True, autoincrement=False),
            sa.Column("bucket", text, nullable=False),
            sa.Column("bucket_region", text, nullable=False, server_default="us-east-1"),
            *(sa.Column(c, sa.Integer if c == "db_port" else text) for c in optional),
        ]
    if name == "ledger":
        return [
            sa.Column("family", text, primary_key=True),
            sa.Column("team_id", big, primary_key=True, autoincrement=False),
            sa.Column("day", day, primary_key=True),
            sa.Column("kind", text, primary_key=True),
            sa.Column("status", text, nullable=False),
            sa.Column("claim_owner", text),
            sa.Column("lease_expires_at", at),
            sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
            sa.Column("source_count", big),
            sa.Column("target_count", big),
            sa.Column("files", text),
            sa.Column("detail", text),
            sa.Column("error", text),
            sa.Column("updated_at", at, nullable=False),
        ]
    if name == "coverage":
        return [
            sa.Column("family", text, primary_key=True),
            sa.Column("team_id", big, primary_key=True, autoincrement=False),
            sa.Column("day", day, primary_key=True),
            sa.Column("source_count", big, nullable=False),
            sa.Column("target_count", big),
            sa.Column("observed_state", text),
            sa.Column("observed_at", at, nullable=False),
            sa.Column("dag_id", text),
            sa.Column("run_id", text),
        ]
    if name == "duckling_team_state":
        return [
            sa.Column("team_id", big, primary_key=True, autoincrement=False),
            sa.Column("earliest_day", day),
            sa.Column("full_persons_exported_at", at),
        ]
    raise KeyError(f"unknown app DB table {name!r}")


@cache
def tables(dialect: str) -> dict[str, sa.Table]:
    """Every table, by its name in the package, for a dialect (``postgresql`` | ``sqlite``)."""
    meta = sa.MetaData()
    out = {}
    for name in APPLICATION_TABLES + PACKAGE_TABLES:
        physical, schema = physical_name(name, dialect)
        out[name] = sa.Table(physical, meta, *_columns(name), schema=schema)
    return out


def revision(engine: sa.Engine) -> str | None:
    """The package's alembic revision in this database (one query, no alembic import); None when it
    was never migrated."""
    physical, schema = version_table(engine.dialect.name)
    version = sa.table(physical, sa.column("version_num"), schema=schema)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(version.c.version_num)).scalar()
    except (sa.exc.ProgrammingError, sa.exc.OperationalError):
        if sa.inspect(engine).has_table(physical, schema=schema):
            raise
        return None


def version_table(dialect: str) -> tuple[str, str | None]:
    """(table, schema) of alembic's version table for this package on a dialect."""
    if dialect == "postgresql":
        return "alembic_version", APP_DB.schema
    return f"{APP_DB.sqlite_prefix}alembic_version", None
