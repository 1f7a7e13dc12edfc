"""Hourly freshness check of both families: gauges per family, and a loud failure (with an alert)
when a team's yesterday is not complete by its deadline.

Wiring only; the logic is in plugins/backfill/freshness (tasks.py is the one hop from each task).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task

from backfill import alerts
from backfill.families import COVERED
from backfill.freshness import tasks
from backfill.settings import OBSERVABILITY, WEB_PREAGG


@dag(
    dag_id=OBSERVABILITY.freshness_dag_id,
    schedule=CronTriggerTimetable(OBSERVABILITY.freshness_schedule, timezone="UTC"),
    start_date=dt.datetime.fromisoformat(WEB_PREAGG.start_date).replace(tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": WEB_PREAGG.owner, "retries": 0},
    tags=["backfill", "freshness"],
    doc_md=f"""### {OBSERVABILITY.freshness_dag_id}
Hourly. For each family (web_preagg, duckling), from what the runs stored (coverage and ledger, never
ClickHouse): each team's newest complete day (done or no traffic) over the last
{OBSERVABILITY.freshness_window_days} days, sent as the `backfill.<family>.freshness_lag_days` and
`backfill.<family>.teams_behind` gauges. The objective: yesterday (UTC) complete by
{OBSERVABILITY.freshness_deadline_utc} UTC, per family and per team overridable in the Variable
`{OBSERVABILITY.freshness_variable}`. A family's check task **fails** when a team missed it, naming the
teams and days, and that message is sent through the alert channels of the Variable
`{OBSERVABILITY.alerts_variable}` (Slack webhook, SMTP, HTTP; without it, the HTTP connection
`{OBSERVABILITY.alerts_http_conn_id}` when it exists).
""",
)
def backfill_freshness():
    for family in (f.name for f in COVERED):

        @task(task_id=f"check_{family}", on_failure_callback=alerts.on_task_failure)
        def check(family: str = family) -> dict:
            return tasks.run_family_check(get_current_context(), family)

        check()


backfill_freshness()
