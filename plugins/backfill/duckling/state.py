"""Per-team state of a duckling (``duckling_team_state``): the cached earliest event day and when the
first full persons snapshot was exported."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from backfill.appdb import AppDB


class TeamState:
    def __init__(self, db: AppDB):
        self.db = db

    @property
    def t(self) -> sa.Table:
        return self.db.table("duckling_team_state")

    def set(self, team_id: int, **values: Any) -> None:
        t = self.t
        stmt = self.db.insert(t).values(team_id=team_id, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[t.c.team_id], set_=values)
        with self.db.engine.begin() as conn:
            conn.execute(stmt)

    def earliest_days(self, team_ids: list[int]) -> dict[int, dt.date]:
        """The cached earliest event day of the teams that have one."""
        t = self.t
        stmt = sa.select(t.c.team_id, t.c.earliest_day).where(
            t.c.team_id.in_(team_ids), t.c.earliest_day.isnot(None)
        )
        with self.db.engine.connect() as conn:
            return {int(r.team_id): r.earliest_day for r in conn.execute(stmt)}

    def full_persons_done(self, team_ids: list[int]) -> set[int]:
        """The teams whose first full persons snapshot was registered."""
        t = self.t
        stmt = sa.select(t.c.team_id).where(
            t.c.team_id.in_(team_ids), t.c.full_persons_exported_at.isnot(None)
        )
        with self.db.engine.connect() as conn:
            return {int(r.team_id) for r in conn.execute(stmt)}

    def forget(self, team_id: int) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(sa.delete(self.t).where(self.t.c.team_id == team_id))
