"""Airflow's own floor for scripts/bench_e2e.py: the duckling DAG's shape (detect -> partitions -> a
mapped group of export -> register -> report) with task bodies that only hand on the same small dicts.
BENCH_FLOOR_ITEMS sets the number of mapped partitions. Not a project DAG (it lives outside dags/)."""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import dag, get_current_context, task, task_group

N = int(os.environ.get("BENCH_FLOOR_ITEMS", "1"))
# under a scheduler (scripts/bench_scheduler.py): the package's pools, and N from the run's conf {"n": N}
POOLS = os.environ.get("BENCH_FLOOR_POOLS") == "1"
EXPORT_POOL = {"pool": "duckling_export"} if POOLS else {}
REGISTER_POOL = {"pool": "duckling_register"} if POOLS else {}


@dag(dag_id="bench_floor", schedule=None, start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
def bench_floor_dag():
    @task(multiple_outputs=True)
    def detect() -> dict:
        n = int((get_current_context()["dag_run"].conf or {}).get("n", N))
        items = [{"team_id": 1, "day": f"d{i}", "kind": "events", "label": f"1 d{i}"} for i in range(n)]
        return {"items": items, "summary": {"n": n}}

    @task(**EXPORT_POOL)
    def export(item: dict) -> dict:
        return {**item, "status": "exported", "files": [], "source_count": 0}

    @task(**REGISTER_POOL)
    def register(exported: dict) -> dict:
        return {**exported, "status": "done"}

    @task_group
    def partition(item: dict):
        return register(export(item))

    @task
    def partitions(items: list[dict]) -> list[dict]:
        return items

    @task(trigger_rule="all_done")
    def report(summary: dict, results) -> dict:
        return {"n": len(list(results))}

    plan = detect()
    report(plan["summary"], partition.expand(item=partitions(plan["items"])))


bench_floor = bench_floor_dag()
