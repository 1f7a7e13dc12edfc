"""Per-partition state in the app DB: claims with expiring leases, outcomes with counts.

A partition is ``(family, team_id, day, kind)``. A writer first ``claim``s it: the claim succeeds when
nobody holds a live lease (or the caller already holds it), so two runs planning the same team-day
never write it at once, and the claim of a killed task expires by itself. Outcomes (``succeed``,
``fail``) are only recorded by the lease holder.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from backfill.appdb import AppDB

log = logging.getLogger(__name__)

CLAIMED, EXPORTED, DONE, FAILED, SKIPPED = "claimed", "exported", "done", "failed", "skipped"
DEFERRED = "deferred"  # planned, over a run's cap: a later run takes it up


def utcnow() -> dt.datetime:
    """Naive UTC: the ledger's TIMESTAMP columns hold UTC without a zone on both PostgreSQL and SQLite."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def detail_of(row: dict | None) -> dict[str, Any]:
    """A ledger row's ``detail`` JSON as a dict (empty when absent or unreadable)."""
    try:
        value = json.loads(row["detail"]) if row and row.get("detail") else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class PartitionKey:
    family: str
    team_id: int
    day: dt.date
    kind: str

    def where(self, table: sa.Table):
        return sa.and_(
            table.c.family == self.family,
            table.c.team_id == self.team_id,
            table.c.day == self.day,
            table.c.kind == self.kind,
        )


class ClaimLost(RuntimeError):
    """The caller's lease expired and another worker took the partition over."""


