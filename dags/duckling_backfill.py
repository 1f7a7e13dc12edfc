"""Two DAGs that fill each team's duckling (its own DuckLake) with its events and persons, exactly once.

Wiring only; the logic is in plugins/backfill/duckling (tasks.py is the one hop from each task).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task, task_group

from backfill import alerts
from backfill.assets import DUCKLING_REGISTRATIONS
from backfill.duckling import tasks
from backfill.duckling.params import dag_params
from backfill.settings import DUCKLING, POOLS

START = dt.datetime.fromisoformat(DUCKLING.start_date).replace(tzinfo=dt.UTC)
TIMEOUT = dt.timedelta(minutes=DUCKLING.execution_timeout_minutes)
DEFAULT_ARGS = {
    "owner": DUCKLING.owner,
    "retries": DUCKLING.task_retries,
    "retry_delay": dt.timedelta(seconds=DUCKLING.task_retry_delay_s),
}

COMMON_DOC = """
**Tasks**: `detect` (plan from registry, ledger, ClickHouse) → `partition` (a task group mapped per
team-day, so one partition's failure never stops another's): `export` (pool `duckling_export`: ClickHouse
writes `s3://{bucket}/backfill/events/team_id=T/year=/month=/day=/{file}.parquet`, a new file per attempt)
then `register` (pool `duckling_register`: one DuckLake transaction deletes the team-day and adds exactly
that attempt's files; a path already registered is refused; lake count checked against the file) →
`report` (outcome per partition, orphan files, warnings; fails if any partition failed or never ran).
A permanent failure (missing bucket, bad registry row, schema mismatch) is not retried; a transient
one (S3 5xx, dropped connections, catalog conflicts) is retried inside the task, then by Airflow.

**Params**: `team_ids` (empty = all registered), `start_date`/`end_date` (UTC range), `kinds`,
`max_partitions` (≤ 1024), `dry_run`, `skip_ducklake_registration`, `skip_schema_validation`,
`cleanup_existing_partition_data` (default true; false appends and gives up the one-copy guarantee),
`create_tables_if_missing` (default true), `delete_tables` (needs explicit `team_ids`),
`clickhouse_settings` (resource settings from an allowlist only).
"""


def build(dag_id: str, mode: str, doc: str, tags: list[str]):
    @dag(
        dag_id=dag_id,
        schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        on_failure_callback=alerts.on_run_failure,
        deadline=alerts.late_run_deadline(dag_id) if mode == "daily" else None,
        params=dag_params(),
        doc_md=doc + COMMON_DOC,
        tags=tags,
    )
    def duckling():
        @task(multiple_outputs=True)
        def detect() -> dict:
            return tasks.run_detect(get_current_context(), mode)

        @task(pool=POOLS.duckling_export, map_index_template="{{ label }}", execution_timeout=TIMEOUT)
        def export(item: dict) -> dict:
            return tasks.run_export(get_current_context(), item)

        @task(
            pool=POOLS.duckling_register,
            map_index_template="{{ label }}",
            execution_timeout=TIMEOUT,
            outlets=[DUCKLING_REGISTRATIONS],  # an asset event per registered team-day (backfill.assets)
        )
        def register(exported: dict) -> dict:
            return tasks.run_register(get_current_context(), exported)

        @task_group
        def partition(item: dict):
            # one mapped group per team-day: register i waits for export i only, so one partition's
            # failure never holds back another's registration
            return register(export(item))

        @task
        def partitions(items: list[dict]) -> list[dict]:
            return items  # Airflow maps only over a task's return value, never over a multiple_outputs key

        @task(trigger_rule="all_done", retries=0)
        def report(summary: dict, results) -> dict:
            return tasks.run_report(get_current_context(), summary, results)

        plan = detect()
        report(plan["summary"], partition.expand(item=partitions(plan["items"])))

    return duckling()


duckling_backfill = build(
    DUCKLING.daily_dag_id,
    "daily",
    """### duckling_backfill
Daily, on data intervals: the run for [D, D+1) exports day D of every registered team (so
`airflow backfill create --dag-id duckling_backfill --from-date … --to-date …` back-fills a range, one run
per day). Also retries partitions the ledger shows failed (at any age, until a run completes them), re-exports days of the last
3 whose ClickHouse count changed (late events), and skips partitions in progress (live ledger claim).
Persons: the persons and distinct ids that changed on D, merged so the lake holds the latest state.
""",
    ["duckling", "backfill", "daily"],
)

duckling_full_backfill = build(
    DUCKLING.full_dag_id,
    "full",
    """### duckling_full_backfill
Daily: walks each team's history from its earliest event day (asked of ClickHouse once, cached in
duckling_team_state) to yesterday, at most `max_partitions` not-yet-done team-days per run, round-robin
across teams, oldest first. A team's first run also exports a full persons snapshot. A day without
events is done with 0 rows and no file.
""",
    ["duckling", "backfill", "full"],
)
