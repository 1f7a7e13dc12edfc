"""The task bodies of both duckling DAGs, as thin adapters from Airflow's context to the package:
detect (``detect.py``) -> export (``export.py``, mapped) -> register (``register.py``, mapped) -> report
(``report.py``). Each takes and returns small JSON values; connections are opened per task.

Exactly once, per (team, day, kind): export claims the partition in the ledger (expiring lease, owner =
dag_id:run_id) and writes a NEW file; register renews the same claim and, in one DuckLake transaction,
deletes the team-day and adds exactly that attempt's files, then checks the lake's count against the
file's. A killed attempt leaves at most an unreferenced file (an orphan, removed by report) and a claim
that expires.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from backfill.duckling.detect import detect_daily, detect_full
from backfill.duckling.errors import DucklingError
from backfill.duckling.export import export_partition
from backfill.duckling.params import parse_params
from backfill.duckling.register import register_partition
from backfill.duckling.report import report
from backfill.duckling.run import RunInfo

DETECT = {"daily": detect_daily, "full": detect_full}
T = TypeVar("T")


def without_retry_if_permanent(body: Callable[[], T]) -> T:
    """A permanent failure (missing bucket, bad registry row, schema mismatch...) ends the task
    instance without Airflow's retries; a transient one is raised as is, and Airflow retries it."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        return body()
    except DucklingError as err:
        if err.transient:
            raise
        raise AirflowFailException(f"{err} (permanent: not retried)") from None


def run_info(ctx: Mapping[str, Any]) -> RunInfo:
    return RunInfo(
        dag_id=ctx["dag"].dag_id,
        run_id=ctx["run_id"],
        try_number=ctx["ti"].try_number,
        data_interval_start=ctx.get("data_interval_start"),
    )


def run_detect(mode: str, params: Mapping[str, Any], run: RunInfo) -> dict[str, Any]:
    """``{"items": [...], "summary": {...}}`` for the DAG of ``mode`` (daily | full)."""
    return DETECT[mode](dict(params), run)


def run_export(item: dict[str, Any], params: Mapping[str, Any], run: RunInfo) -> dict[str, Any]:
    return without_retry_if_permanent(lambda: export_partition(item, parse_params(dict(params)), run))


def run_register(exported: dict[str, Any], params: Mapping[str, Any], run: RunInfo) -> dict[str, Any]:
    return without_retry_if_permanent(lambda: register_partition(exported, parse_params(dict(params)), run))


def run_report(
    summary: dict[str, Any], results: Any, params: Mapping[str, Any], run: RunInfo
) -> dict[str, Any]:
    """``results``: what the partitions' last tasks returned (a failed partition returns nothing).
    Airflow hands over a mapped group's output as a lazy sequence, or a single value for one instance."""
    returned = [results] if isinstance(results, dict) else [r for r in results or [] if r]
    return report(summary, parse_params(dict(params)), run, results=returned)
