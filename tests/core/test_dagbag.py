"""Quality floor for every DAG: imports cleanly, documents itself, types its params, and touches no
database or network while being parsed (the dag-processor parses these files every few seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_DAGS = {"web_preagg_backfill", "duckling_backfill", "duckling_full_backfill"}
UPKEEP_DAGS = {"backfill_freshness", "duckling_maintenance"}  # own schedules, no data intervals

# Parse the DAG folder in a fresh interpreter where any network connect() fails and the connections
# point nowhere: a parse-time query would show up as an import error.
PARSE_PROBE = r"""
import json, socket, sys
def refuse(*a, **k):
    raise RuntimeError("network access at DAG parse time")
socket.socket.connect = refuse
socket.create_connection = refuse
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
from backfill.clickhouse.embedded import _EmbeddedSessions
info = {}
for dag_id, dag in bag.dags.items():
    info[dag_id] = {
        "doc_md": bool(dag.doc_md and len(dag.doc_md) > 80),
        "tags": sorted(dag.tags or []),
        "owners": sorted({t.owner for t in dag.tasks}),
        "params": {k: {**dag.params.get_param(k).schema, "description": dag.params.get_param(k).description}
                   for k in dag.params},
        "timetable": type(dag.timetable).__name__,
        "catchup": dag.catchup,
    }
print(json.dumps({"errors": {k: v for k, v in bag.import_errors.items()}, "dags": info,
                  "chdb_opened": _EmbeddedSessions.session is not None}))
"""


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    home = tmp_path_factory.mktemp("parse-home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PYTHONPATH": str(ROOT / "plugins"),
        "AIRFLOW_CONN_CLICKHOUSE_DEFAULT": json.dumps(
            {"conn_type": "chdb", "extra": {"path": "/nonexistent"}}
        ),
        "AIRFLOW_CONN_POSTHOG_DB": "postgres://nobody@10.255.255.1:1/none",
        "AIRFLOW_CONN_AWS_DEFAULT": "aws://x:y@",
    }
    out = subprocess.run(
        [sys.executable, "-c", PARSE_PROBE, str(ROOT / "dags")], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_dags_import_without_errors(parsed):
    assert parsed["errors"] == {}
    assert EXPECTED_DAGS | UPKEEP_DAGS <= set(parsed["dags"])


def test_parsing_opens_no_engine(parsed):
    assert parsed["chdb_opened"] is False


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS | UPKEEP_DAGS))
def test_dag_documents_itself(parsed, dag_id):
    dag = parsed["dags"][dag_id]
    assert dag["doc_md"], f"{dag_id} needs a doc_md that explains it in the UI"
    assert dag["tags"], f"{dag_id} needs tags"
    assert dag["owners"] and "airflow" not in dag["owners"], f"{dag_id} needs a real owner: {dag['owners']}"


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS | {"duckling_maintenance"}))
def test_params_are_typed_and_described(parsed, dag_id):
    params = parsed["dags"][dag_id]["params"]
    assert params, f"{dag_id} has no params"
    for name, schema in params.items():
        assert "type" in schema, f"{dag_id}.{name} has no JSON-schema type"
        assert schema.get("description"), f"{dag_id}.{name} has no description for the trigger form"


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_schedule_has_data_intervals(parsed, dag_id):
    """Airflow 3's plain cron strings have no data interval; the run for [D, D+1) must process day D."""
    assert parsed["dags"][dag_id]["timetable"] == "CronDataIntervalTimetable"
    assert parsed["dags"][dag_id]["catchup"] is False
