"""The environment of a local Airflow's components: configuration, connections, pools (local only).

Local-only choices, never for production:
* ``simple_auth_manager_all_admins=True``: the UI and the REST API need no login (a token comes from
  ``GET /auth/token`` without credentials).
* one JWT secret generated per start and shared by the components (tasks talk to the execution API
  with it; a mismatch fails tasks with "Invalid auth token").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backfill.settings import (
    CONNECTIONS,
    DUCKLING,
    MAINTENANCE,
    OBSERVABILITY,
    POOLS_FILE,
    WEB_PREAGG,
)

PROJECT_DAG_IDS = (
    WEB_PREAGG.dag_id,
    DUCKLING.daily_dag_id,
    DUCKLING.full_dag_id,
    MAINTENANCE.dag_id,
    OBSERVABILITY.freshness_dag_id,
)
DEFAULT_PARALLELISM = 4  # a 2-core machine: task processes mostly wait on ClickHouse / S3 / PostgreSQL


def load_pools(path: Path = POOLS_FILE) -> dict[str, dict[str, Any]]:
    """The pools file: ``{name: {"slots": int, "description": str, "include_deferred": bool}}``."""
    return json.loads(Path(path).read_text())


def conn_env_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def embedded_connections(
    *,
    chdb_path: Path | str,
    app_db_url: str,
    s3_endpoint: str,
    access_key: str = "testing",
    secret_key: str = "testing",
    region: str = "us-east-1",
) -> dict[str, str]:
    """The package's three connections as ``AIRFLOW_CONN_*`` values (JSON form).

    ``app_db_url`` is a ``postgres://user[:password]@host:port/db`` URI.
    """
    return {
        conn_env_name(CONNECTIONS.clickhouse): json.dumps(
            {"conn_type": "chdb", "extra": {"path": str(chdb_path)}}
        ),
        conn_env_name(CONNECTIONS.app_db): app_db_url,
        conn_env_name(CONNECTIONS.aws): json.dumps(
            {
                "conn_type": "aws",
                "login": access_key,
                "password": secret_key,
                "extra": {"endpoint_url": s3_endpoint, "region_name": region},
            }
        ),
    }
