"""The ledger's reads and bulk writes: rows of a window, per-day counts, live claims, deferrals,
watermarks, retention. Mixed into ``Ledger`` (``backfill.ledger``); none of these touches a claim."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import sqlalchemy as sa

from backfill.ledger.states import CLAIMED, DEFERRED, DONE, EXPORTED, FAILED, SKIPPED, utcnow


class LedgerQueries:
    """Needs ``self.db`` (AppDB) and ``self.t`` (the ledger table)."""

    def rows(
        self,
        family: str,
        *,
        team_ids: list[int] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        kind: str | None = None,
        status: str | tuple[str, ...] | None = None,
        owner: str | None = None,
    ) -> list[dict]:
        """Ledger rows of a family, filtered; ``end`` is inclusive; ``owner``: rows one run holds."""
        t = self.t
        stmt = sa.select(t).where(t.c.family == family)
        if team_ids is not None:
            stmt = stmt.where(t.c.team_id.in_(team_ids))
        if start is not None:
            stmt = stmt.where(t.c.day >= start)
        if end is not None:
            stmt = stmt.where(t.c.day <= end)
        if kind is not None:
            stmt = stmt.where(t.c.kind == kind)
        if status is not None:
            stmt = stmt.where(t.c.status.in_((status,) if isinstance(status, str) else status))
        if owner is not None:
            stmt = stmt.where(t.c.claim_owner == owner)
        with self.db.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt.order_by(t.c.team_id, t.c.day, t.c.kind))]

    def day_counts(
        self,
        family: str,
        team_ids: list[int],
        *,
        kind: str,
        status: tuple[str, ...],
        start: dt.date | None,
        end: dt.date,
    ) -> dict[int, tuple[int, dt.date]]:
        """Per team: how many days in [start, end] have a row of ``kind`` in one of ``status``, and the
        first such day. One grouped query: planning's memory stays per team, not per day."""
        t = self.t
        stmt = (
            sa.select(t.c.team_id, sa.func.count(), sa.func.min(t.c.day))
            .where(t.c.family == family, t.c.kind == kind, t.c.status.in_(status), t.c.day <= end)
            .where(t.c.team_id.in_(team_ids))
            .group_by(t.c.team_id)
        )
        if start is not None:
            stmt = stmt.where(t.c.day >= start)
        with self.db.engine.connect() as conn:
            return {int(r[0]): (int(r[1]), r[2]) for r in conn.execute(stmt)}

    def iter_days(
        self, family: str, team_id: int, *, kind: str, status: tuple[str, ...], start: dt.date, end: dt.date
    ) -> Iterator[dt.date]:
        """One team's days in [start, end] with a row of ``kind`` in ``status``, ascending, streamed."""
        t = self.t
        stmt = (
            sa.select(t.c.day)
            .where(t.c.family == family, t.c.team_id == team_id, t.c.kind == kind, t.c.status.in_(status))
            .where(t.c.day >= start, t.c.day <= end)
            .order_by(t.c.day)
        )
        with self.db.engine.connect() as conn:
            for row in conn.execution_options(yield_per=1000).execute(stmt):
                yield row[0]

    def live_claims(self, family: str) -> set[tuple[int, dt.date, str]]:
        now = utcnow()
        t = self.t
        stmt = sa.select(t.c.team_id, t.c.day, t.c.kind).where(
            t.c.family == family, t.c.status == CLAIMED, t.c.lease_expires_at > now
        )
        with self.db.engine.connect() as conn:
            return {(int(r.team_id), r.day, r.kind) for r in conn.execute(stmt)}

    def defer(self, family: str, keys: list[tuple[int, dt.date, str]]) -> int:
        """Record partitions a run planned but could not fit; a partition that has a row keeps it."""
        if not keys:
            return 0
        t, now = self.t, utcnow()
        rows = [
            dict(family=family, team_id=tm, day=d, kind=k, status=DEFERRED, attempts=0, updated_at=now)
            for tm, d, k in keys
        ]
        # one statement compiled once and executed for all rows (executemany): a multi-row VALUES with a
        # parameter per cell takes SQLAlchemy seconds to compile for a thousand rows
        stmt = self.db.insert(t).on_conflict_do_nothing(
            index_elements=[t.c.family, t.c.team_id, t.c.day, t.c.kind]
        )
        with self.db.engine.begin() as conn:
            return conn.execute(stmt, rows).rowcount

    def mark_empty_done(self, family: str, kind: str, team_id: int, days: list[dt.date]) -> int:
        """Record days that hold no data as done (0 rows, no file) in bulk; a day that has a row keeps it."""
        if not days:
            return 0
        t, now = self.t, utcnow()
        stmt = self.db.insert(t).on_conflict_do_nothing(
            index_elements=[t.c.family, t.c.team_id, t.c.day, t.c.kind]
        )
        rows = [
            dict(family=family, team_id=team_id, day=d, kind=kind, status=DONE, attempts=0, updated_at=now,
                 source_count=0, target_count=0, files="[]", detail='{"empty": true}')
            for d in days
        ]  # fmt: skip
        done = 0
        with self.db.engine.begin() as conn:
            for i in range(0, len(rows), 5000):
                done += conn.execute(stmt, rows[i : i + 5000]).rowcount
        return done

    def supersede(self, family: str, keys: list[tuple[int, dt.date, str]], by: str) -> int:
        """Deferred or failed partitions another planned partition covers (a full persons snapshot)."""
        t, done = self.t, 0
        with self.db.engine.begin() as conn:
            for tm, d, k in keys:
                where = sa.and_(t.c.family == family, t.c.team_id == tm, t.c.day == d, t.c.kind == k)
                stmt = sa.update(t).where(where, t.c.status.in_((DEFERRED, FAILED)))
                done += conn.execute(
                    stmt.values(status=SKIPPED, error=f"superseded by {by}", updated_at=utcnow())
                ).rowcount
        return done

    def cleanup(self, family: str, older_than_days: int, *, keep_baseline_days: int = 0) -> int:
        """Delete finished rows of a family last updated more than ``older_than_days`` ago.

        Rows holding a baseline (``source_count`` set) whose ``day`` lies within ``keep_baseline_days`` of
        today are kept whatever their age: later runs compare against them. Live claims are never deleted.
        """
        now = utcnow()
        t = self.t
        stmt = sa.delete(t).where(
            t.c.family == family,
            t.c.updated_at < now - dt.timedelta(days=older_than_days),
            t.c.status != CLAIMED,
        )
        if keep_baseline_days:
            outside = t.c.day < (now.date() - dt.timedelta(days=keep_baseline_days))
            stmt = stmt.where(sa.or_(outside, t.c.source_count.is_(None)))
        with self.db.engine.begin() as conn:
            return conn.execute(stmt).rowcount

    def watermarks(self, family: str, kind: str, team_ids: list[int]) -> dict[int, dt.date]:
        """Per team, the day of its ``kind`` row (one per team: a watermark such as covered history)."""
        t = self.t
        stmt = sa.select(t.c.team_id, t.c.day).where(
            t.c.family == family, t.c.kind == kind, t.c.team_id.in_(team_ids)
        )
        with self.db.engine.connect() as conn:
            return {int(r.team_id): r.day for r in conn.execute(stmt)}

    def set_watermark(self, family: str, kind: str, team_id: int, day: dt.date) -> None:
        """Move a team's watermark row to ``day`` (the primary key includes the day: delete, insert)."""
        t = self.t
        with self.db.engine.begin() as conn:
            conn.execute(sa.delete(t).where(t.c.family == family, t.c.kind == kind, t.c.team_id == team_id))
            conn.execute(sa.insert(t).values(family=family, team_id=team_id, day=day, kind=kind, status=DONE,
                                             attempts=0, updated_at=utcnow()))  # fmt: skip

    def retire_covered(
        self, family: str, kind: str, team_id: int, through: dt.date, older_than_days: int
    ) -> int:
        """Delete a team's DONE ``kind`` rows up to ``through`` (a coverage watermark) last updated more than
        ``older_than_days`` ago. Only DONE rows: live claims, failures, export-only rows (which protect
        files) and deferred rows are never touched."""
        t = self.t
        stmt = sa.delete(t).where(
            t.c.family == family, t.c.kind == kind, t.c.team_id == team_id, t.c.status == DONE,
            t.c.day <= through, t.c.updated_at < utcnow() - dt.timedelta(days=older_than_days),
            sa.not_(sa.func.coalesce(t.c.detail, "").like('%"kept_exports"%')),
        )  # fmt: skip
        with self.db.engine.begin() as conn:
            return conn.execute(stmt).rowcount

    def forget(self, family: str, team_id: int) -> int:
        """Delete every row of one team in a family (a reset: its data is gone, so is its history), except
        the rows that keep export-only files (EXPORTED, or carrying earlier exports): those files are in
        the bucket, not the lake, and the user asked to keep them."""
        t = self.t
        keeps_files = sa.or_(
            t.c.status == EXPORTED, sa.func.coalesce(t.c.detail, "").like('%"kept_exports"%')
        )
        with self.db.engine.begin() as conn:
            stmt = sa.delete(t).where(t.c.family == family, t.c.team_id == team_id, sa.not_(keeps_files))
            return conn.execute(stmt).rowcount
