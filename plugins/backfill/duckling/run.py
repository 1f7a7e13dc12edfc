"""What every duckling task body gets: the shared ``Env`` with the duckling's stores, the run's
coordinates (``backfill.run.RunInfo``), and failures recorded on the partition's ledger row and raised
as a ``DucklingError`` that names the team, the day and the cause."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from backfill import run as core
from backfill.duckling.errors import DucklingError, describe, is_transient
from backfill.duckling.registry import Registry
from backfill.duckling.state import TeamState
from backfill.families import DUCKLING as _FAMILY
from backfill.ledger import PartitionKey
from backfill.run import RunInfo
from backfill.settings import CONNECTIONS, DUCKLING

__all__ = ["FAMILY", "Env", "RunInfo", "as_partition_error", "failure_recorded", "partition_key"]
FAMILY = _FAMILY.name


@dataclass
class Env(core.Env):
    aws_conn_id: str = CONNECTIONS.aws
    clickhouse_s3_auth: str = field(default_factory=lambda: DUCKLING.clickhouse_s3_auth)

    @cached_property
    def registry(self) -> Registry:
        return Registry(self.db)

    @cached_property
    def state(self) -> TeamState:
        return TeamState(self.db)


def partition_key(item: dict[str, Any]) -> PartitionKey:
    return PartitionKey(FAMILY, int(item["team_id"]), dt.date.fromisoformat(item["day"]), item["kind"])


def as_partition_error(exc: BaseException, key: PartitionKey) -> DucklingError:
    """The exception as a DucklingError carrying this partition's team and day."""
    if not isinstance(exc, DucklingError):
        return DucklingError(key.team_id, key.day, describe(exc), transient=is_transient(exc))
    if exc.team_id is None:
        return type(exc)(key.team_id, key.day, exc.cause, transient=exc.transient)
    return exc


@contextmanager
def failure_recorded(env: Env, key: PartitionKey, run: RunInfo) -> Iterator[None]:
    with core.failure_recorded(env.ledger, key, run.owner, lambda exc: as_partition_error(exc, key)):
        yield
