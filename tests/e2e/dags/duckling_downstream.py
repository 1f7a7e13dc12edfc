"""Test only (copied into the e2e stack's DAGs folder): a downstream DAG scheduled on team 1's duckling
events asset, as a customer's own pipeline would be. Its task returns the extras of the asset events
that triggered it."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, get_current_context, task

from backfill.assets import duckling_asset


@dag(
    dag_id="duckling_downstream",
    schedule=[duckling_asset(1, "events")],
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    tags=["test"],
)
def duckling_downstream():
    @task
    def consume() -> list[dict]:
        events = get_current_context()["triggering_asset_events"]
        return [dict(event.extra) for asset_events in events.values() for event in asset_events]

    consume()


duckling_downstream()
