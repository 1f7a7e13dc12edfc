"""demo: generate demo data into .local/demo and run both DAG families on the embedded connections.

Embedded defaults: ClickHouse is chdb (a directory), posthog_db is a SQLite file, S3 is the moto server
on loopback (started for the demo and stopped after), each duckling's catalog is a local DuckLake file.
The DAGs run with ``airflow dags test`` (one process, no scheduler); the summary's figures are read
back from the engines afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from backfill.appdb import AppDB
from backfill.clickhouse import ClickHouse
from backfill.clickhouse_schema import create_clickhouse_schema
from backfill.ledger import Ledger
from backfill.settings import DUCKLING, LOCAL_DIR, PROJECT_ROOT, WEB_PREAGG
from backfill.web_preagg import FAMILY, KIND, SHORT, TABLES
from backfill.web_preagg.detect import detect
from backfill.web_preagg.params import Window
from backfill.web_preagg.recompute import enable_patch_parts
from devtools import appdb_setup, localstack
from devtools.demo_data import DemoSpec, generate, seed_preaggregated, template
from devtools.demo_ducklings import format_summary, register_demo_duckling, summary

DEMO_DUCKLINGS = 2  # the first two demo teams get a duckling


def add_arguments(parser) -> None:
    parser.add_argument("--teams", type=int, default=3, help="number of demo teams (default 3)")
    parser.add_argument("--days", type=int, default=35, help="days of traffic ending yesterday (default 35)")
    parser.add_argument("--sessions-per-day", type=int, default=400)
    parser.add_argument("--keep", action="store_true", help="keep .local/demo from an earlier run")


class DemoStores:
    """Where the demo keeps its embedded stores, and the connection env that points at them."""

    def __init__(self, root: Path, s3: localstack.S3Server):
        self.root = root
        self.chdb = root / "chdb"
        self.app_db = root / "app.sqlite"
        self.lakes = root / "lakes"
        self.airflow_home = LOCAL_DIR / "airflow-demo"
        self.s3 = s3

    def env(self) -> dict[str, str]:
        return {
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.airflow_home / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.airflow_home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)]),
            "TZ": "UTC",
            "AIRFLOW_CONN_CLICKHOUSE_DEFAULT": json.dumps(
                {"conn_type": "chdb", "extra": {"path": str(self.chdb)}}
            ),
            "AIRFLOW_CONN_POSTHOG_DB": json.dumps({"conn_type": "sqlite", "host": str(self.app_db)}),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": self.s3.access_key,
                    "password": self.s3.secret_key,
                    "extra": {"endpoint_url": self.s3.endpoint, "region_name": self.s3.region},
                }
            ),
        }


def _airflow(stores: DemoStores, *args: str) -> None:
    exe = Path(sys.executable).parent / "airflow"
    started = time.monotonic()
    result = subprocess.run(
        [str(exe), *args], env={**os.environ, **stores.env()}, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"`airflow {' '.join(args)}` failed (exit {result.returncode})")
    print(
        f"  airflow {' '.join(a for a in args if not a.startswith('{'))}  ({time.monotonic() - started:.1f}s)"
    )


def main(args) -> int:
    root = LOCAL_DIR / "demo"
    if root.exists() and not args.keep:
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    spec = demo_spec(yesterday, args.teams, args.days, args.sessions_per_day)
    s3 = localstack.start_moto(root / "moto.log")
    try:
        stores = DemoStores(root, s3)
        for key, value in stores.env().items():
            os.environ[key] = value
        print(f"demo stores in {root}; S3 server at {s3.endpoint}")
        _prepare(stores, spec, yesterday)
        print("running the DAGs with `airflow dags test` (embedded connections):")
        _airflow(stores, "db", "migrate")
        web = _run_dags(stores, spec, yesterday)
        _summary(stores, spec, yesterday, web)
    finally:
        s3.stop()
    return 0


def demo_spec(yesterday: dt.date, teams: int = 3, days: int = 35, sessions_per_day: int = 400) -> DemoSpec:
    """The demo's traffic: ``days`` days ending yesterday; team 2 has a quiet day, the last team is an app."""
    return DemoSpec(
        team_ids=tuple(range(1, teams + 1)),
        start_day=yesterday - dt.timedelta(days=days - 1),
        days=days,
        sessions_per_day=sessions_per_day,
        quiet_days=((2, yesterday - dt.timedelta(days=4)),) if teams >= 2 else (),
        mobile_team_ids=(teams,) if teams >= 3 else (),  # the last team is a mobile app
    )


def _gap_days(spec: DemoSpec, yesterday: dt.date) -> list[tuple]:
    """The team-days the demo's "daily job" leaves out: both tables, or one table only."""
    return [
        (1, yesterday - dt.timedelta(days=2)),
        (1, yesterday - dt.timedelta(days=9)),
        (3, yesterday - dt.timedelta(days=1)),
        (3, yesterday - dt.timedelta(days=20)),
        (2, yesterday - dt.timedelta(days=6), "web_pre_aggregated_bounces"),
    ]


def _prepare(stores: DemoStores, spec: DemoSpec, yesterday: dt.date) -> None:
    started = time.monotonic()
    ch = ClickHouse.embedded(str(stores.chdb))
    app = AppDB.from_url(f"sqlite:///{stores.app_db}")
    try:
        gaps = seed_demo_world(ch, app, spec, yesterday)
        register_demo_ducklings(app, spec, stores.lakes)
        events = ch.scalar(template("count_events"), {})
    finally:
        ch.close()  # the DAG runs open the chdb directory in their own process
    print(
        f"generated {events:,} events for teams {list(spec.team_ids)} over {spec.days} days "
        f"({spec.start_day} .. {spec.end_day}) in {time.monotonic() - started:.1f}s; the daily job's "
        f"pre-aggregations leave {len(gaps)} team-days out on purpose; "
        f"{min(DEMO_DUCKLINGS, len(spec.team_ids))} ducklings registered"
    )


