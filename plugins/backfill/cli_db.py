"""App DB schema: migrate the package's own tables (alembic), show where a database stands.

  python -m backfill db upgrade [--revision REV]   bring the package's tables to REV (default head)
  python -m backfill db current                    the database's revision and the package's head
  python -m backfill db history                    every revision, baseline first

A deployment step, like ``airflow db migrate``: run it once per release, before the DAGs. It never
touches the application's tables (posthog_team, duckling_registry). The app DB comes from the
AIRFLOW_CONN_POSTHOG_DB environment variable (or Airflow's configured secrets backend).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("upgrade", help="migrate the package's tables")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    sub.add_parser("current", help="the database's revision")
    sub.add_parser("history", help="the revisions, baseline first")


def main(args: argparse.Namespace) -> int:
    from backfill import migrations

    if args.action == "history":
        for revision, message in migrations.history():
            print(f"{revision}  {message}")
        return 0
    from backfill.appdb import AppDB

    with AppDB.from_conn_id() as db:
        if args.action == "upgrade":
            before = migrations.current(db.engine)
            db.migrate(args.revision)
            print(f"app DB: {before or 'not versioned'} -> {migrations.current(db.engine)}")
            return 0
        revision, head = migrations.current(db.engine), migrations.head()
        print(f"app DB: {revision or 'not versioned'} (package head: {head})")
        return 0 if revision == head else 1
