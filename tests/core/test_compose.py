"""docker-compose.yaml cannot run here (no Docker engine): check it against what the package expects.

Every connection is parsed the way Airflow parses it and handed to the package's own readers
(ClickHouse seam, app DB URL builder), then compared with the service it names: host = service name,
port = the port that service listens on, credentials = the service's own. Mounts must exist in the
repository and carry no package code (the image installs the wheel). The pools imported on init are
include/pools.json (printed by the installed package), whose names are settings.POOLS.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from backfill.settings import CONNECTIONS, POOLS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-worker",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-init",
)
STORE_SERVICES = ("postgres", "app-postgres", "clickhouse", "minio", "redis")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: _default(str(v)) for k, v in env.items()}


def _default(value: str) -> str:
    """Resolve ``${VAR:-default}`` to its default, as compose does when VAR is unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def _connection(services: dict, conn_id: str):
    from airflow.models.connection import Connection

    raw = _env(services["airflow-scheduler"])[f"AIRFLOW_CONN_{conn_id.upper()}"]
    if raw.lstrip().startswith("{"):
        return Connection.from_json(raw, conn_id=conn_id)
    return Connection(conn_id=conn_id, uri=raw)


def _published(service: dict) -> dict[int, int]:
    """container port -> host port"""
    out = {}
    for spec in service.get("ports", []):
        host, container = str(spec).rsplit(":", 1) if ":" in str(spec) else (spec, spec)
        out[int(container.split("/")[0])] = int(str(host).split(":")[-1])
    return out


def test_official_airflow3_shape(services):
    for name in (*AIRFLOW_SERVICES, *STORE_SERVICES):
        assert name in services, f"service {name} missing"
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES[:-1]}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-worker": "celery worker",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }
    assert "container_name" not in services["airflow-worker"], "a named container cannot be scaled"
    assert "healthcheck" in services["redis"]
    for name in AIRFLOW_SERVICES[:-1]:
        deps = services[name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
        for store in STORE_SERVICES:
            assert deps[store]["condition"] == "service_healthy", (name, store)
    for name in STORE_SERVICES:
        assert "healthcheck" in services[name], name
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_airflow_containers_agree_on_executor_auth_and_execution_api(services):
    api_port = 8080
    assert _published(services["airflow-apiserver"]).get(api_port), "api-server must publish 8080"
    seen = set()
    for name in AIRFLOW_SERVICES:
        env = _env(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        broker = urlparse(env["AIRFLOW__CELERY__BROKER_URL"])
        assert (broker.scheme, broker.hostname, broker.port or 6379) == ("redis", "redis", 6379), name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], (
            name
        )
        assert "chdb" not in env[f"AIRFLOW_CONN_{CONNECTIONS.clickhouse.upper()}"], "no embedded engine here"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"
        url = urlparse(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert (url.hostname, url.port, url.path) == ("airflow-apiserver", api_port, "/execution/"), name
        seen.add((env["AIRFLOW__API_AUTH__JWT_SECRET"], env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]))
        for conn_id in (CONNECTIONS.clickhouse, CONNECTIONS.app_db, CONNECTIONS.aws):
            assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, (name, conn_id)
    assert len(seen) == 1, "every Airflow container needs the same JWT secret and metadata DB"
    ((secret, meta_url),) = seen
    assert len(secret) >= 32
    meta = urlparse(meta_url)
    pg = _env(services["postgres"])
    assert meta.hostname == "postgres" and (meta.port or 5432) == 5432
    assert (meta.username, meta.password, meta.path.lstrip("/")) == (
        pg["POSTGRES_USER"],
        pg["POSTGRES_PASSWORD"],
        pg["POSTGRES_DB"],
    )


def test_clickhouse_connection_points_at_the_native_port(services):
    from backfill.clickhouse import ClickHouse

    conn = _connection(services, CONNECTIONS.clickhouse)
    ch = ClickHouse.from_connection(conn)  # the seam's own reading of the connection
    assert ch.engine == "server"
    kw = ch.client_kwargs
    assert kw["host"] == "clickhouse" and int(kw["port"]) == 9000
    assert kw["settings"]["server_side_params"] is True
    ch_env = _env(services["clickhouse"])
    assert (kw["user"], kw["password"], kw.get("database", "default")) == (
        ch_env["CLICKHOUSE_USER"],
        ch_env["CLICKHOUSE_PASSWORD"],
        ch_env["CLICKHOUSE_DB"],
    )
    assert 9000 in _published(services["clickhouse"])


def test_app_db_connection_points_at_app_postgres(services):
    from backfill.appdb import url_from_connection

    url = url_from_connection(_connection(services, CONNECTIONS.app_db))
    env = _env(services["app-postgres"])
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port or 5432) == ("app-postgres", 5432)
    assert (url.username, url.password, url.database) == (
        env["POSTGRES_USER"],
        env["POSTGRES_PASSWORD"],
        env["POSTGRES_DB"],
    )


