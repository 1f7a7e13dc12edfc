"""Helpers and independent checks for the web_preagg tests: demo data with deliberate gaps.

SQL used only by tests lives in tests/web_preagg/sql (typed parameters, like the package's templates).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import oracle

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
    for table in (
        "events",
        "person",
        "person_distinct_id2",
        "person_distinct_id_overrides",
        "raw_sessions",
        *TABLES,
    ):
        ch.query(tq("truncate"), {"t": table})
    generate(ch, SPEC)
    seed_preaggregated(ch, SPEC.team_ids, SPEC.start_day, SPEC.end_day, skip=gaps)


# --- independent checks -----------------------------------------------------------------------------
def raw_inputs(ch: ClickHouse, team_ids, start: dt.date, end: dt.date) -> tuple[list[dict], list[dict]]:
    """Raw event rows around [start, end] and every override row of the teams, for the oracle."""
    teams = [int(t) for t in team_ids]
    events = ch.query(tq("events_rows"), {"team_ids": teams, "start_day": start, "end_day": end})
    return events, ch.query(tq("overrides_rows"), {"team_ids": teams})


def oracle_team_day(ch: ClickHouse, team_id: int, day: dt.date) -> dict[str, list[dict]]:
    """The oracle's {"stats": rows, "bounces": rows} of one team-day (tests/web_preagg/oracle.py)."""
    return oracle.Oracle(*raw_inputs(ch, [team_id], day, day)).team_day(team_id, day)


def python_team_day_pageviews(ch: ClickHouse, team_ids, start: dt.date, end: dt.date) -> dict:
    """Slow and independent: counted pageviews per (team, day) of sessions starting in [start, end],
    from the oracle over raw rows. Days without counted pageviews are absent."""
    recompute = oracle.Oracle(*raw_inputs(ch, team_ids, start, end))
    out = {}
    for team_id in team_ids:
        day = start
        while day <= end:
            pageviews = sum(r["pageviews"] for r in recompute.team_day(team_id, day)["stats"])
            if pageviews:
                out[(team_id, day)] = pageviews
            day += dt.timedelta(days=1)
    return out


def python_hourly_pageviews(ch: ClickHouse, team_id: int, day: dt.date) -> dict:
    """Counted pageviews per session-start hour of one team-day, from the oracle."""
    out = defaultdict(int)
    for r in oracle_team_day(ch, team_id, day)["stats"]:
        out[r["bucket"]] += r["pageviews"]
    return dict(out)


def finalized(ch: ClickHouse, table: str, team_id: int, day: dt.date, name: str | None = None) -> list[dict]:
    short = "stats" if table == STATS else "bounces"
    return ch.query(tq(f"finalized_{short}"), {"t": name or table, "team_id": team_id, "day": day})


def from_scratch(
    ch: ClickHouse, table: str, team_id: int, day: dt.date, dedupe_events: bool = False
) -> list[dict]:
    """What a fresh pre-aggregation of the team-day produces (into a scratch table, then dropped)."""
    from backfill.clickhouse import QueryTag

    scratch = staging_name(table, team_id, day)
    short = "stats" if table == STATS else "bounces"
    ch.query(f"web_preagg/{short}_staging_create", {"staging": scratch})
    try:
        insert_preaggregated(
            ch, table, scratch, [team_id], day, day, QueryTag("tests"), dedupe_events=dedupe_events
        )
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
