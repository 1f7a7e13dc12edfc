"""What every family's task bodies share: the connections (``Env``), the run's coordinates
(``RunInfo``), one rule for failures (record on the partition's ledger row, then raise), and the mapping
of a permanent failure to Airflow's no-retry exception.

Only a family's ``tasks.py`` reads the Airflow context; it builds these once per task and hands typed
objects to the family's step modules.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import resource
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from backfill.appdb import AppDB
from backfill.clickhouse import ClickHouse
from backfill.coverage import CoverageStore
from backfill.ledger import ClaimLost, Ledger, PartitionKey
from backfill.settings import CONNECTIONS

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RunInfo:
    dag_id: str
    run_id: str
    try_number: int = 1
    data_interval_start: dt.datetime | None = None

    @property
    def owner(self) -> str:
        """The ledger's claim owner: one run of one DAG."""
        return f"{self.dag_id}:{self.run_id}"

    @classmethod
    def from_context(cls, ctx: Mapping[str, Any]) -> RunInfo:
        return cls(
            dag_id=ctx["dag"].dag_id,
            run_id=ctx["run_id"],
            try_number=ctx["ti"].try_number,
            data_interval_start=ctx.get("data_interval_start"),
        )


@dataclass
class Env:
    """A task's connections: ClickHouse and the app DB, opened from the Airflow connections."""

    ch: ClickHouse
    db: AppDB

    @classmethod
    def from_connections(cls) -> Env:
        return cls(ClickHouse.from_conn_id(CONNECTIONS.clickhouse), AppDB.from_conn_id(CONNECTIONS.app_db))

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.db)

    @cached_property
    def coverage(self) -> CoverageStore:
        return CoverageStore(self.db)


def variable_get(name: str) -> str | None:
    """An Airflow Variable (the metadata DB or the secrets backend), None when unset."""
    from airflow.sdk import Variable

    return Variable.get(name, default=None)


def without_retry_if_permanent(body: Callable[[], T]) -> T:
    """A failure that says it is permanent (``transient = False``: missing bucket, bad registry row,
    schema mismatch...) ends the task instance without Airflow's retries; any other is raised as is, and
    Airflow retries it."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        return body()
    except Exception as err:
        if getattr(err, "transient", True) is not False:
            raise
        raise AirflowFailException(f"{err} (permanent: not retried)") from None


@contextmanager
def failure_recorded(
    ledger: Ledger,
    key: PartitionKey,
    owner: str,
    as_error: Callable[[Exception], Exception] | None = None,
    detail: Callable[[], dict] | None = None,
) -> Iterator[None]:
    """Any failure inside (a timeout too): recorded on the partition's ledger row (if this run holds
    it), with ``detail()`` when given, then raised: an ``Exception`` as ``as_error(exc)`` (a family's error
    naming the partition) when given, anything else as it is. Without ``as_error`` a lost claim is
    raised untouched and not recorded: the row is another run's now."""
    try:
        yield
    except BaseException as exc:
        if isinstance(exc, ClaimLost) and as_error is None:
            raise
        err = as_error(exc) if as_error and isinstance(exc, Exception) else None
        message = str(err) if err is not None else f"{type(exc).__name__}: {exc}"
        try:
            # the original error's class: the failure alert names it per partition
            extra = {"detail": detail()} if detail else {}
            ledger.fail(key, owner, message, error_class=type(exc).__name__, **extra)
        except Exception as ledger_exc:  # the task's own error matters more
            log.warning("could not record the failure of %s: %s", key, ledger_exc)
        if err is None or err is exc:
            raise
        raise err from None


TIMING_MARK = "backfill task timing"


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: its own, unlike ru_maxrss, which a process started by
    fork and exec inherits from its parent)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def timed(body: Callable[..., T]) -> Callable[..., T]:
    """Log one line per task body: how long the task's process ran before its first line of code
    (interpreter, imports, the DAG file's parse: what a scheduler's task pays before any query), the
    body, and the process's peak RSS. ``scripts/bench_scheduler.py`` reads these lines."""

    @functools.wraps(body)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        entered = time.time()
        try:
            return body(*args, **kwargs)
        finally:
            ended = time.time()
            try:
                import psutil

                process_started = psutil.Process().create_time()
            except Exception:  # psutil comes with Airflow; a timing line is never worth a failure
                process_started = entered
            line = {
                "task": body.__name__,
                "process_to_code_s": round(entered - process_started, 4),
                "body_s": round(ended - entered, 4),
                "body_end": round(ended, 4),
                "peak_rss_mb": peak_rss_mb(),
            }
            embedded = sys.modules.get("backfill.clickhouse.embedded")
            if embedded is not None and any(embedded.STATS.values()):
                line["embedded"] = {k: round(v, 4) for k, v in embedded.STATS.items()}
            log.info("%s %s", TIMING_MARK, json.dumps(line))

    return wrapper
