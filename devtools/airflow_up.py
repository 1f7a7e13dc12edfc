"""``make airflow``: a local Airflow on the embedded stores in .local/airflow until Ctrl-C."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from backfill.settings import LOCAL_DIR
from devtools import appdb_setup, localstack
from devtools.airflow_env import DEFAULT_PARALLELISM, POOLS_FILE, PROJECT_DAG_IDS, embedded_connections
from devtools.airflow_stack import AirflowError, LocalAirflow

SESSIONS_PER_DAY = 150  # lighter than `make demo`: the scheduler runs it on a laptop in the background


def _start_or_reuse_postgres(base_dir: Path):
    """A PostgreSQL cluster kept in ``base_dir`` across restarts (initdb on first use)."""
    data_dir = base_dir / "pgdata"
    if not (data_dir / "PG_VERSION").exists():
        return localstack.start_postgres(base_dir)
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    port = localstack.free_port()
    if _pg_running(data_dir):
        raise AirflowError(f"PostgreSQL in {data_dir} is already running: is another `make airflow` up?")
    (data_dir / "postmaster.pid").unlink(missing_ok=True)  # left by a killed run
    subprocess.run(
        [
            *run_as,
            str(localstack.pg_bin_dir() / "pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(base_dir / "postgres.log"),
            "-w",
            "-o",
            f"-p {port} -k {base_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return localstack.PostgresServer(data_dir=data_dir, port=port)


def _pg_running(data_dir: Path) -> bool:
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().splitlines()[0]), 0)
        return True
    except (ProcessLookupError, ValueError, IndexError):
        return False


def schema_fingerprint() -> str:
    """A short hash of the ClickHouse schema files: a store seeded with other shapes is refused."""
    import hashlib

    from backfill.settings import SQL_DIR

    files = sorted((SQL_DIR / "schema" / "clickhouse").glob("*.sql"))
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]


def seed_embedded_demo(chdb_path: Path, app_db_url: str) -> bool:
    """First start only: the demo world of ``make demo`` (traffic over the last weeks ending yesterday,
    teams enabled, the "daily job" pre-aggregations with deliberate gaps). True if seeded."""
    from backfill.appdb import AppDB
    from backfill.clickhouse import ClickHouse
    from devtools.demo import demo_spec, seed_demo_world

    db = AppDB.from_url(app_db_url)
    appdb_setup.prepare(db)
    marker = Path(chdb_path) / ".seeded"
    shape = schema_fingerprint()
    try:
        if marker.exists():
            if shape not in marker.read_text():
                raise SystemExit(
                    f"{chdb_path} holds demo tables made with an older ClickHouse schema; "
                    "start again with `bash scripts/airflow-local.sh --reset` (or remove that directory)"
                )
            return False
        yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        ch = ClickHouse.embedded(str(chdb_path))
        try:
            seed_demo_world(ch, db, demo_spec(yesterday, sessions_per_day=SESSIONS_PER_DAY), yesterday)
        finally:
            ch.close()  # the scheduler's task processes must be able to lock the directory
        marker.write_text(f"demo data generated; schema {shape}\n")
        return True
    finally:
        db.engine.dispose()


def fresh_demo_ducklings(app_db_url: str, lakes: Path, aws_connection: str) -> list[int]:
    """Every start: the demo ducklings, empty. moto keeps S3 in memory, so files from an earlier start
    are gone: their catalogs, ledger rows and team state go too, and the DAGs fill them again."""
    from backfill.appdb import AppDB
    from backfill.duckling.state import TeamState
    from backfill.ledger import Ledger
    from backfill.settings import DUCKLING
    from devtools.demo import DEMO_DUCKLINGS, register_demo_ducklings

    shutil.rmtree(lakes, ignore_errors=True)
    db = AppDB.from_url(app_db_url)
    previous = os.environ.get("AIRFLOW_CONN_AWS_DEFAULT")
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = aws_connection  # register_demo_duckling creates the buckets
    try:
        team_ids = db.web_analytics_enabled_team_ids()[:DEMO_DUCKLINGS]
        for team_id in team_ids:
            Ledger(db).forget(DUCKLING.family, team_id)
            TeamState(db).forget(team_id)
        from devtools.demo_data import DemoSpec

        return register_demo_ducklings(db, DemoSpec(team_ids=tuple(team_ids)), lakes)
    finally:
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_AWS_DEFAULT", None)
        else:
            os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = previous
        db.engine.dispose()


def up(args) -> int:
    """Start everything in .local/airflow and run until interrupted (Ctrl-C or SIGTERM); stop all by PID
    on exit, PostgreSQL included."""
    signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop is a Ctrl-C here
    base = Path(args.dir)
    base.mkdir(parents=True, exist_ok=True)
    pg = _start_or_reuse_postgres(base / "pg")
    s3 = None
    redis = None
    stack = None
    try:
        for name in ("airflow", "posthog"):
            pg.create_database(name)
        s3 = localstack.start_moto(base / "moto.log")
        app_url = f"postgres://postgres@127.0.0.1:{pg.port}/posthog"
        chdb_path = base / "chdb"
        if seed_embedded_demo(chdb_path, pg.url("posthog")):
            print(f"seeded demo data into {chdb_path} and teams into the app DB", flush=True)
        connections = embedded_connections(chdb_path=chdb_path, app_db_url=app_url, s3_endpoint=s3.endpoint)
        ducklings = fresh_demo_ducklings(
            pg.url("posthog"), base / "lakes", connections["AIRFLOW_CONN_AWS_DEFAULT"]
        )
        print(f"demo ducklings (empty) for teams {ducklings}", flush=True)
        celery = {}
        if args.executor == "celery":
            redis = localstack.start_redis(base / "redis.log")
            workers = tuple(f"worker-{i + 1}" for i in range(args.workers))
            celery = {"executor": "CeleryExecutor", "broker_url": redis.url, "workers": workers}
            print(f"CeleryExecutor: redis-server at {redis.url}, workers {list(workers)}", flush=True)
        stack = LocalAirflow(
            home=base / "home",
            metadata_url=pg.url("airflow"),
            port=args.port,
            parallelism=args.parallelism,
            connections=connections,
            **celery,
        )
        print("airflow db migrate ...", flush=True)
        stack.migrate()
        stack.import_pools()
        print(f"pools imported from {POOLS_FILE}", flush=True)
        stack.start()
        dag_ids = args.unpause or list(PROJECT_DAG_IDS)
        try:
            stack.wait_for_dags(dag_ids, timeout=args.parse_timeout)
        except AirflowError as exc:
            print(f"warning: {exc}", file=sys.stderr)
        for dag_id in dag_ids:
            if stack.dag_exists(dag_id):
                stack.set_paused(dag_id, False)
                print(f"unpaused {dag_id}")
        print(
            f"\nAirflow UI + REST API: {stack.base_url}  (no login: simple auth manager, all admins)\n"
            f"AIRFLOW_HOME={stack.home}  metadata DB: {pg.url('airflow')}\n"
            f"app DB: {app_url}  S3 (moto): {s3.endpoint}  chdb: {chdb_path}\n"
            f"component logs: {stack.log_dir}\nCtrl-C stops everything.",
            flush=True,
        )
        if args.exit_after is not None:
            time.sleep(args.exit_after)
            return 0
        while True:
            stack.check_alive()
            time.sleep(2)
    except KeyboardInterrupt:
        return 0
    finally:
        if stack:
            stack.stop()
        if s3:
            s3.stop()
        if redis:
            redis.stop()
        pg.stop()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def add_arguments(parser) -> None:
    parser.add_argument("--dir", default=str(LOCAL_DIR / "airflow"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")))
    parser.add_argument("--parallelism", type=int, default=DEFAULT_PARALLELISM)
    parser.add_argument("--unpause", action="append", help="DAG id to unpause (default: the project's DAGs)")
    parser.add_argument("--parse-timeout", type=float, default=180)
    parser.add_argument("--exit-after", type=float, default=None, help="stop after N seconds (smoke test)")
    parser.add_argument("--reset", action="store_true", help="delete the directory first")
    parser.add_argument("--executor", choices=("local", "celery"), default="local",
                        help="celery: Debian's redis-server as the broker and --workers named Celery workers")  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (with --executor celery)")


def main(args) -> int:
    if args.reset:
        shutil.rmtree(args.dir, ignore_errors=True)
    return up(args)
