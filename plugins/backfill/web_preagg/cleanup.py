"""Housekeeping: ledger retention, and staging tables left behind by killed tasks."""

from __future__ import annotations

import logging
import time

from backfill.clickhouse import ClickHouse, QueryTag
from backfill.ledger import Ledger
from backfill.settings import LEDGER, WEB_PREAGG
from backfill.web_preagg import FAMILY
from backfill.web_preagg.recompute import STAGING_PREFIX, staging_created_at

log = logging.getLogger(__name__)


def cleanup_ledger(
    ledger: Ledger,
    retention_days: int = WEB_PREAGG.ledger_retention_days,
    baseline_days: int = LEDGER.min_baseline_retention_days,
) -> dict:
    """Remove this family's finished ledger rows not updated for ``retention_days``.

    Rows that hold a stale-check baseline (source_count set) are kept while their day is within
    ``baseline_days`` (>= the longest lookback): a later run still compares against them. Live claims
    are never removed."""
    removed = ledger.cleanup(FAMILY, retention_days, keep_baseline_days=baseline_days)
    log.info(
        "ledger cleanup: removed %d rows (retention %d days, baselines kept %d days)",
        removed,
        retention_days,
        baseline_days,
    )
    return {"ledger_rows_removed": removed}


def drop_orphan_staging(
    ch: ClickHouse,
    max_age_hours: int = WEB_PREAGG.staging_max_age_hours,
    now: float | None = None,
    dag_id: str = WEB_PREAGG.dag_id,
) -> list[str]:
    """Drop staging tables older than ``max_age_hours`` (their tasks are long gone)."""
    now = now or time.time()
    dropped = []
    for row in ch.query("web_preagg/staging_list", {}, tag=QueryTag(dag_id, what="cleanup list staging")):
        name = row["name"]
        created = staging_created_at(name)
        if name.startswith(STAGING_PREFIX) and created is not None and now - created > max_age_hours * 3600:
            ch.query("web_preagg/staging_drop", {"staging": name}, tag=QueryTag(dag_id, what="cleanup drop"))
            dropped.append(name)
    if dropped:
        log.warning("dropped %d orphan staging tables: %s", len(dropped), ", ".join(dropped))
    return dropped