def seed_demo_world(ch: ClickHouse, app: AppDB, spec: DemoSpec, yesterday: dt.date) -> list[tuple]:
    """The demo's world (``make demo`` and ``make airflow``): the ClickHouse schema and events, the teams
    enabled in the app DB, and the "daily job" pre-aggregations with deliberate gaps (returned)."""
    create_clickhouse_schema(ch)
    enable_patch_parts(ch)  # the opt-in migration a deployment runs (README: stale team-days)
    generate(ch, spec)
    appdb_setup.prepare(app)
    appdb_setup.upsert_teams(
        app,
        [
            {"id": t, "name": f"Demo team {t}", "web_analytics_pre_aggregated_tables_enabled": True}
            for t in spec.team_ids
        ],
    )
    gaps = [g for g in _gap_days(spec, yesterday) if g[0] in spec.team_ids]
    seed_preaggregated(
        ch, list(spec.team_ids), spec.start_day, spec.end_day, skip=gaps, dag_id="demo_daily_job"
    )
    return gaps


def register_demo_ducklings(app: AppDB, spec: DemoSpec, lakes: Path) -> list[int]:
    """The first demo teams get a duckling: a local DuckLake file under ``lakes``, data in a bucket of
    aws_default's S3 (created if missing)."""
    teams = list(spec.team_ids[:DEMO_DUCKLINGS])
    for team_id in teams:
        register_demo_duckling(
            app,
            team_id,
            bucket=f"duckling-team-{team_id}",
            catalog_path=lakes / f"team_{team_id}" / "catalog.ducklake",
        )
    return teams


def _web_gaps(stores: DemoStores, spec: DemoSpec, yesterday: dt.date) -> dict:

    ch = ClickHouse.embedded(str(stores.chdb))
    try:
        app = AppDB.from_url(f"sqlite:///{stores.app_db}")
        start = yesterday - dt.timedelta(days=WEB_PREAGG.lookback_days - 1)
        return gap_summary(ch, Ledger(app), list(spec.team_ids), start, yesterday)
    finally:
        ch.close()


def _run_dags(stores: DemoStores, spec: DemoSpec, yesterday: dt.date) -> dict:
    day = yesterday.isoformat()
    before = _web_gaps(stores, spec, yesterday)
    _airflow(stores, "dags", "test", WEB_PREAGG.dag_id, day)
    after = _web_gaps(stores, spec, yesterday)
    _airflow(stores, "dags", "test", DUCKLING.daily_dag_id, day)
    _airflow(stores, "dags", "test", DUCKLING.full_dag_id, day)
    return {"before": before, "after": after}


def _summary(stores: DemoStores, spec: DemoSpec, yesterday: dt.date, web: dict) -> None:

    app = AppDB.from_url(f"sqlite:///{stores.app_db}")
    before, after = web["before"], web["after"]
    done = ledger_summary(Ledger(app), yesterday - dt.timedelta(days=WEB_PREAGG.lookback_days - 1), yesterday)
    print()
    print(f"web_preagg_backfill, window {before['window']['start']} .. {before['window']['end']}:")
    print(
        f"  before: {before['missing_team_days']} team-days missing "
        f"(partitions missing per table: {before['missing_partitions']}), {before['stale_team_days']} stale"
    )
    print(
        f"  backfilled: {done['by_status'].get('done', 0)} team-days done, "
        f"{done['by_status'].get('failed', 0)} failed (ledger)"
    )
    print(
        f"  after:  {after['missing_team_days']} missing, {after['stale_team_days']} stale, "
        f"{after['complete_team_days']} complete team-days"
    )
    print()
    print("duckling_backfill + duckling_full_backfill (ledger and DuckLake read back):")
    for line in format_summary(summary(app, list(spec.team_ids[:DEMO_DUCKLINGS]))).splitlines():
        print(f"  {line}")


def gap_summary(
    ch: ClickHouse,
    ledger: Ledger | None,
    team_ids: list[int],
    start_day: dt.date,
    end_day: dt.date,
    tables: tuple[str, ...] = TABLES,
) -> dict:
    """What the detector sees now: missing partitions per table, missing / stale / complete team-days."""
    d = detect(ch, ledger, team_ids, Window(start_day, end_day), tables, dag_id="demo")
    per_table = Counter(SHORT[t] for m in d.missing for t in m.tables)
    return {
        "window": d.window.to_dict(),
        "teams": len(team_ids),
        "missing_partitions": {SHORT[t]: per_table.get(SHORT[t], 0) for t in tables},
        "missing_team_days": len(d.missing),
        "stale_team_days": len(d.stale),
        "complete_team_days": len(d.present),
        "missing": [m.to_dict() for m in d.missing],
        "stale": [s.to_dict() for s in d.stale],
    }


def ledger_summary(ledger: Ledger, start_day: dt.date | None = None, end_day: dt.date | None = None) -> dict:
    """Ledger rows of this family by status (done / failed / claimed ...) in [start_day, end_day]."""
    rows = ledger.rows(FAMILY, start=start_day, end=end_day, kind=KIND)
    return {
        "by_status": dict(Counter(r["status"] for r in rows)),
        "team_days": len(rows),
        "failed": [
            {"team_id": r["team_id"], "day": r["day"].isoformat(), "error": r["error"]}
            for r in rows
            if r["status"] == "failed"
        ],
    }
