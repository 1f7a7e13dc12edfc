"""The distribution as a deployment installs it: build the wheel, install it (with the embedded engine
extra, pinned by requirements.txt) into a fresh virtual environment that has no access to this checkout,
and use it only through what it installed: the `backfill` console script (db upgrade, dags install),
Airflow's own `airflow db migrate`, a DAG file from the installed package under dag.test(), and the
coverage page served by the api-server app with the plugin found through the entry point.

About two minutes (pip installs Airflow into the new environment from pip's cache)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from backfill.appdb import AppDB

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.services


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: int = 900) -> str:
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
         dict(os.environ), ROOT)  # fmt: skip
    (built,) = dist.glob("backfill-*.whl")
    return built


def test_the_wheel_carries_the_templates_the_dags_and_the_entry_points(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sql = {f"backfill/include/{p.relative_to(ROOT / 'include')}" for p in (ROOT / "include").rglob("*.sql")}
    assert sql and sql <= names
    assert "backfill/include/templates/coverage.html.j2" in names
    assert {f"backfill/dags/{p.name}" for p in (ROOT / "dags").glob("*.py")} <= names
    assert not any(n.startswith(("devtools/", "tests/", "scripts/")) for n in names)
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[airflow.plugins]\nbackfill_coverage = backfill.airflow_plugin:BackfillCoveragePlugin" in text
    assert "[console_scripts]\nbackfill = backfill.cli:main" in text
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    requires = re.findall(r"^Requires-Dist: (.+)$", zipfile.ZipFile(wheel).read(metadata).decode(), re.M)
    # the embedded engine and the picture are extras: a server image does not carry them
    assert not {r for r in requires if r.startswith(("chdb", "matplotlib"))} - {
        r for r in requires if "extra ==" in r
    }


def test_a_fresh_environment_with_only_the_wheel_runs_a_dag_and_serves_the_page(wheel, tmp_path, pg):
    venv, home, dags = tmp_path / "venv", tmp_path / "airflow", tmp_path / "dags"
    _run([sys.executable, "-m", "venv", str(venv)], dict(os.environ), tmp_path)
    constraints = tmp_path / "constraints.txt"
    pins = [re.sub(r"\[[^]]*\]", "", line.split("#")[0]).strip()
            for line in (ROOT / "requirements.txt").read_text().splitlines()]  # fmt: skip
    constraints.write_text("\n".join(p for p in pins if "==" in p) + "\n")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, f"{wheel}[embedded]", "-c", str(constraints)], dict(os.environ), tmp_path)

    # the application's own tables stand in for the app (the package never creates them)
    from devtools import appdb_setup

    pg.create_database("wheel_app")
    app = AppDB.from_url(pg.url("wheel_app"))
    appdb_setup.create_application_tables(app)
    appdb_setup.upsert_teams(
        app, [{"id": 1, "name": "t", "web_analytics_pre_aggregated_tables_enabled": True}]
    )
    app.engine.dispose()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON"))}
    env.update(
        PATH=f"{venv / 'bin'}:{env['PATH']}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="viewer:viewer",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(tmp_path / "passwords.json"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW_CONN_CLICKHOUSE_DEFAULT=json.dumps(
            {"conn_type": "chdb", "extra": {"path": str(tmp_path / "ch")}}
        ),
        AIRFLOW_CONN_POSTHOG_DB=f"postgres://postgres@127.0.0.1:{pg.port}/wheel_app",
        BACKFILL_LOCAL_DIR=str(tmp_path / "local"),
        TZ="UTC",
    )
    _run(["backfill", "db", "upgrade"], env, tmp_path)
    _run(["backfill", "dags", "install", str(dags)], env, tmp_path)
    assert sorted(p.name for p in dags.glob("*.py")) == sorted(p.name for p in (ROOT / "dags").glob("*.py"))
    _run(["airflow", "db", "migrate"], env, tmp_path)

    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    probe = ROOT / "tests" / "core" / "wheel" / "probe.py"
    insert_event = ROOT / "tests" / "web_preagg" / "sql" / "insert_event.sql"
    out = _run(
        [str(venv / "bin" / "python"), str(probe), str(dags), str(insert_event), str(end)], env, tmp_path
    )
    result = json.loads(out.strip().splitlines()[-1])

    site = str(venv)
    assert result["package"].startswith(site) and result["sql_dir"].startswith(site), result
    assert result["dag_state"] == "success", result["tasks"]
    assert ["backfill_team_day", "success"] in result["tasks"]
    assert result["pageviews"] == {str(end - dt.timedelta(days=i)): 2 for i in range(3)}
    assert result["anonymous"] == 401
    assert result["page_status"] == 200
    assert result["cells"] == sorted(["1", str(end - dt.timedelta(days=i)), "done"] for i in range(3))
