"""The environment of a local Airflow's components: configuration, connections, pools (local only).

Local-only choices, never for production:
* ``simple_auth_manager_all_admins=True``: the UI and the REST API need no login (a token comes from
  ``GET /auth/token`` without credentials).
* one JWT secret generated per start and shared by the components (tasks talk to the execution API
  with it; a mismatch fails tasks with "Invalid auth token").
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backfill.settings import CONNECTIONS, DUCKLING, MAINTENANCE, OBSERVABILITY, PROJECT_ROOT, WEB_PREAGG

if TYPE_CHECKING:
    from devtools.airflow_stack import LocalAirflow

POOLS_FILE = PROJECT_ROOT / "include" / "pools.json"
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


def component_env(stack: LocalAirflow) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
    }
    airflow_bin = str(Path(sys.executable).parent)
    env.update(
        {
            "PATH": f"{airflow_bin}:{env.get('PATH', '/usr/bin:/bin')}",
            "AIRFLOW_HOME": str(stack.home),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(stack.plugins_folder), env.get("PYTHONPATH")])),
            "TZ": "UTC",
            "AIRFLOW__CORE__EXECUTOR": stack.executor,
            "AIRFLOW__CORE__PARALLELISM": str(stack.parallelism),
            "AIRFLOW__CORE__DAGS_FOLDER": str(stack.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(stack.plugins_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{stack.base_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": stack.metadata_url,
            # Airflow derives an asyncpg URL otherwise; psycopg 3 does async itself
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": stack.metadata_url,
            "AIRFLOW__API__PORT": str(stack.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": stack.base_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": stack.jwt_secret,
            "AIRFLOW__API_AUTH__JWT_SECRET": stack.jwt_secret,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(Path(stack.home) / "logs"),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",  # new DAG files show up within 30 s
        }
    )
    if stack.executor == "CeleryExecutor":
        env.update(
            {
                "AIRFLOW__CELERY__BROKER_URL": stack.broker_url or "",
                # results on the metadata PostgreSQL, as Airflow's production guide does
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + stack.metadata_url,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(stack.worker_concurrency),
            }
        )
    if stack.fast_parsing:
        env.update(
            {
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            }
        )
    env.update(stack.connections)
    env.update(stack.extra_env)
    return env