def test_aws_connection_points_at_minio_off_clickhouse_port(services):
    conn = _connection(services, CONNECTIONS.aws)
    assert conn.conn_type == "aws"
    endpoint = urlparse(conn.extra_dejson["endpoint_url"])
    minio = services["minio"]
    command = shlex.split(minio["command"]) if isinstance(minio["command"], str) else minio["command"]
    address = command[command.index("--address") + 1]
    assert endpoint.hostname == "minio" and endpoint.port == int(address.rsplit(":", 1)[1])
    assert endpoint.port != 9000, "9000 is ClickHouse's native port"
    assert endpoint.port in _published(minio)
    env = _env(minio)
    assert (conn.login, conn.password) == (env["MINIO_ROOT_USER"], env["MINIO_ROOT_PASSWORD"])
    assert conn.extra_dejson["region_name"]


def test_published_host_ports_do_not_clash(services):
    host_ports = [hp for svc in services.values() for hp in _published(svc).values()]
    assert len(host_ports) == len(set(host_ports)), host_ports


def test_mounts_exist_and_carry_no_package_code(services):
    """The package, its SQL and its DAG files come from the image (the wheel): a mount of plugins/,
    include/ or dags/ would shadow what was installed and hide a packaging mistake."""
    for name in AIRFLOW_SERVICES:
        for spec in services[name].get("volumes", []):
            source = spec.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing path {source}"
                assert Path(source).name not in {"plugins", "include", "dags"}, f"{name} mounts {source}"
        assert "PYTHONPATH" not in _env(services[name]), name


def test_init_imports_the_pools_and_creates_the_schema(services):
    init = services["airflow-init"]
    script = init["command"][-1] if isinstance(init["command"], list) else init["command"]
    mounts = {Path(t): Path(s) for s, t in (v.split(":")[:2] for v in init["volumes"] if v.startswith("."))}

    def repo_path(container_path: str) -> Path:
        for target, source in mounts.items():
            if Path(container_path).is_relative_to(target):
                return ROOT / source / Path(container_path).relative_to(target)
        raise AssertionError(f"{container_path} is not mounted from the repository")

    assert "airflow db migrate" in script
    # the installed package prints its pools file; airflow imports what it printed
    written = re.search(r"backfill dags pools > (\S+)", script).group(1)
    assert re.search(rf"airflow pools import {re.escape(written)}\b", script)
    init_py = re.search(r"python (\S+\.py)", script).group(1)
    assert repo_path(init_py).is_file()
    assert script.index("airflow db migrate") < script.index("airflow pools import") < script.index(init_py)


def test_the_pools_command_prints_the_pools_file():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "backfill", "dags", "pools"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads((ROOT / "include" / "pools.json").read_text())


def test_pools_file_matches_settings():
    pools = json.loads((ROOT / "include" / "pools.json").read_text())
    assert set(pools) == {
        POOLS.web_preagg,
        POOLS.duckling_export,
        POOLS.duckling_register,
        POOLS.duckling_maintenance,
    }
    for name, pool in pools.items():
        assert isinstance(pool["slots"], int) and pool["slots"] > 0, name
        assert len(pool["description"]) > 20, name
        assert pool.get("include_deferred") is False, name


def test_image_is_the_pinned_airflow_with_the_wheel(compose, services):
    """The image installs the wheel built from this checkout (every path pyproject packages is copied
    into the build stage), pinned by requirements.txt, without the embedded engine, and puts the DAG
    files where the image's DAGs folder is."""
    import tomllib

    build = services["airflow-scheduler"]["build"]
    dockerfile = (ROOT / build["context"] / build["dockerfile"]).read_text()
    pinned = re.search(r"^apache-airflow==(\S+)", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert re.search(rf"^FROM apache/airflow:{re.escape(pinned)}-python3\.11\b", dockerfile, re.M)
    assert f'"apache-airflow=={pinned}"' in dockerfile
    assert "-c /tmp/constraints.txt" in dockerfile and "/tmp/requirements.txt" in dockerfile
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    copied = set(re.findall(r"^COPY (?!--)(\S+)", dockerfile, re.M))
    for source in [*wheel["packages"], *wheel["force-include"]]:
        assert any(source == c or source.startswith(c.rstrip("/") + "/") for c in copied), source
    extras = re.search(r"backfill-\*\.whl\)\[([a-z,]+)\]", dockerfile).group(1).split(",")
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras) <= set(declared) and "embedded" not in extras
    assert "backfill dags install /opt/airflow/dags" in dockerfile


def test_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, svc in services.items():
        for spec in svc.get("volumes", []):
            source = spec.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"
