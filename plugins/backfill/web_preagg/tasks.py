"""The DAG's task bodies: thin adapters from Airflow's context to the package's functions.

Each takes and returns small JSON values (team ids, ISO days, counts). Connections are opened here, per
task, from the Airflow connections in settings.CONNECTIONS.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from backfill import metrics
from backfill.appdb import AppDB
from backfill.clickhouse import ClickHouse
from backfill.coverage import CoverageStore
from backfill.ledger import Ledger
from backfill.settings import WEB_PREAGG
from backfill.web_preagg import FAMILY, KIND
from backfill.web_preagg.cleanup import cleanup_ledger, drop_orphan_staging
from backfill.web_preagg.detect import TeamDay, detect
from backfill.web_preagg.params import Window, parse_params, resolve_window
from backfill.web_preagg.plan import make_plan
from backfill.web_preagg.recompute import recompute_team_day
from backfill.web_preagg.report import build_report, format_report
from backfill.web_preagg.select_teams import select_teams

log = logging.getLogger(__name__)


def _variable_get(name: str) -> str | None:
    from airflow.sdk import Variable

    return Variable.get(name, default=None)


def run_select_teams(params: dict[str, Any], data_interval_start: dt.datetime | None) -> dict:
    """Validate the params, resolve the window, choose the teams. Fails before anything is written."""
    rp = parse_params(params)
    window = resolve_window(rp, data_interval_start)
    with AppDB.from_conn_id() as appdb:
        ch = ClickHouse.from_conn_id() if rp.include_top_teams else None
        selection = select_teams(
            rp,
            window,
            enabled_team_ids=appdb.web_analytics_enabled_team_ids,
            ch=ch,
            variable_get=_variable_get,
        )
    log.info(
        "window %s..%s (%d days), %d teams: %s",
        window.start,
        window.end,
        window.days,
        len(selection.team_ids),
        selection.team_ids[:50],
    )
    return {"params": rp.to_dict(), "window": window.to_dict(), **selection.to_dict()}


def run_detect(selection: dict, *, dag_id: str, run_id: str) -> dict:
    """Detect, and record what was seen per team-day for the coverage page and the freshness check."""
    rp = parse_params(selection["params"])
    window = Window.from_dict(selection["window"])
    with AppDB.from_conn_id() as appdb:
        d = detect(
            ClickHouse.from_conn_id(),
            Ledger(appdb),
            selection["team_ids"],
            window,
            rp.tables,
            dedupe_events=rp.dedupe_events,
        )
        CoverageStore(appdb).record(FAMILY, d.observations(), dag_id=dag_id, run_id=run_id)
    log.info(
        "%d team-days missing (%d partitions), %d stale, %d complete",
        len(d.missing),
        len(d.missing_partitions()),
        len(d.stale),
        len(d.present),
    )
    return d.to_dict(with_present=rp.force)


def run_plan(selection: dict, detection: dict) -> dict:
    """``{"items": [...], "summary": {...}}``: the mapped team-days, and the plan for the report."""
    rp = parse_params(selection["params"])
    plan = make_plan(
        [TeamDay.from_dict(m) for m in detection["missing"]],
        [TeamDay.from_dict(s) for s in detection["stale"]],
        [TeamDay.from_dict(p) for p in detection.get("present", [])],
        rp,
        Window.from_dict(selection["window"]),
    )
    log.info(
        "plan (%d to run, %d skipped%s):\n%s",
        len(plan.planned),
        len(plan.skipped),
        ", DRY RUN" if plan.dry_run else "",
        plan.table(),
    )
    for warning in plan.warnings:
        log.warning(warning)
    items = [{**item, "dedupe_events": rp.dedupe_events} for item in plan.items()]
    return {"items": items, "summary": plan.to_dict()}


def team_day_label(item: dict) -> str:
    return f"team {item['team_id']} · {item['day']}"


def run_backfill_team_day(item: dict, *, dag_id: str, run_id: str) -> dict:
    team_id, day = int(item["team_id"]), dt.date.fromisoformat(item["day"])
    with AppDB.from_conn_id() as appdb:
        return recompute_team_day(
            ClickHouse.from_conn_id(),
            Ledger(appdb),
            team_id,
            day,
            item["tables"],
            owner=f"{dag_id}/{run_id}",
            dag_id=dag_id,
            lease_seconds=WEB_PREAGG.lease_seconds,
            reason=item.get("reason", ""),
            dedupe_events=bool(item.get("dedupe_events", WEB_PREAGG.dedupe_events)),
        )


def run_report(detection: dict, plan: dict, results: list[dict] | None) -> dict:
    """The run's summary per table; fails the run (after logging it) if a team-day failed."""
    results = [r for r in (results or []) if r]
    ledger_rows = {}
    if plan["planned"] and not plan.get("dry_run"):
        with AppDB.from_conn_id() as appdb:
            window = Window.from_dict(plan["window"])
            teams = sorted({int(i["team_id"]) for i in plan["planned"]})
            for r in Ledger(appdb).rows(
                FAMILY, team_ids=teams, start=window.start, end=window.end, kind=KIND
            ):
                ledger_rows[(int(r["team_id"]), r["day"].isoformat())] = r
    report = build_report(detection, plan, results, ledger_rows)
    log.info("report:\n%s", format_report(report))
    if not report["dry_run"]:
        metrics.emit_run(
            FAMILY,
            {**report["team_days"], "deferred": report["not_planned"]},
            rows_exported=report["pageviews_recomputed"],
            rows_registered=report["pageviews_recomputed"],
            clickhouse=report["clickhouse"],
        )
    if report["failed"]:
        failed = "; ".join(f"team {f['team_id']} {f['day']}" for f in report["failed"])
        raise RuntimeError(f"{len(report['failed'])} team-day(s) failed: {failed}")
    return report


def run_cleanup() -> dict:
    with AppDB.from_conn_id() as appdb:
        out = cleanup_ledger(Ledger(appdb))
    out["staging_tables_dropped"] = drop_orphan_staging(ClickHouse.from_conn_id())
    return out
