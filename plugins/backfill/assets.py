"""The Airflow assets this package updates, so downstream DAGs can schedule on them.

* ``duckling://team-<id>/events`` and ``duckling://team-<id>/persons``: one asset per team's duckling
  table. Each successful register emits an event for its team and kind (``extra``: team, day, kind,
  rows), through the alias ``backfill_duckling_registrations`` (the teams are known only at run time).
* ``clickhouse://web_pre_aggregated_stats`` and ``clickhouse://web_pre_aggregated_bounces``: each
  web_preagg recompute emits an event per table it rewrote (``extra``: team, day), through the alias
  ``backfill_web_preagg_recomputes``.

A downstream DAG schedules on one team's asset, on a table, or on an alias (any of them). A task that
did not write (a partition claimed by another run, a dry run) emits nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Asset, AssetAlias

DUCKLING_REGISTRATIONS = AssetAlias(name="backfill_duckling_registrations", group="duckling")
WEB_PREAGG_RECOMPUTES = AssetAlias(name="backfill_web_preagg_recomputes", group="web_preagg")

PERSONS_KINDS = {"persons", "persons_full"}  # both update the duckling's persons tables


def duckling_asset(team_id: int, kind: str) -> Asset:
    table = "persons" if kind in PERSONS_KINDS else kind
    return Asset(name=f"duckling_team_{int(team_id)}_{table}", uri=f"duckling://team-{int(team_id)}/{table}",
                 group="duckling")  # fmt: skip


def web_preagg_asset(table: str) -> Asset:
    return Asset(name=table, uri=f"clickhouse://{table}", group="web_preagg")


def emit_registration(ctx: Mapping[str, Any], result: Mapping[str, Any]) -> None:
    """An event for the team's duckling table, when ``result`` says the partition was registered."""
    if result.get("status") != "done":
        return
    extra = {"team_id": int(result["team_id"]), "day": str(result["day"]), "kind": result["kind"],
             "rows": result.get("target_count")}  # fmt: skip
    ctx["outlet_events"][DUCKLING_REGISTRATIONS].add(
        duckling_asset(result["team_id"], result["kind"]), extra=extra
    )


def emit_recompute(ctx: Mapping[str, Any], result: Mapping[str, Any]) -> None:
    """An event per table the recompute rewrote, when ``result`` says it did."""
    if result.get("status") != "done":
        return
    extra = {"team_id": int(result["team_id"]), "day": str(result["day"])}
    for table in result.get("tables", []):
        ctx["outlet_events"][WEB_PREAGG_RECOMPUTES].add(web_preagg_asset(table), extra=extra)


def cron_or_registrations(cron: str, on_registrations: bool):
    """The maintenance DAG's schedule: the cron time, or (``on_registrations``) the cron time and
    whenever registrations emitted duckling asset events since its last run."""
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    timetable = CronTriggerTimetable(cron, timezone="UTC")
    if not on_registrations:
        return timetable
    return AssetOrTimeSchedule(timetable=timetable, assets=DUCKLING_REGISTRATIONS)
