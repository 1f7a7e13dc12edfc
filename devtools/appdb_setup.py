"""Stand in for the application: create its tables in an app DB, then migrate the package's.

Production app DBs already hold ``posthog_team`` and ``duckling_registry`` (the application owns them)
and only run ``python -m backfill db upgrade``. The tests, the demo and docker-compose's init have no
application, so they create its tables from the reference DDL first.
"""

from __future__ import annotations

from typing import Any

from backfill import sql as sqlt
from backfill.appdb import AppDB
from backfill.settings import SQL_DIR

APPLICATION_DDL = sorted(p.stem for p in (SQL_DIR / "schema" / "application").glob("*.sql"))


def create_application_tables(db: AppDB) -> None:
    """The application's tables, if missing (idempotent)."""
    with db.engine.begin() as conn:
        for name in APPLICATION_DDL:
            for stmt in sqlt.statements(f"schema/application/{name}"):
                conn.exec_driver_sql(stmt.text)


def prepare(db: AppDB) -> AppDB:
    """A ready app DB: the application's tables, then the package's at head."""
    create_application_tables(db)
    db.migrate()
    return db


def upsert_teams(db: AppDB, rows: list[dict[str, Any]]) -> None:
    """Write teams as the application would (id, name, web_analytics_pre_aggregated_tables_enabled)."""
    if not rows:
        return
    team = db.table("posthog_team")
    stmt = db.insert(team)
    stmt = stmt.on_conflict_do_update(
        index_elements=[team.c.id],
        set_={c: stmt.excluded[c] for c in ("name", "web_analytics_pre_aggregated_tables_enabled")},
    )
    with db.engine.begin() as conn:
        conn.execute(stmt, rows)
