"""The command line finds a connection made in the deployment's Airflow (its metadata DB), not only in
the environment: the connection is created through Airflow's REST API (the api-server's own app), then
``python -m backfill db current`` runs in a fresh process with the same Airflow configuration and no
AIRFLOW_CONN_* variable at all."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.services


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])
    return subprocess.run([sys.executable, "-m", "backfill", *args], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_db_current_reads_a_connection_created_through_the_rest_api(airflow_db, pg, appdb_session):
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    client = TestClient(create_app("core"))
    admin = {
        "Authorization": f"Bearer {get_auth_manager().generate_jwt(SimpleAuthManagerUser(username='ops', role='admin'))}"
    }
    client.delete("/api/v2/connections/posthog_db", headers=admin)  # a previous run's
    before = _cli("db", "current")
    assert before.returncode != 0 and "posthog_db" in (before.stderr + before.stdout)  # the control

    made = client.post("/api/v2/connections", headers=admin, json={
        "connection_id": "posthog_db", "conn_type": "postgres", "host": "127.0.0.1", "port": pg.port,
        "login": "postgres", "schema": "posthog",
    })  # fmt: skip
    assert made.status_code == 201, made.text
    try:
        after = _cli("db", "current")
        assert after.returncode == 0, after.stderr[-2000:]
        # the session's app DB is migrated: its revision is the package's head
        assert re.search(r"^app DB: (\S+) \(package head: \1\)$", after.stdout, re.M), after.stdout
    finally:
        client.delete("/api/v2/connections/posthog_db", headers=admin)
