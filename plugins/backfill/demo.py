"""Deterministic demo data, generated inside ClickHouse (no Python loops over rows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from backfill.clickhouse import ClickHouse


@dataclass(frozen=True)
class DemoSpec:
    team_ids: tuple[int, ...] = (1, 2, 3)
    start_day: dt.date = dt.date(2024, 3, 1)
    days: int = 30
    sessions_per_day: int = 300
    persons_per_team: int = 200
    seed: int = 42
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
    ch.query("demo/generate_events", {**common, "sessions_per_day": spec.sessions_per_day})
    ch.query("demo/generate_persons", common)
    ch.query("demo/generate_distinct_ids", common)
    for team_id, day in spec.quiet_days:
        ch.query("demo/delete_sessions_started_on", {"team_id": team_id, "day": day})
