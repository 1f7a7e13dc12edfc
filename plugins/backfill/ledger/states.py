"""The ledger's vocabulary: partition statuses, the partition key, and helpers to read a row."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

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
