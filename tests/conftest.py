"""Real services for the whole test session: PostgreSQL, the moto S3/STS server, an embedded chdb.

Airflow reads its configuration at import time, so the environment is set here, before anything
imports airflow. Services are started once per session and stopped by PID at the end.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SESSION_DIR = Path(tempfile.mkdtemp(prefix="backfill-tests-"))
AIRFLOW_HOME = SESSION_DIR / "airflow"
AIRFLOW_HOME.mkdir()

os.environ.update(
    AIRFLOW_HOME=str(AIRFLOW_HOME),
    AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
    AIRFLOW__CORE__PLUGINS_FOLDER=str(AIRFLOW_HOME / "plugins"),  # the page comes from the entry point
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__UNIT_TEST_MODE="False",
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
    AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    TZ="UTC",
)
sys.path.insert(0, str(ROOT / "plugins"))

from backfill.appdb import AppDB  # noqa: E402
from backfill.clickhouse import ClickHouse  # noqa: E402
from devtools import appdb_setup, localstack  # noqa: E402

CLICKHOUSE_TABLES = (
    "events",
    "person",
    "person_distinct_id2",
    "web_pre_aggregated_stats",
    "web_pre_aggregated_bounces",
)
APP_TABLES = (
    "posthog_team",
    "duckling_registry",
    "ledger",
    "duckling_team_state",
    "coverage",
)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def pg():
    server = localstack.start_postgres(SESSION_DIR / "pg")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3():
    server = localstack.start_moto(SESSION_DIR / "moto.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chdb_path():
    return SESSION_DIR / "chdb"


@pytest.fixture(scope="session")
def clickhouse_session(chdb_path):
    ch = ClickHouse.embedded(str(chdb_path))
    from backfill.clickhouse_schema import create_clickhouse_schema
    from backfill.web_preagg.recompute import enable_patch_parts

    create_clickhouse_schema(ch)
    enable_patch_parts(ch)  # as make demo and the README's deployment step; one test turns them off
    yield ch
    ch.close()


@pytest.fixture
def clickhouse(clickhouse_session):
    """The embedded ClickHouse with the schema, every table empty at the start of the test."""
    for table in CLICKHOUSE_TABLES:
        _truncate(clickhouse_session, table)
    return clickhouse_session


def _truncate(ch: ClickHouse, table: str) -> None:
    from backfill import sql as sqlt

    ch.query(sqlt.Template(f"truncate {table}", f"TRUNCATE TABLE IF EXISTS {table}"))


@pytest.fixture(scope="session")
def appdb_session(pg):
    pg.create_database("posthog")
    db = AppDB.from_url(pg.url("posthog"))
    appdb_setup.prepare(db)
    yield db
    db.engine.dispose()


@pytest.fixture
def appdb(appdb_session):
    """The app DB on the PostgreSQL server, every table empty at the start of the test."""
    import sqlalchemy as sa

    with appdb_session.engine.begin() as conn:
        for table in APP_TABLES:
            conn.execute(sa.delete(appdb_session.table(table)))
    return appdb_session


@pytest.fixture(scope="session")
def connections(pg, s3, chdb_path, appdb_session):
    """The three Airflow connections, as AIRFLOW_CONN_* env vars pointing at the real services."""
    env = {
        "AIRFLOW_CONN_CLICKHOUSE_DEFAULT": json.dumps(
            {"conn_type": "chdb", "extra": {"path": str(chdb_path)}}
        ),
        "AIRFLOW_CONN_POSTHOG_DB": f"postgres://postgres@127.0.0.1:{pg.port}/posthog",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {
                "conn_type": "aws",
                "login": s3.access_key,
                "password": s3.secret_key,
                "extra": {"endpoint_url": s3.endpoint, "region_name": s3.region},
            }
        ),
    }
    os.environ.update(env)
    return env


@pytest.fixture(scope="session")
def airflow_db():
    """An initialised Airflow metadata DB (SQLite) for DagBag and dag.test()."""
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        stdout=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    return AIRFLOW_HOME / "airflow.db"


@pytest.fixture(scope="session")
def dag_module(airflow_db, connections):
    """Load a file of dags/ as a fresh module, as the dag-processor would (its own name): fresh DAG
    objects, because dag.test() leaves a run's conf in the DAG's params."""

    def load(stem: str):
        name = f"dagfile_{stem}_{uuid.uuid4().hex[:8]}"
        spec = importlib.util.spec_from_file_location(name, ROOT / "dags" / f"{stem}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


SERVICE_FIXTURES = {"pg", "s3", "clickhouse_session", "appdb_session", "airflow_db", "connections", "e2e"}


def pytest_collection_modifyitems(session, config, items):
    """Every test that starts a real service (PostgreSQL, S3, ClickHouse, Airflow's DB) gets the marker
    ``services``: ``-m "not services"`` runs the pure decisions alone in seconds."""
    for item in items:
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.services)


# --- the fault-injection figures (make faults) ---------------------------------------------------
FAULT_ROWS: list[dict] = []
FAULT_COLUMNS = (
    "fault",
    "fired",
    "tries",
    "survived",
    "rows lost",
    "duplicate rows",
    "registered files lost",
    "orphans left",
    "persons equal",
    "check can fail",
)


@pytest.fixture
def record_fault():
    """Record one fault scenario's figures for the table printed at the end of the session. ``fired``:
    how often this row's own fault fired (its own counter); ``persons``: the lake's persons and distinct
    ids equal ClickHouse's latest state (None: not part of the row); ``can_fail``: the row's check was
    shown to fail on a deliberately broken invariant."""

    def record(
        fault: str,
        tries: int,
        survived: bool,
        rows_lost,
        duplicates,
        files_lost,
        orphans_left,
        *,
        fired: int | str = "-",
        persons: bool | None = None,
        can_fail: bool | None = None,
    ) -> None:
        values = (
            fault,
            fired,
            tries,
            "yes" if survived else "NO",
            rows_lost,
            duplicates,
            files_lost,
            orphans_left,
            "-" if persons is None else ("yes" if persons else "NO"),
            "-" if can_fail is None else ("yes" if can_fail else "NO"),
        )
        FAULT_ROWS.append(dict(zip(FAULT_COLUMNS, values, strict=True)))

    return record


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not FAULT_ROWS:
        return
    widths = [
        max(len(str(r[c])) for r in [dict(zip(FAULT_COLUMNS, FAULT_COLUMNS, strict=True)), *FAULT_ROWS])
        for c in FAULT_COLUMNS
    ]
    line = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    terminalreporter.write_sep("=", "fault injection: the exactly-once invariant after each scenario")
    terminalreporter.write_line(line.format(*FAULT_COLUMNS))
    for row in FAULT_ROWS:
        terminalreporter.write_line(line.format(*(row[c] for c in FAULT_COLUMNS)))
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "faults.json").write_text(json.dumps(FAULT_ROWS, indent=2))