class Heartbeat:
    """Calls ``renew`` every ``every_s`` seconds on a daemon thread until stopped or the claim is lost."""

    def __init__(self, renew: Callable[[], None], every_s: float):
        self._renew, self._every = renew, every_s
        self._stop = threading.Event()
        self.beat = threading.Event()  # set after each renewal (tests wait on it)
        self.beats, self.lost = 0, False
        self._thread = threading.Thread(target=self._run, name="ledger-heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._renew()
            except ClaimLost:
                self.lost = True
                return
            except Exception as exc:  # noqa: BLE001 (a failed renewal is retried on the next beat)
                log.warning("lease renewal failed: %s", exc)
                continue
            self.beats += 1
            self.beat.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Ledger:
    db: AppDB

    @property
    def t(self) -> sa.Table:
        return self.db.table("ledger")

    def claim(self, key: PartitionKey, owner: str, lease_seconds: int) -> bool:
        """Take the partition if it has no live claim by someone else. True if the caller now holds it."""
        now = utcnow()
        t = self.t
        values = dict(
            family=key.family,
            team_id=key.team_id,
            day=key.day,
            kind=key.kind,
            status=CLAIMED,
            claim_owner=owner,
            lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
            attempts=1,
            updated_at=now,
        )
        stmt = self.db.insert(t).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.family, t.c.team_id, t.c.day, t.c.kind],
            set_=dict(
                status=CLAIMED,
                claim_owner=owner,
                lease_expires_at=values["lease_expires_at"],
                attempts=t.c.attempts + 1,
                updated_at=now,
                error=None,
            ),
            where=sa.or_(
                t.c.status != CLAIMED,
                t.c.lease_expires_at.is_(None),
                t.c.lease_expires_at < now,
                t.c.claim_owner == owner,
            ),
        )
        with self.db.engine.begin() as conn:
            conn.execute(stmt)
            row = conn.execute(sa.select(t.c.claim_owner, t.c.status).where(key.where(t))).one()
        return row.claim_owner == owner and row.status == CLAIMED

    def renew(self, key: PartitionKey, owner: str, lease_seconds: int) -> None:
        """Extend a held lease; raises ClaimLost if someone else took the partition over."""
        now = utcnow()
        t = self.t
        with self.db.engine.begin() as conn:
            res = conn.execute(
                sa.update(t)
                .where(key.where(t), t.c.claim_owner == owner, t.c.status == CLAIMED)
                .values(lease_expires_at=now + dt.timedelta(seconds=lease_seconds), updated_at=now)
            )
        if res.rowcount != 1:
            raise ClaimLost(f"lost the claim on {key} (owner {owner})")

    def resume(self, key: PartitionKey, owner: str, lease_seconds: int) -> None:
        """Hold the partition again for a later step or a retry of this owner: its claim, or its own
        FAILED attempt that nobody took over since. Raises ClaimLost if another owner took it over."""
        now = utcnow()
        t = self.t
        with self.db.engine.begin() as conn:
            res = conn.execute(
                sa.update(t)
                .where(key.where(t), t.c.claim_owner == owner, t.c.status.in_((CLAIMED, FAILED)))
                .values(
                    status=CLAIMED, lease_expires_at=now + dt.timedelta(seconds=lease_seconds), updated_at=now
                )
            )
        if res.rowcount != 1:
            raise ClaimLost(f"lost the claim on {key} (owner {owner})")

    @contextmanager
    def fenced(self, key: PartitionKey, owner: str, lease_seconds: int) -> Iterator[None]:
        """The fence of a commit to another system (the DuckLake catalog, the web tables): an app-DB
        transaction that verifies the caller still holds a LIVE claim and extends its lease, holding the
        row's write lock while the body commits. A run taking the partition over blocks on that lock
        until the body is done, then finds a live lease and backs off; a caller whose lease lapsed (or
        was taken over) gets ClaimLost before anything commits. Raises ClaimLost; the lease is extended
        by ``lease_seconds`` so it outlives the commit."""
        now = utcnow()
        t = self.t
        with self.db.engine.begin() as conn:
            res = conn.execute(
                sa.update(t)
                .where(key.where(t), t.c.claim_owner == owner, t.c.status == CLAIMED)
                .where(t.c.lease_expires_at > now)
                .values(lease_expires_at=now + dt.timedelta(seconds=lease_seconds), updated_at=now)
            )
            if res.rowcount != 1:
                raise ClaimLost(
                    f"lost the claim on {key} (owner {owner}): the lease lapsed or was taken over"
                )
            yield

    @contextmanager
    def heartbeat(self, key: PartitionKey, owner: str, lease_seconds: int, *, every_s: float | None = None):
        """Renew the claim every third of its lease while the body runs (a thread), so a task that is
        alive keeps its partition however long it works. A lost claim stops the beat (the fence of the
        commit is what refuses the stale write). Yields the ``Heartbeat`` (its beats, for tests)."""
        beat = Heartbeat(lambda: self.renew(key, owner, lease_seconds), every_s or lease_seconds / 3)
        beat.start()
        try:
            yield beat
        finally:
            beat.stop()

    def renew_owner(self, family: str, owner: str, lease_seconds: int) -> int:
        """Extend every live claim of one owner (a run): a run that is still progressing keeps the
        partitions it claimed, however long its mapped tasks queue. Returns the claims renewed."""
        now = utcnow()
        t = self.t
        stmt = (
            sa.update(t)
            .where(t.c.family == family, t.c.claim_owner == owner, t.c.status == CLAIMED)
            .values(lease_expires_at=now + dt.timedelta(seconds=lease_seconds))
        )
        with self.db.engine.begin() as conn:
            return conn.execute(stmt).rowcount

    def _record(self, key: PartitionKey, owner: str, *, keep_lease: bool, **values: Any) -> None:
        t = self.t
        for name in ("files", "detail"):
            if name in values and values[name] is not None and not isinstance(values[name], str):
                values[name] = json.dumps(values[name], default=str, sort_keys=True)
        lease = {} if keep_lease else {"lease_expires_at": None}
        with self.db.engine.begin() as conn:
            res = conn.execute(
                sa.update(t)
                .where(key.where(t), t.c.claim_owner == owner)
                .values(updated_at=utcnow(), **lease, **values)
            )
        if res.rowcount != 1:
            raise ClaimLost(f"cannot record outcome of {key}: not held by {owner}")

    def progress(self, key: PartitionKey, owner: str, **values: Any) -> None:
        """Record intermediate values (files written, counts) while the claim and its lease stay held."""
        self._record(key, owner, keep_lease=True, status=CLAIMED, **values)

    def succeed(self, key: PartitionKey, owner: str, *, status: str = DONE, **values: Any) -> None:
        """Final outcome: DONE, or EXPORTED for an export-only run; releases the lease."""
        self._record(key, owner, keep_lease=False, status=status, error=None, **values)

    def fail(self, key: PartitionKey, owner: str, error: str, **values: Any) -> None:
        self._record(key, owner, keep_lease=False, status=FAILED, error=error[:2000], **values)

    def rows(
        self,
        family: str,
        *,
        team_ids: list[int] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        kind: str | None = None,
        status: str | tuple[str, ...] | None = None,
    ) -> list[dict]:
        """Ledger rows of a family, filtered; ``end`` is inclusive."""
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
