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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from backfill.appdb import AppDB
from backfill.ledger.lease import Heartbeat
from backfill.ledger.queries import LedgerQueries
from backfill.ledger.states import (
    CLAIMED,
    DEFERRED,
    DONE,
    EXPORTED,
    FAILED,
    SKIPPED,
    ClaimLost,
    PartitionKey,
    detail_of,
    utcnow,
)

__all__ = [
    "CLAIMED",
    "DEFERRED",
    "DONE",
    "EXPORTED",
    "FAILED",
    "SKIPPED",
    "ClaimLost",
    "Heartbeat",
    "Ledger",
    "PartitionKey",
    "detail_of",
    "utcnow",
]
log = logging.getLogger(__name__)


@dataclass
class Ledger(LedgerQueries):
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

    def fail(
        self, key: PartitionKey, owner: str, error: str, *, error_class: str | None = None, **values: Any
    ) -> None:
        """Final outcome FAILED. ``error_class`` (the failure alert names it) is added to the row's
        detail: to ``detail`` when given, else to what the row holds, which stays (an export-only run's
        kept files live there, and no failure may drop them)."""
        if error_class is not None:
            detail = values.pop("detail", None)
            if detail is None:
                detail = self._current_detail(key, owner)
            elif isinstance(detail, str):
                detail = json.loads(detail)
            values["detail"] = {**detail, "error_class": error_class}
        self._record(key, owner, keep_lease=False, status=FAILED, error=error[:2000], **values)

    def _current_detail(self, key: PartitionKey, owner: str) -> dict[str, Any]:
        t = self.t
        with self.db.engine.connect() as conn:
            row = (
                conn.execute(sa.select(t.c.detail).where(key.where(t), t.c.claim_owner == owner))
                .mappings()
                .first()
            )
        return detail_of(dict(row) if row else None)
