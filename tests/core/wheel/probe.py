"""Run inside the fresh virtual environment that holds only the built wheel (and what it depends on):
seed ClickHouse (embedded), run web_preagg_backfill from the DAGs folder `backfill dags install` wrote
with dag.test(), then ask the api-server app (plugins loaded by Airflow's plugin manager) for the
coverage page. Prints one JSON line for the test to check."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import uuid
from pathlib import Path

dags_folder, insert_event_sql, end_day = Path(sys.argv[1]), Path(sys.argv[2]).read_text(), sys.argv[3]

import backfill  # noqa: E402
from backfill import sql as sqlt  # noqa: E402
from backfill.clickhouse import ClickHouse  # noqa: E402
from backfill.clickhouse_schema import create_clickhouse_schema  # noqa: E402
from backfill.settings import SQL_DIR  # noqa: E402

END = dt.date.fromisoformat(end_day)
DAYS = [END - dt.timedelta(days=i) for i in range(3)]
ch = ClickHouse.from_conn_id()
create_clickhouse_schema(ch)
insert = sqlt.Template("insert_event", insert_event_sql)
for n, day in enumerate(DAYS):
    start = dt.datetime.combine(day, dt.time(12), dt.UTC)
    ms = int(start.timestamp() * 1000)
    session = str(uuid.UUID(f"{ms:012x}" + "7000" + "8000" + f"{n + 1:012x}"))
    for i, (event, path) in enumerate((("$pageview", "/"), ("$pageview", "/pricing"))):
        ch.query(insert, {
            "uuid": str(uuid.UUID(int=100 * n + i + 1)), "event": event,
            "properties": json.dumps({"$host": "example.com", "$pathname": path, "$session_id": session}),
            "ts": start + dt.timedelta(minutes=i), "team_id": 1, "distinct_id": "d1",
            "person_id": str(uuid.UUID(int=7)), "session_id": session,
        })  # fmt: skip
ch.close()

from airflow.dag_processing.dagbag import DagBag  # noqa: E402

bag = DagBag(dag_folder=str(dags_folder))
run = bag.get_dag("web_preagg_backfill").test(
    logical_date=dt.datetime.now(dt.UTC), run_conf={"end_date": end_day, "lookback_days": 3}
)
states = sorted({(ti.task_id, str(ti.state)) for ti in run.get_task_instances()})

ch = ClickHouse.from_conn_id()
rows = {
    str(day): ch.scalar(
        sqlt.Template("pageviews", "SELECT sumMerge(pageviews_count_state) FROM web_pre_aggregated_stats "
                      "WHERE team_id = 1 AND toDate(period_bucket) = {d:Date}"),
        {"d": day},
    )
    for day in DAYS
}  # fmt: skip
ch.close()

from airflow.api_fastapi.app import create_app, get_auth_manager  # noqa: E402
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

client = TestClient(create_app("core"))
token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="viewer", role="viewer"))
page = client.get(
    f"/backfill/coverage?family=web_preagg&start={DAYS[-1]}&end={END}", cookies={"_token": token}
)
print(json.dumps({
    "package": backfill.__file__, "sql_dir": str(SQL_DIR), "dag_state": str(run.state), "tasks": states,
    "pageviews": rows, "page_status": page.status_code,
    "cells": sorted(re.findall(r'data-team="(\d+)" data-day="([\d-]+)" data-state="(\w+)"', page.text)), "anonymous": client.get("/backfill/coverage").status_code,
}))  # fmt: skip
