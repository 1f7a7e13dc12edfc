"""ONE real Airflow stack per test session, shared by tests/scheduler and tests/browser.

api-server + scheduler + dag-processor under LocalExecutor (devtools.airflow_stack), metadata DB in its
own database on the session's PostgreSQL server, and the package's connections pointing at:

* an embedded ClickHouse (chdb) directory of its OWN (not tests/conftest.py's: the pytest process may
  hold that one); demo data is generated into it before the scheduler starts and the pytest process
  closes its chdb session, so the task processes can lock the directory;
* app DB ``posthog_e2e`` (teams + a remote duckling registry row) and a DuckLake catalog database
  ``duckling_e2e_catalog`` on the same PostgreSQL server, data on the session's moto S3 server.

Every project DAG is paused at creation (``dags_are_paused_at_creation``); a test unpauses only the DAG
under test, with ``stack.unpaused(dag_id)``, which first lets the scheduler create and finish the one
scheduled run that unpausing a ``catchup=False`` DAG produces (for the latest complete interval), so
that run cannot overlap the test's own runs; the next scheduled run is due only at the next midnight
UTC. The demo data lies in 2024, far from that interval.

Both conftests call ``get_stack(request, pg, s3)``: the first caller builds the stack; later callers
get the same object. The e2e tests run last (``move_e2e_last``) and the stack stops right after the last
of them (``stop_after_last_e2e``), so it does not compete for the 2 cores with the rest of the suite.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from backfill.settings import DUCKLING, MAINTENANCE, OBSERVABILITY, PROJECT_ROOT, WEB_PREAGG
from devtools import airflow_env, airflow_stack, appdb_setup, localstack
from devtools.statsd_sink import StatsdSink

TEAM_IDS = (1, 2, 3)
DUCKLING_TEAM = 1
DEMO_START = dt.date(2024, 3, 1)
DEMO_DAYS = 12
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
DAG_FILES = {
    WEB_PREAGG.dag_id: "web_preagg_backfill.py",
    DUCKLING.daily_dag_id: "duckling_backfill.py",
    DUCKLING.full_dag_id: "duckling_backfill.py",
    OBSERVABILITY.freshness_dag_id: "backfill_freshness.py",
    MAINTENANCE.dag_id: "duckling_maintenance.py",
    "duckling_downstream": "duckling_downstream.py",  # tests/e2e/dags: scheduled on a duckling asset
}
TEST_DAGS = Path(__file__).resolve().parent / "dags"


@dataclass
class E2EStack:
    airflow: airflow_stack.LocalAirflow
    base: Path
    chdb_path: Path
    app_db_url: str  # SQLAlchemy URL of the app DB
    catalog_db: str
    s3: localstack.S3Server
    pg: localstack.PostgresServer
    bucket: str
    statsd: StatsdSink  # every component sends Airflow's metrics (and the package's) here
    parsed: list[str] = field(default_factory=list)

    @property
    def faults_file(self) -> Path:
        return self.base / "faults.json"

    import_errors: dict[str, str] = field(default_factory=dict)

    def require_dag(self, dag_id: str) -> None:
        """Skip while the DAG's file does not exist yet; fail when it exists but does not import."""
        if dag_id in self.import_errors:
            pytest.fail(
                f"dags/{DAG_FILES[dag_id]} does not import in the dag-processor:\n"
                f"{self.import_errors[dag_id][-3000:]}"
            )
        if dag_id not in self.parsed:
            pytest.skip(f"DAG {dag_id} is not in dags/ yet ({DAG_FILES[dag_id]})")

    @contextlib.contextmanager
    def unpaused(self, dag_id: str, settle_timeout: float = 180, also: tuple[str, ...] = ()):
        """Unpause ``dag_id`` (and ``also``) only, after its unpause-time scheduled run is done; pause
        them again after."""
        self.require_dag(dag_id)
        for other in self.parsed:  # every DAG but the ones under test stays paused
            if other != dag_id and other not in also:
                self.airflow.set_paused(other, True)
        for name in (*also, dag_id):
            self.airflow.set_paused(name, False)
        try:
            self.settle_scheduled_runs(dag_id, settle_timeout)
            yield self.airflow
        finally:
            for name in (dag_id, *also):
                self.airflow.set_paused(name, True)

    def settle_scheduled_runs(self, dag_id: str, timeout: float) -> None:
        """Wait until the scheduler has created every scheduled run that is due now and they finished."""
        deadline = time.monotonic() + timeout
        while True:
            self.airflow.check_alive()
            dag = self.airflow.api("GET", f"/api/v2/dags/{dag_id}")
            due = dag.get("next_dagrun_run_after")
            due_now = due is not None and dt.datetime.fromisoformat(due) <= dt.datetime.now(dt.UTC)
            runs = self.airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?run_type=scheduled&limit=100")
            active = [r for r in runs["dag_runs"] if r["state"] in ("queued", "running")]
            if not due_now and not active:
                return
            if time.monotonic() > deadline:
                raise airflow_stack.AirflowError(
                    f"{dag_id}: scheduled runs did not settle in {timeout:.0f}s "
                    f"(next due {due}, active {[r['dag_run_id'] for r in active]})"
                )
            time.sleep(1)

    @contextlib.contextmanager
    def lake(self, catalog_db: str | None = None, bucket: str | None = None):
        """A read-only DuckDB attach of a duckling of the stack, as a customer would read it."""
        from backfill.duckdb_conn import connect

        con = connect()
        try:
            s3 = self.s3
            con.execute(
                f"CREATE SECRET e2e (TYPE s3, KEY_ID '{s3.access_key}', SECRET '{s3.secret_key}', "
                f"REGION '{s3.region}', ENDPOINT '127.0.0.1:{s3.port}', URL_STYLE 'path', USE_SSL false)"
            )
            con.execute(
                f"ATTACH 'ducklake:postgres:dbname={catalog_db or self.catalog_db} host=127.0.0.1 "
                f"port={self.pg.port} user={self.pg.user}' AS lake "
                f"(DATA_PATH 's3://{bucket or self.bucket}/', READ_ONLY)"
            )
            yield con
        finally:
            con.close()

    def clickhouse_rows(self, template, params: dict, lock_timeout_s: float = 120) -> list[dict]:
        """Read the stack's chdb directory from pytest, then release it for the task processes."""
        from backfill.clickhouse import ClickHouse

        ch = ClickHouse.embedded(str(self.chdb_path), lock_timeout_s=lock_timeout_s)
        try:
            return ch.query(template, params)
        finally:
            ch.close()


