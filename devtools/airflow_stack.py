"""A real local Airflow: api-server, scheduler and dag-processor under LocalExecutor, as processes.

Used by ``make airflow`` (``python -m devtools airflow``) and by the end-to-end tests (tests/e2e_stack.py).
The metadata DB is PostgreSQL (LocalExecutor runs tasks in parallel processes; SQLite cannot take that),
the connections are ``AIRFLOW_CONN_*`` environment variables (devtools.airflow_env), the pools come from
include/pools.json, the REST calls from devtools.airflow_rest, and every process is stopped by its PID.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
from dataclasses import dataclass, field
from pathlib import Path

from backfill.settings import PROJECT_ROOT
from devtools import proctree
from devtools.airflow_env import DEFAULT_PARALLELISM, POOLS_FILE
from devtools.airflow_rest import AirflowError, AirflowRest, ApiError

COMPONENTS = ("api-server", "scheduler", "dag-processor")


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the launching process dies (Linux), so a killed test
    session or `make airflow` does not leave a scheduler running."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class LocalAirflow(AirflowRest):
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
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    fast_parsing: bool = False  # tests: rescan the dags folder every few seconds
    # CeleryExecutor: the broker (redis://...) and one Celery worker per name; each worker's task processes
    # report that name as their hostname (devtools.worker_name), so a test sees which worker ran what
    executor: str = "LocalExecutor"
    broker_url: str | None = None
    workers: tuple[str, ...] = ()
    worker_concurrency: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _token: str | None = None

    def env(self) -> dict[str, str]:
        return component_env(self)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return Path(self.home) / "component-logs"

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
        exe = str(Path(sys.executable).parent / "airflow")
        for name in components:
            args = [exe, name]
            if name == "api-server":
                args += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
            self._spawn(name, args, self.env())
        for worker in self.workers:
            self.start_worker(worker)
        self.wait_ready(ready_timeout)

    def start_worker(self, name: str) -> None:
        """One Celery worker named ``name`` (its task processes report it as their hostname)."""
        exe = str(Path(sys.executable).parent / "airflow")
        args = [exe, "celery", "worker", "--celery-hostname", f"{name}@%h",
                "--concurrency", str(self.worker_concurrency), "--without-mingle", "--without-gossip"]  # fmt: skip
        env = self.env()
        env.update(
            BACKFILL_WORKER_NAME=name,
            AIRFLOW__CORE__HOSTNAME_CALLABLE="devtools.worker_name.hostname",
            # devtools (the hostname callable) sits at the project root
            PYTHONPATH=os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(PROJECT_ROOT)])),
        )
        self._spawn(f"worker-{name}", args, env)

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
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
        """SIGTERM each component's process group (by the PID we started), then SIGKILL leftovers,
        including processes that left the group (the executor's task runners start their own)."""
        started: dict[int, str] = {}
        for proc in self.processes.values():
            started.update(proctree.descendants(proc.pid))
        proctree.kill(started, signal.SIGTERM)
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
        proctree.kill(started)
        self.processes.clear()


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
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(PROJECT_ROOT / "plugins"), env.get("PYTHONPATH")])
            ),
            "TZ": "UTC",
            "AIRFLOW__CORE__EXECUTOR": stack.executor,
            "AIRFLOW__CORE__PARALLELISM": str(stack.parallelism),
            "AIRFLOW__CORE__DAGS_FOLDER": str(stack.dags_folder),
            # the coverage page comes from the package's entry point; the plugins folder stays empty
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(stack.home / "plugins"),
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
