"""alembic's entry point: runs on the connection ``backfill.migrations`` passes in (never a URL)."""

from __future__ import annotations

from alembic import context

from backfill.app_tables import version_table
from backfill.settings import APP_DB

connection = context.config.attributes["connection"]
dialect = connection.dialect.name
table, schema = version_table(dialect)
if dialect == "postgresql":
    # The version table lives in the package's schema, which must exist before alembic writes it.
    # Created only when missing: a role may lack CREATE on the database once the schema exists.
    exists = connection.exec_driver_sql(
        "SELECT 1 FROM pg_namespace WHERE nspname = %(name)s", {"name": APP_DB.schema}
    ).scalar()
    if not exists:
        quoted = connection.dialect.identifier_preparer.quote(APP_DB.schema)
        connection.exec_driver_sql(f"CREATE SCHEMA {quoted}")
context.configure(
    connection=connection,
    version_table=table,
    version_table_schema=schema,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