_STACK: E2EStack | None = None


def get_stack(
    request: pytest.FixtureRequest, pg: localstack.PostgresServer, s3: localstack.S3Server
) -> E2EStack:
    global _STACK
    if _STACK is None:
        _STACK = _build(pg, s3)
        request.addfinalizer(_teardown)  # the session-scoped caller: runs before pg / s3 stop
    return _STACK


E2E_MARKERS = ("scheduler", "browser")


def is_e2e(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(m) for m in E2E_MARKERS)


def move_e2e_last(items: list[pytest.Item]) -> None:
    """Stable: fast tests first, then every test that needs the stack, back to back."""
    items[:] = [i for i in items if not is_e2e(i)] + [i for i in items if is_e2e(i)]


def stop_after_last_e2e(item: pytest.Item) -> None:
    """Stop the stack once no e2e test is left to run in this session."""
    if _STACK is None or not is_e2e(item):
        return
    items = item.session.items
    rest = items[items.index(item) + 1 :] if item in items else []
    if not any(is_e2e(i) for i in rest):
        _teardown()


def _teardown() -> None:
    global _STACK
    stack, _STACK = _STACK, None
    if stack is None:
        return
    stack.airflow.stop()
    stack.statsd.close()
    if os.environ.get("BACKFILL_KEEP_E2E") != "1":
        shutil.rmtree(stack.base, ignore_errors=True)


