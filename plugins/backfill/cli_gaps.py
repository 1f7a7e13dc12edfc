"""Gap report: per-team, per-day coverage of the pre-aggregated tables, without running anything.

  python -m backfill gaps web-preagg [--days-back 7] [--end-date 2024-03-31] [--team-ids 1,2,3]

Uses the DAG's detection code (one query) and the same team selection (app DB enabled teams plus the
WEB_ANALYTICS_ENABLED_TEAM_IDS env var) unless --team-ids is given. Connections come from the
AIRFLOW_CONN_CLICKHOUSE_DEFAULT / AIRFLOW_CONN_POSTHOG_DB environment variables (or Airflow's
configured secrets backend). Exit code 0 when complete, 1 when something is missing or stale.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from backfill.settings import WEB_PREAGG
from backfill.web_preagg import SHORT, TABLES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("family", choices=["web-preagg"], help="which backfill family to report on")
    parser.add_argument(
        "--days-back",
        type=int,
        default=WEB_PREAGG.gap_report_days_back,
        help=f"days in the window, 1-{WEB_PREAGG.max_lookback_days} (default {WEB_PREAGG.gap_report_days_back})",
    )
    parser.add_argument(
        "--end-date",
        type=dt.date.fromisoformat,
        default=None,
        help="last day of the window, YYYY-MM-DD (default: yesterday, UTC)",
    )
    parser.add_argument("--team-ids", default="", help="comma-separated team ids (default: enabled teams)")
    parser.add_argument(
        "--tables",
        default=",".join(SHORT[t] for t in TABLES),
        help="comma-separated: stats,bounces (default both)",
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON instead of the grid")


def main(args: argparse.Namespace) -> int:
    from backfill.appdb import AppDB
    from backfill.clickhouse import ClickHouse
    from backfill.ledger import Ledger
    from backfill.params import team_id_list
    from backfill.web_preagg.detect import detect
    from backfill.web_preagg.params import parse_params, resolve_window
    from backfill.web_preagg.report import coverage_grid
    from backfill.web_preagg.select_teams import configured_team_ids

    by_short = {v: k for k, v in SHORT.items()}
    try:
        tables = [by_short.get(t.strip(), t.strip()) for t in args.tables.split(",") if t.strip()]
        team_ids = team_id_list(args.team_ids, "--team-ids")
        params = parse_params(
            {
                "lookback_days": args.days_back,
                "tables": tables,
                "team_ids": team_ids,
                "end_date": args.end_date.isoformat() if args.end_date else None,
            }
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    window = resolve_window(params, None)
    with AppDB.from_conn_id() as appdb:
        if not team_ids:
            team_ids = set(appdb.web_analytics_enabled_team_ids())
            configured = configured_team_ids()
            team_ids = sorted(team_ids | set(configured[1] if configured else []))
        d = detect(
            ClickHouse.from_conn_id(), Ledger(appdb), list(team_ids), window, params.tables, dag_id="cli gaps"
        )
    if args.json:
        print(json.dumps(d.to_dict(), indent=2))
    else:
        print(coverage_grid(d))
    return 1 if d.missing or d.stale else 0
