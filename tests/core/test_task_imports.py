"""What a task process imports before its first query, as a scheduler's worker runs it: parse the DAG
file, load the plugins (Airflow does, for macros), import the task's step module, open the ClickHouse
seam on a server connection. An export never loads DuckDB (a register's engine), the embedded engine
(chdb, pyarrow), matplotlib or FastAPI (the coverage page's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import importlib, importlib.util, json, sys
import airflow.sdk
from airflow.sdk import plugins_manager
dag_file, step = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("dagfile", dag_file)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
plugins_manager.integrate_macros_plugins()
importlib.import_module(step)
from backfill.clickhouse import ClickHouse
ClickHouse.from_conn_id()  # server mode: a client, no query yet
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""

HEAVY = {"duckdb", "chdb", "pyarrow", "matplotlib", "fastapi"}


@pytest.mark.parametrize(
    "dag_file, step, allowed",
    [
        ("duckling_backfill.py", "backfill.duckling.export", set()),
        ("duckling_backfill.py", "backfill.duckling.detect", {"duckdb"}),  # detect checks lakes
        ("duckling_backfill.py", "backfill.duckling.register", {"duckdb"}),
        ("web_preagg_backfill.py", "backfill.web_preagg.recompute", set()),
        ("duckling_maintenance.py", "backfill.upkeep.maintain", {"duckdb"}),
        ("backfill_freshness.py", "backfill.freshness.objective", set()),
    ],
)
def test_a_task_loads_only_its_own_engines(dag_file, step, allowed, tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(tmp_path / "plugins"),
        "AIRFLOW_CONN_CLICKHOUSE_DEFAULT": json.dumps(
            {"conn_type": "clickhouse", "host": "127.0.0.1", "port": 1, "schema": "default"}
        ),
    }
    out = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "dags" / dag_file), step], env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "backfill" in loaded and "airflow_clickhouse_plugin" in loaded  # the probe did load them
    assert loaded & HEAVY == allowed, loaded & HEAVY
