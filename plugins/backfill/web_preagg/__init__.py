"""web_preagg_backfill: find and recompute missing web analytics pre-aggregated team-days.

Modules, in task order: params (validation, window), select_teams, detect, plan, recompute, report,
cleanup; tasks.py holds the thin adapters the DAG file wires together.
"""

from backfill.families import WEB_PREAGG as _FAMILY

FAMILY = _FAMILY.name
KIND = _FAMILY.kind
STATS = "web_pre_aggregated_stats"
BOUNCES = "web_pre_aggregated_bounces"
TABLES = (STATS, BOUNCES)
SHORT = {STATS: "stats", BOUNCES: "bounces"}
