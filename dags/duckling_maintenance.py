"""Daily upkeep of every duckling: compaction, snapshot expiry, safe file cleanup (one mapped task each).

Wiring only; the logic is in plugins/backfill/upkeep (tasks.py is the one hop from each task).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, get_current_context, task

from backfill import alerts
from backfill.assets import cron_or_registrations
from backfill.settings import DUCKLING, MAINTENANCE, POOLS
from backfill.upkeep import tasks
from backfill.upkeep.policy import PARAMS


@dag(
    dag_id=MAINTENANCE.dag_id,
    schedule=cron_or_registrations(MAINTENANCE.schedule, MAINTENANCE.on_registrations),
    start_date=dt.datetime.fromisoformat(DUCKLING.start_date).replace(tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": DUCKLING.owner,
        "retries": DUCKLING.task_retries,
        "retry_delay": dt.timedelta(seconds=DUCKLING.task_retry_delay_s),
    },  # fmt: skip
    on_failure_callback=alerts.on_run_failure,
    params=PARAMS.dag_params(),
    tags=["duckling", "maintenance"],
    doc_md=f"""### {MAINTENANCE.dag_id}
Daily upkeep of each duckling (one mapped task per duckling, pool `{POOLS.duckling_maintenance}`):
**compaction** (persons tables through `ducklake_merge_adjacent_files`; an events team-day that holds
several files, e.g. after append mode, rewritten as one), **snapshot expiry** (snapshots older than
`keep_snapshot_days`, default {MAINTENANCE.keep_snapshot_days}), and **file cleanup** by DuckLake itself of
files that left every snapshot at least `cleanup_margin_hours` ago (default {MAINTENANCE.cleanup_margin_hours}).
Never deletes a referenced file: the catalog's files of any snapshot, files scheduled for deletion within
the margin, and the files the ledger still names (in-flight and export-only) are kept; if a file due for
cleanup is named by the ledger, that duckling's cleanup is skipped and the report says why.
The report lists per duckling: files, bytes, snapshots, what was merged, expired and deleted.
""",
)
def duckling_maintenance():
    @task
    def ducklings() -> list[int]:
        return tasks.run_ducklings(get_current_context())

    @task(pool=POOLS.duckling_maintenance, map_index_template="{{ label }}")
    def maintain(team_id: int) -> dict:
        return tasks.run_maintain(get_current_context(), team_id)

    @task(trigger_rule="all_done", retries=0)
    def report(team_ids: list[int], results) -> dict:
        return tasks.run_report(get_current_context(), team_ids, results)

    teams = ducklings()
    report(teams, maintain.expand(team_id=teams))


duckling_maintenance()
