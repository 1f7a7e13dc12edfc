"""web_preagg_backfill: find and recompute missing web analytics pre-aggregated team-days.

Wiring only; every task body lives in backfill.web_preagg.tasks (one hop from here).
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task

from backfill import alerts
from backfill.assets import WEB_PREAGG_RECOMPUTES
from backfill.settings import POOLS, WEB_PREAGG
from backfill.web_preagg import tasks
from backfill.web_preagg.params import dag_params

DOC = f"""
### Web analytics pre-aggregation backfill

Finds **(team, day, table)** partitions of `web_pre_aggregated_stats` / `web_pre_aggregated_bounces`
that are missing (the team had web traffic that day: sessions *starting* that day with a pageview) or
stale (the source pageview count changed since the day was computed), and recomputes them one
team-day at a time with the daily job's SQL (`include/sql/web_preagg/*_insert.sql`): staging table,
then delete that team's day and copy it in. Other teams' rows are never touched.

* The run for interval [D, D+1) checks the `lookback_days` days ending with D; a run without a
  logical date checks the window ending with `end_date`, else yesterday (UTC).
* `dry_run`: detect, plan and report only. `force`: also recompute present team-days.
* Missing team-days run only when at least `min_missing_partitions` are missing; at most
  `max_partitions_per_run` per run (default {WEB_PREAGG.max_partitions_per_run}), newest first.
* The **plan** task logs what runs and why the rest waits; the **report** task logs the summary
  (missing / stale / planned / done / failed / skipped, per table) and fails the run if a team-day failed.
* Gap report without running anything: `python -m backfill gaps web-preagg --days-back 14`.
"""


@dag(
    dag_id=WEB_PREAGG.dag_id,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.parse(WEB_PREAGG.start_date, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["web-analytics", "backfill", "clickhouse"],
    default_args={"owner": WEB_PREAGG.owner},
    on_failure_callback=alerts.on_run_failure,
    deadline=alerts.late_run_deadline(WEB_PREAGG.dag_id),
    doc_md=DOC,
    params=dag_params(),
    render_template_as_native_obj=False,
)
def web_preagg_backfill():
    @task
    def select_teams() -> dict:
        return tasks.run_select_teams(get_current_context())

    @task
    def detect(selection: dict) -> dict:
        return tasks.run_detect(get_current_context(), selection)

    @task(multiple_outputs=True)
    def plan(selection: dict, detection: dict) -> dict:
        return tasks.run_plan(get_current_context(), selection, detection)

    @task(
        pool=POOLS.web_preagg,
        map_index_template="{{ label }}",
        execution_timeout=dt.timedelta(minutes=WEB_PREAGG.execution_timeout_minutes),
        retries=WEB_PREAGG.task_retries,
        retry_delay=dt.timedelta(seconds=WEB_PREAGG.retry_delay_seconds),
        outlets=[WEB_PREAGG_RECOMPUTES],  # an asset event per table recomputed (backfill.assets)
    )
    def backfill_team_day(item: dict) -> dict:
        return tasks.run_backfill_team_day(get_current_context(), item)

    @task(trigger_rule="all_done")
    def report(detection: dict, plan_summary: dict, results) -> dict:
        return tasks.run_report(get_current_context(), detection, plan_summary, list(results or []))

    @task
    def partitions(items: list[dict]) -> list[dict]:
        return items  # Airflow maps only over a task's return value, never over a multiple_outputs key

    @task
    def cleanup() -> dict:
        return tasks.run_cleanup(get_current_context())

    selection = select_teams()
    detection = detect(selection)
    planned = plan(selection, detection)
    done = backfill_team_day.expand(item=partitions(planned["items"]))
    report(detection, planned["summary"], done)
    planned >> cleanup()  # housekeeping only: old ledger rows, orphaned staging tables


web_preagg_backfill()
