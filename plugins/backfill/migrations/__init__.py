"""The app DB's schema history, versioned with alembic (it ships with Airflow).

The package's own tables (ledger, coverage, duckling_team_state) live in their own PostgreSQL schema
(``backfill``) or, on SQLite, under the table prefix ``backfill_``; so does alembic's version table, so
an app DB that is also Airflow's metadata DB keeps both histories apart. The application's tables
(posthog_team, duckling_registry) are read, never altered: no migration names them.

``upgrade(engine)`` brings any app DB to head: a fresh one, a database made by the pre-alembic
``create_schema`` (the baseline is exactly that DDL, ``IF NOT EXISTS``, so it stamps such a database
without touching it) or one at any earlier revision.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from backfill.app_tables import revision

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.config import Config

SCRIPT_DIR = Path(__file__).resolve().parent
# Every revision, oldest first; the last is what this code needs (a test compares it with the scripts).
# Kept here so a task checks its database without importing alembic.
REVISIONS = ("0001", "0002")
HEAD = REVISIONS[-1]


def _config(connection: sa.Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate to ``revision`` in one transaction (PostgreSQL runs DDL transactionally)."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(_config(conn), revision)


def current(engine: sa.Engine) -> str | None:
    """The database's revision, None when it has never been migrated."""
    return revision(engine)


def head() -> str:
    """The head of the revision scripts (equals HEAD; a test checks it)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(SCRIPT_DIR)).get_current_head()


def history() -> list[tuple[str, str]]:
    """(revision, message) from the baseline to head."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(SCRIPT_DIR))
    return [(s.revision, s.doc) for s in reversed(list(script.walk_revisions()))]
