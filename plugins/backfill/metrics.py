"""Metrics through Airflow's own metrics interface (``airflow.sdk.observability.stats``): StatsD or
OpenTelemetry, whichever the deployment configures in ``[metrics]``; nothing is sent when neither is on.

Names (prefix ``[metrics] statsd_prefix``, ``airflow`` by default), ``<family>`` = web_preagg | duckling:

  backfill.<family>.partitions.<outcome>   counter  partitions a run ended with that outcome:
                                                    done | failed | skipped | deferred
  backfill.<family>.rows_exported          counter  source rows the run's partitions read (duckling: rows
                                                    written to Parquet; web_preagg: counted pageviews)
  backfill.<family>.rows_registered        counter  rows the targets hold after the run's partitions
  backfill.<family>.clickhouse.rows_read   counter  ClickHouse storage rows read by the run's partitions
  backfill.<family>.clickhouse.bytes_read  counter  ... and bytes
  backfill.<family>.freshness_lag_days     gauge    the worst team's lag: days between its newest
                                                    complete day and yesterday
  backfill.<family>.teams_behind           gauge    teams whose newest complete day is before yesterday
  backfill.freshness_lag_days              gauge    per team, tags family + team_id: only where the backend
                                                    keeps tags (StatsD with Datadog/InfluxDB tags, or
                                                    OpenTelemetry); plain StatsD gets the aggregates only,
                                                    so the number of series does not grow with customers
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
OUTCOMES = ("done", "failed", "skipped", "deferred")


def _stats():
    from airflow.sdk.observability import stats

    return stats


def backend_keeps_tags() -> bool:
    """True when the configured backend stores tags (so a per-team series is worth sending)."""
    from airflow.sdk.configuration import conf

    return any(
        conf.getboolean("metrics", key, fallback=False)
        for key in ("statsd_datadog_enabled", "statsd_influxdb_enabled", "otel_on")
    )


def emit_run(family: str, outcomes: dict[str, int], *, rows_exported: int, rows_registered: int,
             clickhouse: dict[str, Any] | None = None) -> None:  # fmt: skip
    """One run's counters. Never fails the run: metrics are best effort."""
    try:
        stats = _stats()
        for outcome in OUTCOMES:
            if outcomes.get(outcome):
                stats.incr(f"backfill.{family}.partitions.{outcome}", count=int(outcomes[outcome]))
        if rows_exported:
            stats.incr(f"backfill.{family}.rows_exported", count=int(rows_exported))
        if rows_registered:
            stats.incr(f"backfill.{family}.rows_registered", count=int(rows_registered))
        for name in ("rows_read", "bytes_read"):
            if clickhouse and clickhouse.get(name):
                stats.incr(f"backfill.{family}.clickhouse.{name}", count=int(clickhouse[name]))
    except Exception as exc:
        log.warning("metrics not sent: %s", exc)


def emit_freshness(family: str, lags: dict[int, int]) -> None:
    """Freshness gauges: the worst lag and the number of teams behind; per team where tags are kept."""
    if not lags:
        return
    try:
        stats = _stats()
        stats.gauge(f"backfill.{family}.freshness_lag_days", max(lags.values()))
        stats.gauge(f"backfill.{family}.teams_behind", sum(1 for lag in lags.values() if lag > 0))
        if backend_keeps_tags():
            for team_id, lag in lags.items():
                stats.gauge(
                    "backfill.freshness_lag_days", lag, tags={"family": family, "team_id": str(team_id)}
                )
    except Exception as exc:
        log.warning("metrics not sent: %s", exc)
