"""Every default of the package, in one place.

DAG files, the command line and the tests read their defaults from here; nothing else in the package
hard-codes a number, a connection id or a pool name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parents[1]  # a checkout's root (plugins/backfill -> ..); devtools and tests
# The wheel ships include/ (SQL templates, page template, pools) and dags/ inside the package; a checkout
# reads them from the repository's top level.
_PACKAGED = (PACKAGE_DIR / "include").is_dir()
INCLUDE_DIR = PACKAGE_DIR / "include" if _PACKAGED else PROJECT_ROOT / "include"
DAGS_DIR = PACKAGE_DIR / "dags" if _PACKAGED else PROJECT_ROOT / "dags"  # `backfill dags install`
SQL_DIR = INCLUDE_DIR / "sql"
TEMPLATES_DIR = INCLUDE_DIR / "templates"  # the coverage page's HTML
POOLS_FILE = INCLUDE_DIR / "pools.json"
# Embedded stores, the local Airflow home and DuckDB's extension directory: .local/ in a checkout
# (git-ignored); an installed package uses BACKFILL_LOCAL_DIR or ~/.cache/backfill.
LOCAL_DIR = Path(
    os.environ.get("BACKFILL_LOCAL_DIR")
    or (Path.home() / ".cache" / "backfill" if _PACKAGED else PROJECT_ROOT / ".local")
)


def env_int(name: str, default: int, lo: int, hi: int) -> int:
    """A knob a deployment sets in the environment (read when a DAG file is parsed, never the metadata
    DB); a bad value stops the parse with a message naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise ValueError(f"environment variable {name}={raw!r} must be an integer between {lo} and {hi}")
    return int(raw)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """A knob a deployment sets in the environment, one of ``choices``; a bad value stops the parse."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw not in choices:
        raise ValueError(f"environment variable {name}={raw!r} must be one of {', '.join(choices)}")
    return raw


CLICKHOUSE_S3_AUTH_MODES = ("keys", "environment")


@dataclass(frozen=True)
class Connections:
    clickhouse: str = "clickhouse_default"
    app_db: str = "posthog_db"
    aws: str = "aws_default"


@dataclass(frozen=True)
class AppDBDefaults:
    # The package's own tables: a PostgreSQL schema of their own, a table prefix on SQLite.
    schema: str = "backfill"
    sqlite_prefix: str = "backfill_"


@dataclass(frozen=True)
class Pools:
    duckling_maintenance: str = "duckling_maintenance"
    web_preagg: str = "web_preagg_backfill"
    duckling_export: str = "duckling_export"
    duckling_register: str = "duckling_register"


@dataclass(frozen=True)
class ClickHouseDefaults:
    # How long a task waits for the embedded engine's data directory, held by another process.
    embedded_lock_timeout_s: float = 600.0
    embedded_lock_poll_s: float = 0.5


@dataclass(frozen=True)
class WebPreaggDefaults:
    dag_id: str = "web_preagg_backfill"
    # the trigger form's defaults: env WEB_ANALYTICS_BACKFILL_LOOKBACK_DAYS / _MAX_PARTITIONS_PER_RUN
    lookback_days: int = field(
        default_factory=lambda: env_int("WEB_ANALYTICS_BACKFILL_LOOKBACK_DAYS", 30, 1, 365)
    )
    max_lookback_days: int = 365
    min_missing_partitions: int = 3
    max_partitions_per_run: int = field(
        default_factory=lambda: env_int("WEB_ANALYTICS_BACKFILL_MAX_PARTITIONS_PER_RUN", 7, 1, 1000)
    )
    max_partitions_cap: int = 1000
    gap_report_days_back: int = 7
    top_teams_by_pageviews: int = 30
    enabled_team_ids_variable: str = "WEB_ANALYTICS_ENABLED_TEAM_IDS"
    ledger_retention_days: int = 90
    lease_seconds: int = 900
    execution_timeout_minutes: int = 60
    # Opt-in source of teams: the top N by median daily pageviews over the window (param include_top_teams).
    include_top_teams: bool = False
    # Read events as PostHog's daily job does: every stored row, no FINAL (a re-ingested event counts
    # twice until ClickHouse merges it away). True: one row per uuid (the `final` setting) in detection
    # and the inserts alike, so the two never disagree (param dedupe_events).
    dedupe_events: bool = False
    # A mapped task retries once (a crash between delete and copy leaves a gap the retry or next run fills).
    task_retries: int = 1
    retry_delay_seconds: int = 60
    # Staging tables older than this (left by killed tasks) are dropped by the cleanup task.
    staging_max_age_hours: int = 24
    start_date: str = "2024-01-01"
    owner: str = "data-platform"


@dataclass(frozen=True)
class DucklingDefaults:
    daily_dag_id: str = "duckling_backfill"
    full_dag_id: str = "duckling_full_backfill"
    max_partitions: int = 100
    max_map_length: int = 1024  # Airflow's core.max_map_length default
    settle_days: int = 3
    lease_seconds: int = 1800
    execution_timeout_minutes: int = 60
    local_catalog_lock_timeout_s: float = 600.0
    local_catalog_lock_poll_s: float = 0.2
    family: str = "duckling"  # ledger family
    # The full backfill walks no further back than this day (an event stamped 1970-01-01 by a broken
    # client clock would start a 20,000-day walk); env DUCKLING_EARLIEST_DAY_FLOOR overrides it.
    earliest_day_floor: str = "2015-01-01"
    start_date: str = "2024-01-01"  # fixed start_date of both DAGs (UTC)
    owner: str = "data-platform"
    # transient faults (S3 5xx/SlowDown, connection drops, DuckLake commit conflicts): retried in the task
    retry_attempts: int = 5
    retry_wait_initial_s: float = 0.5
    retry_wait_max_s: float = 10.0
    task_retries: int = 2
    # Airflow's delay before a failed task's retry; BACKFILL_TASK_RETRY_DELAY_S overrides it (tests)
    task_retry_delay_s: int = field(
        default_factory=lambda: int(os.environ.get("BACKFILL_TASK_RETRY_DELAY_S", "60"))
    )
    sts_session_seconds: int = 3600
    # How ClickHouse signs its s3() reads and writes (DUCKLING_CLICKHOUSE_S3_AUTH): "keys" passes the
    # worker's keys (aws_default) as query parameters; "environment" passes none, and the ClickHouse
    # server uses its own credential chain (its role). Ducklings with a cross-account role always get STS
    # keys, whatever the mode.
    clickhouse_s3_auth: str = field(
        default_factory=lambda: env_choice("DUCKLING_CLICKHOUSE_S3_AUTH", "keys", CLICKHOUSE_S3_AUTH_MODES)
    )
    # ClickHouse settings a run may pass (resource limits only); anything else is refused
    clickhouse_settings_allowlist: tuple[str, ...] = (
        "max_execution_time",
        "max_memory_usage",
        "max_threads",
        "max_insert_threads",
        "max_bytes_before_external_sort",
        "max_bytes_before_external_group_by",
        "max_block_size",
        "priority",
        "max_network_bandwidth",
        "s3_max_connections",
        # how long the engine's own S3 client insists before the task's retry policy takes over
        "s3_retry_attempts",
        "s3_request_timeout_ms",
        "s3_connect_timeout_ms",
    )


@dataclass(frozen=True)
class LedgerDefaults:
    # Rows that hold a stale-check baseline live at least as long as the longest lookback.
    min_baseline_retention_days: int = 365


@dataclass(frozen=True)
class MaintenanceDefaults:
    dag_id: str = "duckling_maintenance"
    family: str = "duckling_maintenance"  # ledger family: one row per (duckling, run day)
    kind: str = "upkeep"
    schedule: str = "0 3 * * *"  # daily, after the night's registrations
    # BACKFILL_MAINTENANCE_ON_REGISTRATIONS=1: also run when registrations happened (the duckling
    # registrations asset alias), not only at the cron time; queued events make one run at a time
    on_registrations: bool = field(
        default_factory=lambda: env_choice("BACKFILL_MAINTENANCE_ON_REGISTRATIONS", "0", ("0", "1")) == "1"
    )
    keep_snapshot_days: int = 7  # time travel kept: snapshots younger than this are never expired
    # a file scheduled for deletion is deleted only this long after it left the last snapshot: a reader
    # that started on an older snapshot, or a registration in flight, never finds its file gone
    cleanup_margin_hours: int = 24
    lease_seconds: int = 3600
    # duckling ledger retention: DONE events rows at or before a team's coverage watermark (every day from
    # its first event day done) are deleted after this many days; the watermark keeps the coverage
    ledger_retention_days: int = 90
    # erasure looks this far behind its watermark: a deletion ingested late with an older _timestamp, or a
    # registration in flight across an erasure (bounded by its lease), is still propagated
    erasure_rescan_hours: int = 72


@dataclass(frozen=True)
class ObservabilityDefaults:
    freshness_dag_id: str = "backfill_freshness"
    freshness_schedule: str = "15 * * * *"  # hourly: an objective is checked within the hour it passes
    # the objective: yesterday (UTC) complete for every team by this time of day (UTC); a Variable overrides
    # it per family and per team
    freshness_deadline_utc: str = "06:00"
    freshness_variable: str = "backfill_freshness"
    freshness_window_days: int = 14  # how far back the check looks for a team's newest complete day
    # failure alerts (backfill.alerts): the channels are in this Variable; without it, the HTTP connection
    # below when it exists, else nothing is sent
    alerts_variable: str = "backfill_alerts"
    alerts_http_conn_id: str = "backfill_alerts"
    # Airflow's deadline alert on the daily runs: still unfinished this long after being queued -> a page.
    # Off (0) unless the environment sets it: Airflow 3.3.2's dag.test() (and `airflow dags test`) fails
    # a successful run of a DAG that has a deadline (DeadlineAlertModel.get_by_id gets the serialized
    # alert instead of its id), so the demo and the tests run without it. Under a scheduler, set e.g. 360.
    late_run_after_minutes: int = field(
        default_factory=lambda: env_int("BACKFILL_LATE_RUN_MINUTES", 0, 0, 7 * 24 * 60)
    )
    coverage_default_days: int = 30
    # the coverage page builds every team x day cell in the api-server's memory: bounded, a 400 beyond
    coverage_max_days: int = 366
    coverage_max_teams: int = 500
    coverage_max_cells: int = 100_000


CONNECTIONS = Connections()
APP_DB = AppDBDefaults()
POOLS = Pools()
CLICKHOUSE = ClickHouseDefaults()
WEB_PREAGG = WebPreaggDefaults()
DUCKLING = DucklingDefaults()
LEDGER = LedgerDefaults()
OBSERVABILITY = ObservabilityDefaults()
MAINTENANCE = MaintenanceDefaults()
