"""The task bodies of duckling_maintenance: the only code that reads the Airflow context. Each parses
the params once (``policy.py``) and hands typed objects to ``maintain.py``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backfill.run import RunInfo, timed, without_retry_if_permanent
from backfill.upkeep.policy import Policy

# maintain (DuckDB, S3) is imported by the tasks that use it, not when the DAG file is parsed


def _policy(ctx: Mapping[str, Any]) -> Policy:
    return Policy.from_params(dict(ctx["params"]))


@timed
def run_ducklings(ctx: Mapping[str, Any]) -> list[int]:
    from backfill.upkeep import maintain

    return maintain.ducklings(_policy(ctx))


@timed
def run_maintain(ctx: dict[str, Any], team_id: int) -> dict:
    from backfill.upkeep import maintain

    ctx["label"] = f"team {team_id}"
    policy, run = _policy(ctx), RunInfo.from_context(ctx)
    # a permanent failure (missing bucket, bad registry row) is not retried; a transient one is
    return without_retry_if_permanent(lambda: maintain.maintain_duckling(team_id, policy, run))


@timed
def run_report(ctx: Mapping[str, Any], team_ids: list[int], results: Any) -> dict:
    from backfill.upkeep import maintain

    return maintain.report(team_ids, [r for r in results or [] if r])
