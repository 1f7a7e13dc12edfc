"""What every duckling task body gets: the connections (``Env``), the run's coordinates (``RunInfo``),
and one rule for failures: record them on the partition's ledger row and raise a ``DucklingError``
that names the team, the day and the cause."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from backfill.appdb import AppDB
from backfill.clickhouse import ClickHouse
from backfill.coverage import CoverageStore
from backfill.duckling.errors import DucklingError, describe, is_transient
from backfill.duckling.registry import Registry
from backfill.duckling.state import TeamState
from backfill.ledger import ClaimLost, Ledger, PartitionKey
from backfill.settings import CONNECTIONS, DUCKLING

log = logging.getLogger(__name__)
FAMILY = DUCKLING.family


@dataclass
class Env:
    ch: ClickHouse
    db: AppDB
    aws_conn_id: str = CONNECTIONS.aws
    clickhouse_s3_auth: str = field(default_factory=lambda: DUCKLING.clickhouse_s3_auth)

    @classmethod
    def from_connections(cls) -> Env:
        return cls(ClickHouse.from_conn_id(CONNECTIONS.clickhouse), AppDB.from_conn_id(CONNECTIONS.app_db))

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.db)

    @cached_property
    def coverage(self) -> CoverageStore:
        return CoverageStore(self.db)

    @cached_property
    def registry(self) -> Registry:
        return Registry(self.db)

    @cached_property
    def state(self) -> TeamState:
        return TeamState(self.db)


@dataclass(frozen=True)
class RunInfo:
    dag_id: str
    run_id: str
    try_number: int = 1
    data_interval_start: dt.datetime | None = None

    @property
    def owner(self) -> str:
        return f"{self.dag_id}:{self.run_id}"


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
    """Any failure inside: recorded on the partition's ledger row (if this run holds it), then raised as
    a DucklingError naming the partition."""
    try:
        yield
    except Exception as exc:
        err = as_partition_error(exc, key)
        try:
            env.ledger.fail(key, run.owner, str(err))
        except ClaimLost:
            log.warning("could not record the failure of %s: claim lost", key)
        raise err from None
