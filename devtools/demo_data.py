"""Deterministic demo data, generated inside ClickHouse (no Python loops over rows), and the "daily job"
that fills the pre-aggregated tables around deliberate gaps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from backfill.clickhouse import ClickHouse, QueryTag
from backfill.sql import Template
from backfill.web_preagg import SHORT, TABLES
from backfill.web_preagg.recompute import insert_preaggregated

SQL_DIR = Path(__file__).resolve().parent / "sql"


def template(name: str) -> Template:
    """A demo statement from devtools/sql (typed parameters, like the package's own templates)."""
    return Template(f"demo/{name}", (SQL_DIR / f"{name}.sql").read_text())


@dataclass(frozen=True)
class DemoSpec:
    team_ids: tuple[int, ...] = (1, 2, 3)
    start_day: dt.date = dt.date(2024, 3, 1)
    days: int = 30
    sessions_per_day: int = 300
    persons_per_team: int = 200
    seed: int = 42
    mobile_team_ids: tuple[int, ...] = ()  # these teams send $screen sessions from an app
    # (team_id, day): no session of that team starts that day
    quiet_days: tuple[tuple[int, dt.date], ...] = field(default_factory=tuple)

    @property
    def end_day(self) -> dt.date:
        """Last generated day (inclusive)."""
        return self.start_day + dt.timedelta(days=self.days - 1)


def generate(ch: ClickHouse, spec: DemoSpec) -> None:
    """Insert events, persons and distinct ids for ``spec`` into ClickHouse."""
    common = dict(
        seed=spec.seed,
        team_ids=list(spec.team_ids),
        start_day=spec.start_day,
        days=spec.days,
        persons_per_team=spec.persons_per_team,
    )
    ch.query(
        template("generate_events"),
        {**common, "sessions_per_day": spec.sessions_per_day, "mobile_team_ids": list(spec.mobile_team_ids)},
    )
    ch.query(template("generate_persons"), common)
    ch.query(template("generate_distinct_ids"), common)
    ch.query(
        template("generate_overrides"),
        {k: common[k] for k in ("seed", "team_ids", "start_day", "persons_per_team")},
    )
    for team_id, day in spec.quiet_days:
        ch.query(template("delete_sessions_started_on"), {"team_id": team_id, "day": day})


def seed_preaggregated(
    ch: ClickHouse,
    team_ids: Iterable[int],
    start_day: dt.date,
    end_day: dt.date,
    skip: Iterable[tuple] = (),
    tables: Iterable[str] = TABLES,
    dag_id: str = "daily_web_preagg",
) -> int:
    """Fill the pre-aggregated tables from events like the daily job: every team-day in
    [start_day, end_day] (inclusive) except those in ``skip``, which holds ``(team_id, day)`` (both
    tables) or ``(team_id, day, table)`` (that table only). Runs the backfill's insert templates once per
    table, team and run of consecutive days; does not delete anything first (fill empty team-days).
    Returns the number of insert queries run."""
    skip = {tuple(s) for s in skip}
    queries = 0
    for table in tables:
        for team_id in sorted({int(t) for t in team_ids}):
            run_start = None
            day = start_day
            while day <= end_day + dt.timedelta(days=1):
                skipped = day > end_day or (team_id, day) in skip or (team_id, day, table) in skip
                if not skipped and run_start is None:
                    run_start = day
                elif skipped and run_start is not None:
                    last = day - dt.timedelta(days=1)
                    insert_preaggregated(
                        ch,
                        table,
                        table,
                        [team_id],
                        run_start,
                        last,
                        QueryTag(dag_id, team_id, f"{run_start}..{last}", f"seed {SHORT[table]}"),
                    )
                    queries += 1
                    run_start = None
                day += dt.timedelta(days=1)
    return queries
