"""Helpers and independent checks for the web_preagg tests: demo data with deliberate gaps.

SQL used only by tests lives in tests/web_preagg/sql (typed parameters, like the package's templates).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

from backfill import sql as sqlt
from backfill.clickhouse import ClickHouse
from backfill.web_preagg import BOUNCES, STATS, TABLES
from backfill.web_preagg.recompute import insert_preaggregated, staging_name
from devtools.demo_data import DemoSpec, generate, seed_preaggregated

SQL = Path(__file__).parent / "sql"
D = dt.date

ENABLED = (1, 2, 3)
NOT_ENABLED = 4  # has events, never selected
SPEC = DemoSpec(
    team_ids=(1, 2, 3, 4),
    start_day=D(2024, 3, 1),
    days=32,
    sessions_per_day=60,
    quiet_days=((2, D(2024, 3, 10)),),
    mobile_team_ids=(3,),  # an app: $screen sessions only
)
WINDOW_END = SPEC.end_day  # 2024-04-01
# deliberate gaps in "yesterday's daily job output": (team, day) both tables, (team, day, table) one
GAPS = {
    (1, D(2024, 3, 5)),
    (3, D(2024, 3, 20), BOUNCES),
    (2, D(2024, 3, 28), STATS),
    (1, D(2024, 3, 31)),
    (2, D(2024, 3, 10)),
}  # 2024-03-10 is team 2's quiet day: nothing to compute, never missing
EXPECTED_MISSING = {  # (team, day) -> tables missing
    (1, D(2024, 3, 5)): {STATS, BOUNCES},
    (3, D(2024, 3, 20)): {BOUNCES},
    (2, D(2024, 3, 28)): {STATS},
    (1, D(2024, 3, 31)): {STATS, BOUNCES},
}


def tq(name: str) -> sqlt.Template:
    return sqlt.Template(f"tests/{name}", (SQL / f"{name}.sql").read_text())


def build_world(ch: ClickHouse, gaps=GAPS) -> None:
    """Empty every table, generate the demo events, and run the 'daily job' with the gaps left out."""
    for table in ("events", "person", "person_distinct_id2", STATS, BOUNCES):
        ch.query(tq("truncate"), {"t": table})
    generate(ch, SPEC)
    seed_preaggregated(ch, SPEC.team_ids, SPEC.start_day, SPEC.end_day, skip=gaps)


# --- independent checks -----------------------------------------------------------------------------
def python_team_day_pageviews(ch: ClickHouse, team_ids, start: dt.date, end: dt.date) -> dict:
    """Slow and independent: from raw event rows, dedupe by uuid, find each session's start, and count
    the pageviews of sessions starting in [start, end] per (team, day). Days without pageviews absent."""
    rows = ch.query(tq("events_rows"), {"team_ids": list(team_ids), "start_day": start, "end_day": end})
    seen, sessions = set(), defaultdict(lambda: [None, 0])
    for r in rows:
        if r["uuid"] in seen or not r["session_id"]:
            continue
        seen.add(r["uuid"])
        s = sessions[(r["team_id"], r["session_id"])]
        ts = r["timestamp"]
        s[0] = ts if s[0] is None or ts < s[0] else s[0]
        s[1] += r["event"] == "$pageview"
    out = defaultdict(int)
    for (team_id, _), (first, pageviews) in sessions.items():
        day = first.astimezone(dt.UTC).date() if first.tzinfo else first.date()
        if start <= day <= end and pageviews:
            out[(team_id, day)] += pageviews
    return dict(out)


def python_hourly_pageviews(ch: ClickHouse, team_id: int, day: dt.date) -> dict:
    """Pageviews per session-start hour of one team-day, computed in Python from raw events."""
    rows = ch.query(tq("events_rows"), {"team_ids": [team_id], "start_day": day, "end_day": day})
    seen, starts, pvs = set(), {}, defaultdict(int)
    for r in rows:
        if r["uuid"] in seen:
            continue
        seen.add(r["uuid"])
        ts = r["timestamp"].astimezone(dt.UTC)
        starts[r["session_id"]] = min(ts, starts.get(r["session_id"], ts))
        pvs[r["session_id"]] += r["event"] == "$pageview"
    out = defaultdict(int)
    for sid, first in starts.items():
        if first.date() == day and pvs[sid]:
            out[first.replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%d %H:%M:%S")] += pvs[sid]
    return dict(out)


def finalized(ch: ClickHouse, table: str, team_id: int, day: dt.date, name: str | None = None) -> list[dict]:
    short = "stats" if table == STATS else "bounces"
    return ch.query(tq(f"finalized_{short}"), {"t": name or table, "team_id": team_id, "day": day})


def from_scratch(ch: ClickHouse, table: str, team_id: int, day: dt.date) -> list[dict]:
    """What a fresh pre-aggregation of the team-day produces (into a scratch table, then dropped)."""
    from backfill.clickhouse import QueryTag

    scratch = staging_name(table, team_id, day)
    short = "stats" if table == STATS else "bounces"
    ch.query(f"web_preagg/{short}_staging_create", {"staging": scratch})
    try:
        insert_preaggregated(ch, table, scratch, [team_id], day, day, QueryTag("tests"))
        return finalized(ch, table, team_id, day, scratch)
    finally:
        ch.query(tq("drop"), {"t": scratch})


def raw_rows(ch: ClickHouse, start: dt.date = SPEC.start_day, end: dt.date = SPEC.end_day) -> dict:
    """{table: [(team_id, day, hex of the row's bytes)]} for both tables."""
    return {
        t: [
            (r["team_id"], r["day"], r["row"])
            for r in ch.query(tq("raw_rows"), {"t": t, "start_day": start, "end_day": end})
        ]
        for t in TABLES
    }


def rows_except(snapshot: dict, team_days: set) -> dict:
    """The snapshot without the rows of the given (team, day)s."""
    return {t: [r for r in rows if (r[0], r[1]) not in team_days] for t, rows in snapshot.items()}


ROOT_DAGS = Path(__file__).resolve().parents[2] / "dags"
