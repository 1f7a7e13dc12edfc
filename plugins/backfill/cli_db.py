"""App DB schema: migrate the package's own tables (alembic), show where a database stands.

  python -m backfill db upgrade [--revision REV]   bring the package's tables to REV (default head)
  python -m backfill db current                    the database's revision and the package's head
  python -m backfill db history                    every revision, baseline first
  python -m backfill db patch-parts [--enable]     ClickHouse: can web_preagg deletes be patch parts?

A deployment step, like ``airflow db migrate``: run it once per release, before the DAGs. It never
touches the application's tables (posthog_team, duckling_registry). The app DB is the connection
``posthog_db`` wherever the deployment keeps it: an AIRFLOW_CONN_POSTHOG_DB environment variable, the
configured secrets backend, or Airflow's metadata DB (a connection made in the UI).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("upgrade", help="migrate the package's tables")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    sub.add_parser("current", help="the database's revision")
    sub.add_parser("history", help="the revisions, baseline first")
    pp = sub.add_parser("patch-parts", help="ClickHouse: patch-part deletes of the pre-aggregated tables")
    pp.add_argument("--enable", action="store_true", help="turn them on (ALTER TABLE ... MODIFY SETTING)")


def main(args: argparse.Namespace) -> int:
    from backfill import migrations

    if args.action == "patch-parts":
        return _patch_parts(enable=args.enable)
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


def _patch_parts(*, enable: bool) -> int:
    """A stale web_preagg team-day deletes the team's old rows: a patch part on a ready table (about
    the cost of an insert), else a mutation (seconds each). The migration is opt-in: it alters tables the
    daily job owns."""
    from backfill.clickhouse import ClickHouse
    from backfill.web_preagg.recompute import enable_patch_parts, patch_parts

    ch = ClickHouse.from_conn_id()
    status = enable_patch_parts(ch) if enable else patch_parts(ch)
    print(
        f"server knows lightweight_delete_mode (25.7+): {'yes' if status.server else 'no'}; "
        f"pre-aggregated tables with block number and offset columns: {status.tables} of 2; "
        f"stale team-days delete by {'patch part' if status.ready else 'mutation'}"
    )
    return 0 if status.ready else 1
