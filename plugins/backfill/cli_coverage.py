"""Coverage picture: the team x day heatmap of a family, from what the runs stored (no ClickHouse).

  python -m backfill coverage [--family web_preagg|duckling] [--start D] [--end D] [--teams 1,2]
                              [--png FILE] [--json]

Same states and colours as the coverage page in the Airflow UI. The app DB comes from the
AIRFLOW_CONN_POSTHOG_DB environment variable (or Airflow's configured secrets backend).
"""

from __future__ import annotations

import argparse
import json
import sys

from backfill.coverage import FAMILIES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--family", default="web_preagg", choices=sorted(FAMILIES))
    parser.add_argument("--start", help="first day, YYYY-MM-DD (default: 30 days before --end)")
    parser.add_argument("--end", help="last day, YYYY-MM-DD (default: yesterday, UTC)")
    parser.add_argument("--teams", default="", help="comma-separated team ids (default: every team seen)")
    parser.add_argument("--png", help="write the heatmap to this PNG file")
    parser.add_argument("--json", action="store_true", help="print the grid as JSON")


def main(args: argparse.Namespace) -> int:
    from backfill.appdb import AppDB
    from backfill.coverage import grid
    from backfill.coverage_view import Query, render_png

    try:
        query = Query.parse(args.family, args.start, args.end, args.teams)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with AppDB.from_conn_id() as db:
        g = grid(db, query.family, query.start, query.end, query.team_ids)
    if args.png:
        render_png(g, args.png)
        print(
            f"wrote {args.png}: {len(g.team_ids)} teams x {(g.end - g.start).days + 1} days", file=sys.stderr
        )
    if args.json:
        print(json.dumps(g.to_dict(), indent=2, default=str))
    elif not args.png:
        counts = g.counts()
        print(f"{g.family} {g.start}..{g.end}: " + ", ".join(f"{s} {n}" for s, n in counts.items()))
    return 0
