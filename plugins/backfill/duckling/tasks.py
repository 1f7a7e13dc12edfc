"""The task bodies of both duckling DAGs: the only code that reads the Airflow context. Each parses the
params once and hands typed objects to the step modules: detect (``detect.py``) -> export
(``export.py``, mapped) -> register (``register.py``, mapped) -> report (``report.py``).

Exactly once, per (team, day, kind): export claims the partition in the ledger (expiring lease, owner =
dag_id:run_id) and writes a NEW file; register renews the same claim and, in one DuckLake transaction,
deletes the team-day and adds exactly that attempt's files, then checks the lake's count against the
file's. A killed attempt leaves at most an unreferenced file (an orphan, removed by report) and a claim
that expires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backfill import assets
from backfill.duckling.params import RunParams, parse_params
from backfill.run import RunInfo, timed, without_retry_if_permanent

# Each task imports only its own step module, when it runs: a task process parses the DAG file (this
# module) first, and an export must not pay for DuckDB (register, report) nor a register for the rest.


def _params(ctx: Mapping[str, Any]) -> RunParams:
    return parse_params(dict(ctx["params"]))


@timed
def run_detect(ctx: Mapping[str, Any], mode: str) -> dict[str, Any]:
    """``{"items": [...], "summary": {...}}`` for the DAG of ``mode`` (daily | full)."""
    from backfill.duckling.detect import detect_daily, detect_full

    detect = {"daily": detect_daily, "full": detect_full}[mode]
    return detect(_params(ctx), RunInfo.from_context(ctx))


@timed
def run_export(ctx: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    from backfill.duckling.export import export_partition

    ctx["label"] = item["label"]
    options, run = _params(ctx), RunInfo.from_context(ctx)
    return without_retry_if_permanent(lambda: export_partition(item, options, run))


@timed
def run_register(ctx: dict[str, Any], exported: dict[str, Any]) -> dict[str, Any]:
    from backfill.duckling.register import register_partition

    ctx["label"] = exported["label"]
    options, run = _params(ctx), RunInfo.from_context(ctx)
    result = without_retry_if_permanent(lambda: register_partition(exported, options, run))
    assets.emit_registration(ctx, result)  # the team's duckling table changed: downstream DAGs may run
    return result


@timed
def run_report(ctx: Mapping[str, Any], summary: dict[str, Any], results: Any) -> dict[str, Any]:
    """``results``: what the partitions' last tasks returned (a failed partition returns nothing).
    Airflow hands over a mapped group's output as a lazy sequence, or a single value for one instance."""
    from backfill.duckling.report import report

    returned = [results] if isinstance(results, dict) else [r for r in results or [] if r]
    return report(summary, _params(ctx), RunInfo.from_context(ctx), results=returned)
