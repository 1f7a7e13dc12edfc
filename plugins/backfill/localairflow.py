"""A real local Airflow: api-server, scheduler and dag-processor under LocalExecutor.

Used by ``make airflow`` (``python -m backfill.localairflow up``) and by the end-to-end tests
(tests/e2e_stack.py). The metadata DB is PostgreSQL (LocalExecutor runs tasks in parallel processes;
SQLite cannot take that), the connections are passed as ``AIRFLOW_CONN_*`` environment variables, the
pools come from include/pools.json (``airflow pools import``), and every process is stopped by its PID.

Local-only choices, never for production:
* ``simple_auth_manager_all_admins=True``: the UI and the REST API need no login (a token comes from
  ``GET /auth/token`` without credentials).
* one JWT secret generated per start and shared by the three processes (tasks talk to the
  execution API with it; a mismatch fails tasks with "Invalid auth token").
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backfill.settings import CONNECTIONS, DUCKLING, LOCAL_DIR, PROJECT_ROOT, WEB_PREAGG

POOLS_FILE = PROJECT_ROOT / "include" / "pools.json"
PROJECT_DAG_IDS = (WEB_PREAGG.dag_id, DUCKLING.daily_dag_id, DUCKLING.full_dag_id)
COMPONENTS = ("api-server", "scheduler", "dag-processor")
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


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the launching process dies (Linux), so a killed test
    session or `make airflow` does not leave a scheduler running."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class AirflowError(RuntimeError):
    pass


@dataclass
class LocalAirflow:
    """One Airflow installation in ``home`` with a PostgreSQL metadata DB.

    ``metadata_url``: SQLAlchemy URL, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/airflow``.
    ``connections``: ``AIRFLOW_CONN_*`` name -> value. ``extra_env`` wins over everything.
    """

    home: Path
    metadata_url: str
    connections: dict[str, str] = field(default_factory=dict)
    port: int = 8080
    parallelism: int = DEFAULT_PARALLELISM
    dags_folder: Path = PROJECT_ROOT / "dags"
    plugins_folder: Path = PROJECT_ROOT / "plugins"
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    fast_parsing: bool = False  # tests: rescan the dags folder every few seconds
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _token: str | None = None

    # --- environment --------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return Path(self.home) / "component-logs"

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
        }
        airflow_bin = str(Path(sys.executable).parent)
        env.update(
            {
                "PATH": f"{airflow_bin}:{env.get('PATH', '/usr/bin:/bin')}",
                "AIRFLOW_HOME": str(self.home),
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(self.plugins_folder), env.get("PYTHONPATH")])
                ),
                "TZ": "UTC",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.plugins_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
                # Airflow derives an asyncpg URL otherwise; psycopg 3 does async itself
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.metadata_url,
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": self.jwt_secret,
                "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(Path(self.home) / "logs"),
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",  # new DAG files show up within 30 s
            }
        )
        if self.fast_parsing:
            env.update(
                {
                    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
                    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                }
            )
        env.update(self.connections)
        env.update(self.extra_env)
        return env

    # --- one-shot commands --------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AirflowError(
                f"airflow {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc

    def migrate(self) -> None:
        Path(self.home).mkdir(parents=True, exist_ok=True)
        self.cli("db", "migrate", timeout=600)

    def import_pools(self, path: Path = POOLS_FILE) -> None:
        self.cli("pools", "import", str(path))

    # --- long-running components --------------------------------------------------------------
    def start(self, components: tuple[str, ...] = COMPONENTS, ready_timeout: float = 120) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = self.env()
        exe = str(Path(sys.executable).parent / "airflow")
        for name in components:
            args = [exe, name]
            if name == "api-server":
                args += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
            out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed when the process ends
            # its own session: stop() signals the whole group (the executor's workers, uvicorn's)
            self.processes[name] = subprocess.Popen(
                args,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=str(self.home),
                preexec_fn=_die_with_parent,
            )
            out.close()
        self.wait_ready(ready_timeout)

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise AirflowError(
                    f"airflow {name} exited with {proc.returncode}; "
                    f"log: {self.log_dir / (name + '.log')}\n{self.log_tail(name)}"
                )

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                health = self.api("GET", "/api/v2/monitor/health", auth=False)
                if health.get("metadatabase", {}).get("status") == "healthy" and (
                    "scheduler" not in self.processes
                    or health.get("scheduler", {}).get("status") == "healthy"
                ):
                    return
            except (urllib.error.URLError, ConnectionError, OSError, ApiError):
                pass  # still starting (or the app is not mounted yet)
            if time.monotonic() > deadline:
                raise AirflowError(
                    f"Airflow not healthy after {timeout:.0f}s; api-server log:\n"
                    f"{self.log_tail('api-server')}"
                )
            time.sleep(1)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM each component's process group (by the PID we started), then SIGKILL leftovers."""
        for proc in self.processes.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # the group may outlive its leader (task processes): kill what is left of it
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.processes.clear()

    # --- REST API (the same calls the UI makes) ----------------------------------------------
    def token(self) -> str:
        if self._token is None:
            # all-admins mode: GET /auth/token hands out an admin token without credentials
            self._token = self.api("GET", "/auth/token", auth=False)["access_token"]
        return self._token

    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: bool = True,
        expect: tuple[int, ...] = (200, 201, 204),
        timeout: float = 30,
    ) -> Any:
        """Call the api-server; return the decoded JSON. A status outside ``expect`` raises ApiError."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token()}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        payload = json.loads(raw) if raw else None
        if status not in expect:
            raise ApiError(status, method, path, payload)
        return payload

    def import_errors(self) -> dict[str, str]:
        """File name -> the dag-processor's traceback, for every DAG file that failed to import."""
        errors = self.api("GET", "/api/v2/importErrors?limit=100").get("import_errors", [])
        return {e.get("filename", "?"): e.get("stack_trace", "") for e in errors}

    def wait_for_dags(
        self, dag_ids: tuple[str, ...] | list[str], timeout: float = 180, files: dict[str, str] | None = None
    ) -> dict[str, str]:
        """Wait until the dag-processor has serialized each DAG; return ``{dag_id: traceback}`` for the
        DAGs whose file (``files[dag_id]``, a file name in the dags folder) failed to import. Without
        ``files`` any import error raises at once."""
        deadline = time.monotonic() + timeout
        missing = list(dag_ids)
        failed: dict[str, str] = {}
        while True:
            self.check_alive()
            missing = [d for d in missing if not self.dag_exists(d)]
            errors = self.import_errors()
            if errors and files is None:
                raise AirflowError(
                    "DAG import errors: "
                    + "; ".join(f"{name}: {trace[-1500:]}" for name, trace in errors.items())
                )
            for dag_id in missing:
                for name, trace in errors.items():
                    if files and Path(name).name == files.get(dag_id):
                        failed[dag_id] = trace
            missing = [d for d in missing if d not in failed]
            if not missing:
                return failed
            if time.monotonic() > deadline:
                raise AirflowError(
                    f"DAGs {missing} not parsed after {timeout:.0f}s; dag-processor log:\n"
                    f"{self.log_tail('dag-processor')}"
                )
            time.sleep(2)

    def dag_exists(self, dag_id: str) -> bool:
        return self.api("GET", f"/api/v2/dags/{dag_id}", expect=(200, 404)).get("dag_id") == dag_id

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def set_pool_slots(self, pool: str, slots: int) -> None:
        self.api("PATCH", f"/api/v2/pools/{pool}", {"slots": slots})

    def trigger(
        self,
        dag_id: str,
        conf: dict[str, Any] | None = None,
        *,
        logical_date: str | None = None,
        run_id: str | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> dict[str, Any]:
        """POST /api/v2/dags/{id}/dagRuns: what the UI's trigger form sends."""
        body: dict[str, Any] = {"logical_date": logical_date, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body, expect=expect)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            run = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            if time.monotonic() > deadline:
                raise AirflowError(f"run {dag_id}/{run_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(1)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = self.api(
                "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100&offset={len(out)}"
            )
            out += page["task_instances"]
            if len(out) >= page["total_entries"] or not page["task_instances"]:
                return out


class ApiError(AirflowError):
    def __init__(self, status: int, method: str, path: str, payload: Any):
        super().__init__(f"{method} {path} -> HTTP {status}: {json.dumps(payload)[:2000]}")
        self.status = status
        self.payload = payload


# --- `make airflow` ---------------------------------------------------------------------------
def _start_or_reuse_postgres(base_dir: Path):
    """A PostgreSQL cluster kept in ``base_dir`` across restarts (initdb on first use)."""
    from backfill import localstack

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


def seed_embedded_demo(chdb_path: Path, app_db_url: str) -> bool:
    """First start only: the ClickHouse schema, the demo events and the demo teams. True if seeded."""
    from backfill.appdb import AppDB
    from backfill.clickhouse import ClickHouse
    from backfill.demo import DemoSpec, generate
    from backfill.schema import create_clickhouse_schema

    db = AppDB.from_url(app_db_url)
    db.create_schema()
    marker = Path(chdb_path) / ".seeded"
    if marker.exists():
        db.engine.dispose()
        return False
    ch = ClickHouse.embedded(str(chdb_path))
    try:
        create_clickhouse_schema(ch)
        spec = DemoSpec()
        generate(ch, spec)
    finally:
        ch.close()  # the scheduler's task processes must be able to lock the directory
    db.upsert_teams(
        [
            {"id": t, "name": f"demo team {t}", "web_analytics_pre_aggregated_tables_enabled": True}
            for t in spec.team_ids
        ]
    )
    db.engine.dispose()
    marker.write_text("demo data generated\n")
    return True


def up(args) -> int:
    """Start everything in .local/airflow and run until interrupted; stop all by PID on exit."""
    from backfill import localstack

    base = Path(args.dir)
    base.mkdir(parents=True, exist_ok=True)
    pg = _start_or_reuse_postgres(base / "pg")
    s3 = None
    stack = None
    try:
        for name in ("airflow", "posthog"):
            pg.create_database(name)
        s3 = localstack.start_moto(base / "moto.log")
        app_url = f"postgres://postgres@127.0.0.1:{pg.port}/posthog"
        chdb_path = base / "chdb"
        if seed_embedded_demo(chdb_path, pg.url("posthog")):
            print(f"seeded demo data into {chdb_path} and teams into the app DB", flush=True)
        stack = LocalAirflow(
            home=base / "home",
            metadata_url=pg.url("airflow"),
            port=args.port,
            parallelism=args.parallelism,
            connections=embedded_connections(
                chdb_path=chdb_path, app_db_url=app_url, s3_endpoint=s3.endpoint
            ),
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
        pg.stop()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m backfill.localairflow", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start a local Airflow on the embedded stores until Ctrl-C")
    p_up.add_argument("--dir", default=str(LOCAL_DIR / "airflow"))
    p_up.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")))
    p_up.add_argument("--parallelism", type=int, default=DEFAULT_PARALLELISM)
    p_up.add_argument("--unpause", action="append", help="DAG id to unpause (default: the project's DAGs)")
    p_up.add_argument("--parse-timeout", type=float, default=180)
    p_up.add_argument("--exit-after", type=float, default=None, help="stop after N seconds (smoke test)")
    p_up.add_argument("--reset", action="store_true", help="delete the directory first")
    args = parser.parse_args(argv)
    if args.reset:
        shutil.rmtree(args.dir, ignore_errors=True)
    return up(args)


if __name__ == "__main__":
    sys.exit(main())