def _seed(
    pg: localstack.PostgresServer,
    s3: localstack.S3Server,
    chdb_path: Path,
    app_db: str,
    catalog_db: str,
    bucket: str,
) -> None:
    from backfill.appdb import AppDB
    from backfill.clickhouse import ClickHouse
    from backfill.clickhouse_schema import create_clickhouse_schema
    from backfill.duckling.registry import Registry
    from backfill.web_preagg.recompute import enable_patch_parts
    from devtools.demo_data import DemoSpec, generate

    ch = ClickHouse.embedded(str(chdb_path))
    try:
        create_clickhouse_schema(ch)
        enable_patch_parts(ch)
        generate(
            ch,
            DemoSpec(
                team_ids=TEAM_IDS,
                start_day=DEMO_START,
                days=DEMO_DAYS,
                sessions_per_day=40,
                persons_per_team=30,
            ),
        )
    finally:
        ch.close()  # this process must not hold the directory while the scheduler runs tasks

    db = AppDB.from_url(pg.url(app_db))
    appdb_setup.prepare(db)
    appdb_setup.upsert_teams(
        db,
        [
            {"id": t, "name": f"e2e team {t}", "web_analytics_pre_aggregated_tables_enabled": True}
            for t in TEAM_IDS
        ],
    )
    s3.client().create_bucket(Bucket=bucket)
    Registry(db).upsert(
        team_id=DUCKLING_TEAM,
        bucket=bucket,
        bucket_region=s3.region,
        db_host="127.0.0.1",
        db_port=pg.port,
        db_database=catalog_db,
        db_username=pg.user,
    )
    db.engine.dispose()


def _dags_folder(base: Path, package_dags: Path) -> Path:
    folder = base / "dags"
    folder.mkdir()
    for source in [*package_dags.glob("*.py"), *TEST_DAGS.glob("*.py")]:
        shutil.copyfile(source, folder / source.name)
    return folder


def _build(
    pg: localstack.PostgresServer,
    s3: localstack.S3Server,
    *,
    name: str = "e2e",
    executor: str = "LocalExecutor",
    broker_url: str | None = None,
    workers: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> E2EStack:
    """A stack of its own databases, bucket and chdb directory (``name`` keeps two stacks apart)."""
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix=f"backfill-{name}-"))
    chdb_path = base / "chdb"
    app_db, catalog_db, meta_db = f"posthog_{name}", f"duckling_{name}_catalog", f"airflow_{name}"
    bucket = f"{name}-duckling-team-1"
    for name in (app_db, catalog_db, meta_db):
        pg.create_database(name)
    _seed(pg, s3, chdb_path, app_db, catalog_db, bucket)

    pools = airflow_env.load_pools()
    statsd = StatsdSink()
    airflow = airflow_stack.LocalAirflow(
        home=base / "airflow",
        metadata_url=pg.url(meta_db),
        port=localstack.free_port(),
        # above every pool's slots: the pool, not the executor, must be what caps concurrency
        parallelism=max(p["slots"] for p in pools.values()) + 2,
        fast_parsing=True,
        executor=executor,
        broker_url=broker_url,
        workers=workers,
        worker_concurrency=1,
        # the package's DAG files plus the test's downstream DAG (debugging aid: another copy of dags/)
        dags_folder=_dags_folder(
            base, Path(os.environ.get("BACKFILL_E2E_DAGS_FOLDER", PROJECT_ROOT / "dags"))
        ),
        # fault points the tests arm by writing this file (tests/e2e/test_faults_e2e.py); short retries
        extra_env={
            "BACKFILL_FAULT_POINTS_FILE": str(base / "faults.json"),
            "BACKFILL_TASK_RETRY_DELAY_S": "2",
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": statsd.host,
            "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
            "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
            **(extra_env or {}),
        },
        connections=airflow_env.embedded_connections(
            chdb_path=chdb_path,
            app_db_url=f"postgres://{pg.user}@127.0.0.1:{pg.port}/{app_db}",
            s3_endpoint=s3.endpoint,
            access_key=s3.access_key,
            secret_key=s3.secret_key,
            region=s3.region,
        ),
    )
    stack = E2EStack(
        airflow=airflow,
        base=base,
        chdb_path=chdb_path,
        app_db_url=pg.url(app_db),
        catalog_db=catalog_db,
        s3=s3,
        pg=pg,
        bucket=bucket,
        statsd=statsd,
    )
    try:
        airflow.migrate()
        airflow.import_pools()
        airflow.start()
        wanted = sorted(d for d, f in DAG_FILES.items() if (airflow.dags_folder / f).exists())
        stack.import_errors = airflow.wait_for_dags(wanted, timeout=240, files=DAG_FILES)
        stack.parsed = [d for d in wanted if d not in stack.import_errors]
    except BaseException:
        airflow.stop()
        raise
    print(
        f"\ne2e Airflow stack up in {time.monotonic() - started:.0f}s at {airflow.base_url} "
        f"(home {airflow.home}; DAGs {stack.parsed}; import errors {sorted(stack.import_errors)})"
    )
    return stack
