"""The task bodies of web_preagg_backfill: the only code that reads the Airflow context. Each parses the
params once and hands typed objects to the step modules: select_teams -> detect -> plan ->
backfill_team_day (``recompute.py``, mapped) -> report, and cleanup. XCom carries small JSON values (team
ids, ISO days, counts); connections are opened per task (``backfill.run.Env``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from backfill import assets, metrics
from backfill.appdb import AppDB
from backfill.clickhouse import ClickHouse
from backfill.ledger import Ledger
from backfill.run import Env, RunInfo, timed, variable_get
from backfill.settings import WEB_PREAGG
from backfill.web_preagg import FAMILY, KIND
from backfill.web_preagg.cleanup import cleanup_ledger, drop_orphan_staging
from backfill.web_preagg.detect import TeamDay, detect
from backfill.web_preagg.params import RunParams, Window, parse_params, resolve_window
from backfill.web_preagg.plan import make_plan
from backfill.web_preagg.recompute import recompute_team_day
from backfill.web_preagg.report import build_report, format_report
from backfill.web_preagg.select_teams import select_teams

log = logging.getLogger(__name__)


def _params(ctx: Mapping[str, Any]) -> RunParams:
    return parse_params(dict(ctx["params"]))


@timed
def run_select_teams(ctx: Mapping[str, Any]) -> dict:
    """Validate the params, resolve the window, choose the teams. Fails before anything is written."""
    rp = _params(ctx)
    window = resolve_window(rp, ctx.get("data_interval_start"))
    with AppDB.from_conn_id() as db:  # ClickHouse only for the opt-in top teams
        selection = select_teams(
            rp,
            window,
            enabled_team_ids=db.web_analytics_enabled_team_ids,
            ch=ClickHouse.from_conn_id() if rp.include_top_teams else None,
            variable_get=variable_get,
        )
    log.info(
        "window %s..%s (%d days), %d teams: %s",
        window.start,
        window.end,
        window.days,
        len(selection.team_ids),
        selection.team_ids[:50],
    )
    return {"window": window.to_dict(), **selection.to_dict()}


@timed
def run_detect(ctx: Mapping[str, Any], selection: dict) -> dict:
    """Detect, and record what was seen per team-day for the coverage page and the freshness check."""
    rp, run = _params(ctx), RunInfo.from_context(ctx)
    window = Window.from_dict(selection["window"])
    env = Env.from_connections()
    with env.db:
        d = detect(
            env.ch, env.ledger, selection["team_ids"], window, rp.tables, dedupe_events=rp.dedupe_events
        )
        env.coverage.record(FAMILY, d.observations(), dag_id=run.dag_id, run_id=run.run_id)
    log.info(
        "%d team-days missing (%d partitions), %d stale, %d complete",
        len(d.missing),
        len(d.missing_partitions()),
        len(d.stale),
        len(d.present),
    )
    return d.to_dict(with_present=rp.force)


@timed
def run_plan(ctx: Mapping[str, Any], selection: dict, detection: dict) -> dict:
    """``{"items": [...], "summary": {...}}``: the mapped team-days, and the plan for the report."""
    rp = _params(ctx)
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
    return {"items": plan.items(), "summary": plan.to_dict()}


def team_day_label(item: dict) -> str:
    return f"team {item['team_id']} · {item['day']}"


@timed
def run_backfill_team_day(ctx: dict[str, Any], item: dict) -> dict:
    ctx["label"] = team_day_label(item)
    rp, run = _params(ctx), RunInfo.from_context(ctx)
    env = Env.from_connections()
    with env.db:
        result = recompute_team_day(
            env.ch,
            env.ledger,
            int(item["team_id"]),
            dt.date.fromisoformat(item["day"]),
            item["tables"],
            owner=run.owner,
            dag_id=run.dag_id,
            lease_seconds=WEB_PREAGG.lease_seconds,
            reason=item.get("reason", ""),
            dedupe_events=rp.dedupe_events,
        )
    assets.emit_recompute(ctx, result)  # the tables changed for this team-day: downstream DAGs may run
    return result


@timed
def run_report(ctx: Mapping[str, Any], detection: dict, plan: dict, results: list[dict] | None) -> dict:
    """The run's summary per table; fails the run (after logging it) if a team-day failed."""
    results = [r for r in (results or []) if r]
    ledger_rows = {}
    if plan["planned"] and not plan.get("dry_run"):
        with AppDB.from_conn_id() as db:  # the ledger only: no ClickHouse connection
            window = Window.from_dict(plan["window"])
            teams = sorted({int(i["team_id"]) for i in plan["planned"]})
            for r in Ledger(db).rows(FAMILY, team_ids=teams, start=window.start, end=window.end, kind=KIND):
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


@timed
def run_cleanup(ctx: Mapping[str, Any]) -> dict:
    env = Env.from_connections()
    with env.db:
        out = cleanup_ledger(env.ledger)
    out["staging_tables_dropped"] = drop_orphan_staging(env.ch)
    return out
