"""The run's summary (missing / stale / planned / done / failed / skipped, per table), the gap grid of
the CLI, and summaries for the demo. Pure formatting over plain values, plus two small readers."""

from __future__ import annotations

import datetime as dt

from backfill.clickhouse import NO_QUERIES, QueryStats
from backfill.ledger import detail_of
from backfill.web_preagg import SHORT, TABLES
from backfill.web_preagg.detect import Detection

COLUMNS = ("missing", "stale", "planned", "done", "failed", "skipped")


def build_report(detection: dict, plan: dict, results: list[dict], ledger_rows: dict | None = None) -> dict:
    """Summarise one run. ``detection`` and ``plan`` are the detect / plan task outputs; ``results`` the
    mapped tasks' return values (failed tasks return nothing: a planned team-day without a result is
    failed, with the ledger's error when there is one, from ``ledger_rows`` {(team_id, day): row})."""
    tables = list(plan["tables"])
    per_table = {SHORT[t]: dict.fromkeys(COLUMNS, 0) for t in tables}
    team_days = dict.fromkeys(COLUMNS, 0)
    for m in detection["missing"]:
        team_days["missing"] += 1
        for t in m["tables"]:
            per_table[SHORT[t]]["missing"] += 1
    for s in detection["stale"]:
        team_days["stale"] += 1
        for t in s["tables"]:
            per_table[SHORT[t]]["stale"] += 1
    by_key = {(int(r["team_id"]), r["day"]): r for r in results if r}
    failed, skipped = [], []
    cost, rows_done = NO_QUERIES, 0
    for item in plan["planned"]:
        key = (int(item["team_id"]), item["day"])
        team_days["planned"] += 1
        for t in item["tables"]:
            per_table[SHORT[t]]["planned"] += 1
        if plan.get("dry_run"):
            continue
        res = by_key.get(key)
        status = res["status"] if res else "failed"
        if status == "failed":
            row = (ledger_rows or {}).get(key) or {}
            failed.append({**item, "error": row.get("error") or "task failed or did not run (see its log)"})
        elif status == "skipped":
            skipped.append({**item, "detail": res.get("detail", "")})
        if status in ("done", "failed"):  # the ClickHouse cost this run's attempt recorded
            cost = cost + QueryStats.from_dict(detail_of((ledger_rows or {}).get(key)).get("clickhouse"))
        if status == "done":
            rows_done += int(res.get("source_pageviews") or 0)
        team_days[status] += 1
        for t in item["tables"]:
            per_table[SHORT[t]][status] += 1
    return {
        "window": detection["window"],
        "teams": detection["team_count"],
        "tables": tables,
        "dry_run": bool(plan.get("dry_run")),
        "team_days": team_days,
        "per_table": per_table,
        "failed": failed,
        "skipped_claimed": skipped,
        "warnings": plan.get("warnings", []),
        "not_planned": len(plan.get("skipped", [])),
        "pageviews_recomputed": rows_done,
        "clickhouse": cost.to_dict(),
    }


def format_report(report: dict) -> str:
    w = report["window"]
    lines = [
        f"web_preagg_backfill {w['start']}..{w['end']}  teams={report['teams']}"
        + ("  DRY RUN (nothing written)" if report["dry_run"] else ""),
        f"{'':10}" + "".join(f"{c:>9}" for c in COLUMNS),
    ]
    for name, counts in report["per_table"].items():
        lines.append(f"{name:10}" + "".join(f"{counts[c]:>9}" for c in COLUMNS))
    lines.append(f"{'team-days':10}" + "".join(f"{report['team_days'][c]:>9}" for c in COLUMNS))
    if report["not_planned"]:
        lines.append(
            f"{report['not_planned']} missing/stale team-day(s) left for later runs (see the plan log)"
        )
    ch = report.get("clickhouse") or {}
    if ch.get("queries"):
        lines.append(
            f"ClickHouse: {ch['queries']} queries read {ch['rows_read']} rows / {ch['bytes_read']} bytes, "
            f"wrote {ch['rows_written']} rows / {ch['bytes_written']} bytes in {ch['elapsed_s']:.2f} s"
        )
    for f in report["failed"]:
        lines.append(f"FAILED  team {f['team_id']} day {f['day']}: {f['error']}")
    for s in report["skipped_claimed"]:
        lines.append(f"SKIPPED team {s['team_id']} day {s['day']}: {s['detail']}")
    for warning in report["warnings"]:
        lines.append(f"WARNING {warning}")
    return "\n".join(lines)


# --- the gap grid (CLI) ---------------------------------------------------------------------------
LEGEND = (
    "#  both tables present    s  only stats present    b  only bounces present    "
    ".  missing in both    !  stale (source changed)    (blank)  no traffic"
)


def coverage_grid(detection: Detection) -> str:
    """Per team, per day: one character per team-day (see LEGEND), then the list of findings."""
    window = detection.window
    days = [window.start + dt.timedelta(days=i) for i in range(window.days)]
    present: dict[tuple[int, dt.date], set[str]] = {}
    for c in detection.coverage:
        present[(c.team_id, c.day)] = {t for t in detection.tables if c.present(t)}
    stale = {(s.team_id, s.day) for s in detection.stale}
    missing = {(m.team_id, m.day) for m in detection.missing}
    head_months = "".join(d.strftime("%d")[0] for d in days)
    head_days = "".join(d.strftime("%d")[1] for d in days)
    lines = [
        f"web pre-aggregation coverage {window.start}..{window.end} "
        f"(tables: {', '.join(SHORT[t] for t in detection.tables)})",
        LEGEND,
        "",
        f"{'team':>8}  {head_months}",
        f"{'':>8}  {head_days}",
    ]
    for team_id in detection.team_ids:
        row = []
        for d in days:
            key = (team_id, d)
            have = present.get(key)
            if key in stale:
                row.append("!")
            elif key in missing:
                has_stats, has_bounces = TABLES[0] in (have or ()), TABLES[1] in (have or ())
                row.append("s" if has_stats else "b" if has_bounces else ".")
            elif have:
                row.append("#")
            else:
                row.append(" ")
        lines.append(f"{team_id:>8}  {''.join(row)}")
    lines.append("")
    lines.append(
        f"missing team-days: {len(detection.missing)}   stale team-days: {len(detection.stale)}   "
        f"complete team-days: {len(detection.present)}"
    )
    for m in detection.missing:
        lines.append(
            f"  MISSING team {m.team_id} day {m.day}: {m.reason} ({m.source_pageviews} source pageviews)"
        )
    for s in detection.stale:
        lines.append(f"  STALE   team {s.team_id} day {s.day}: {s.reason}")
    return "\n".join(lines)


# --- summaries for the demo -----------------------------------------------------------------------
