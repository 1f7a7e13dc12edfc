"""The package's tables move out of the application's namespace.

PostgreSQL: into the package's own schema, ``backfill`` by default (``backfill.ledger``, ``backfill.coverage``,
``backfill.duckling_team_state``); indexes, keys and rows move with them (``ALTER TABLE … SET
SCHEMA`` rewrites nothing). SQLite has no schemas: the tables take the prefix ``backfill_``
(``backfill_ledger`` and ``backfill_coverage`` already carry it).
"""

from __future__ import annotations

from alembic import op

from backfill.settings import APP_DB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = APP_DB.schema
PREFIX = APP_DB.sqlite_prefix
# baseline name -> name in the package's namespace (PostgreSQL: inside SCHEMA; SQLite: PREFIX + name)
RENAMES = {
    "backfill_ledger": "ledger",
    "backfill_coverage": "coverage",
    "duckling_team_state": "duckling_team_state",
}


def _pg_schema_of(table: str) -> str:
    """The schema the baseline put ``table`` in: wherever the search path resolved it."""
    row = op.get_bind().exec_driver_sql(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.oid = to_regclass(%(name)s)",
        {"name": table},
    )
    found = row.scalar()
    if found is None:
        raise RuntimeError(f"table {table} not found on the search path; is the baseline applied?")
    return found


def _quote(name: str) -> str:
    return op.get_bind().dialect.identifier_preparer.quote(name)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(SCHEMA)}")
        for old, new in RENAMES.items():
            source = _pg_schema_of(old)
            if source != SCHEMA:
                op.execute(f"ALTER TABLE {_quote(source)}.{_quote(old)} SET SCHEMA {_quote(SCHEMA)}")
            if old != new:
                op.execute(f"ALTER TABLE {_quote(SCHEMA)}.{_quote(old)} RENAME TO {_quote(new)}")
        return
    for old, new in RENAMES.items():
        if old != PREFIX + new:
            op.execute(f"ALTER TABLE {_quote(old)} RENAME TO {_quote(PREFIX + new)}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        target = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar()
        for old, new in RENAMES.items():
            if old != new:
                op.execute(f"ALTER TABLE {_quote(SCHEMA)}.{_quote(new)} RENAME TO {_quote(old)}")
            op.execute(f"ALTER TABLE {_quote(SCHEMA)}.{_quote(old)} SET SCHEMA {_quote(target)}")
        return
    for old, new in RENAMES.items():
        if old != PREFIX + new:
            op.execute(f"ALTER TABLE {_quote(PREFIX + new)} RENAME TO {_quote(old)}")
