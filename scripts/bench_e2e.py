"""End-to-end benchmark: whole DAG runs under ``dag.test()`` against the bare engines, in one run.

What users feel is the whole run (detection, every mapped export and registration, the report), so this
measures the whole run on generated data, next to the engines doing the same work with no orchestration:

duckling (one subprocess per size, so each size's peak RSS is its own)
  bare        per team-day: ``INSERT INTO FUNCTION s3(...) SELECT * FROM events WHERE team, day`` (no dedupe),
              then ``BEGIN; DELETE day; ducklake_add_data_files; COMMIT`` in one already attached DuckDB
  floor       the same DAG shape (detect, mapped export -> register, report) with no-op task bodies:
              what Airflow itself costs under ``dag.test()``
  package     ``duckling_full_backfill`` for every team-day
  per task    medians of the export and register task durations Airflow recorded; and the register
              task's own floor: a fresh process that connects, loads the extensions, attaches and runs
              one registration transaction
web_preagg
  detection of 1,000 teams x 30 days vs a bare GROUP BY team, day of session-start pageviews; the
  recompute of one team-day vs the bare INSERT ... SELECT of both tables; the whole DAG for 50 missing
  team-days vs the 50 bare inserts
duckling planning
  ``detect_full`` and ``detect_daily`` with 10, 100 and 1,000 registered teams x 730 done days in the
  ledger (and 100 teams x 73 days: memory must not grow with the done days): time and peak memory

Prints one table of ratios and writes it as JSON (``--json PATH``). Ratios measured in one run are the
result, not absolute times: these machines are shared and noisy. ``--quick`` runs small sizes (a smoke
test of the benchmark itself, not a measurement).

Run: ``make bench-e2e`` (or ``PYTHONPATH=plugins:. .venv/bin/python scripts/bench_e2e.py --json FILE``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DAY0 = dt.date(2024, 1, 1)

# name: (teams, days, events per team-day)
DUCKLING_SIZES = {"100k": (4, 25, 100_000), "1M": (2, 10, 870_000)}
QUICK_DUCKLING_SIZES = {"100k": (2, 3, 5_000), "1M": (1, 2, 40_000)}
WEB = {"teams": 1000, "days": 30, "sessions_per_day": 30, "missing": 50}
QUICK_WEB = {"teams": 40, "days": 10, "sessions_per_day": 30, "missing": 6}
PLANNING = [(10, 730), (100, 730), (1000, 730), (100, 73)]
QUICK_PLANNING = [(10, 60), (40, 60), (40, 6)]


# --- environment ---------------------------------------------------------------------------------------
def airflow_env(home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / ".local" / "bench-plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "BACKFILL_TASK_RETRY_DELAY_S": "1",
        "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
        "TZ": "UTC",
    }


def migrated_airflow_db(work: Path) -> Path:
    """One migrated Airflow metadata DB; each child copies it (``airflow db migrate`` takes a while)."""
    home = work / "airflow-template"
    home.mkdir()
    env = {**os.environ, **airflow_env(home)}
    subprocess.run([str(Path(PYTHON).parent / "airflow"), "db", "migrate"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return home / "airflow.db"


def child(kind: str, work: Path, template_db: Path, spec: dict) -> dict:
    """Run one measurement in its own process; it writes its figures as JSON."""
    home = work / f"airflow-{kind}-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    shutil.copy(template_db, home / "airflow.db")
    (home / "dags").mkdir()  # the project's DAG files and the floor DAG: dag.test() syncs this folder
    for dag_file in [*sorted((ROOT / "dags").glob("*.py")), ROOT / "scripts" / "bench_floor_dag.py"]:
        (home / "dags" / dag_file.name).symlink_to(dag_file)
    out = home / "result.json"
    env = {**os.environ, **airflow_env(home)}
    args = [
        PYTHON,
        __file__,
        "--child",
        kind,
        "--spec",
        json.dumps(spec),
        "--out",
        str(out),
        "--work",
        str(home),
    ]
    subprocess.run(args, check=True, env=env)
    return json.loads(out.read_text())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_dag_file(stem: str):
    spec = importlib.util.spec_from_file_location(
        f"bench_{stem}_{uuid.uuid4().hex[:6]}", ROOT / "dags" / f"{stem}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_dag(dag, conf: dict, logical: dt.datetime) -> tuple[float, object]:
    started = time.perf_counter()
    dr = dag.test(logical_date=logical, run_conf=conf)
    seconds = time.perf_counter() - started
    state = str(getattr(dr.state, "value", dr.state))
    if state != "success":
        raise SystemExit(f"{dag.dag_id} ended {state}")
    return seconds, dr


def task_medians(dr) -> dict[str, float]:
    """Median duration per task id (mapped instances pooled), as Airflow recorded them."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.run_id == dr.run_id).all()
        per: dict[str, list[float]] = {}
        for ti in tis:
            if ti.start_date and ti.end_date:
                per.setdefault(ti.task_id, []).append((ti.end_date - ti.start_date).total_seconds())
    return {k: statistics.median(v) for k, v in per.items()}


# --- duckling -------------------------------------------------------------------------------------------
def duckling_child(spec: dict, home: Path) -> dict:
    from backfill.appdb import AppDB
    from backfill.clickhouse import ClickHouse
    from backfill.clickhouse_schema import create_clickhouse_schema
    from backfill.duckling.credentials import S3Access
    from backfill.duckling.registry import Registry
    from devtools import appdb_setup, demo_data, localstack
    from devtools.airflow_env import embedded_connections

    teams, days, per_day = spec["teams"], spec["days"], spec["events"]
    pg = localstack.start_postgres(home / "pg")
    s3 = localstack.start_moto(home / "moto.log")
    try:
        ch = ClickHouse.embedded(str(home / "chdb"))
        create_clickhouse_schema(ch)
        team_ids = list(range(1, teams + 1))
        sessions = calibrated_sessions(ch, per_day)
        for team in team_ids:  # one call per team: the generator thins later teams of one call
            demo_data.generate(ch, demo_data.DemoSpec(team_ids=(team,), start_day=DAY0, days=days,
                                                      sessions_per_day=sessions, persons_per_team=1000))  # fmt: skip
        counts = {(int(r["team_id"]), r["day"]): int(r["n"]) for r in ch.query(
            "duckling/count_events_days", {"team_ids": team_ids, "start_day": DAY0,
                                           "end_day": DAY0 + dt.timedelta(days=days - 1)})}  # fmt: skip
        team_days = sorted(counts)
        access = S3Access(s3.access_key, s3.secret_key, "", s3.region, s3.endpoint)

        # bare engines
        bare_export_s, bare_register_s, files = bare_duckling(ch, pg, s3, access, team_ids, team_days)
        ch.close()

        # the package's DAG
        pg.create_database("posthog")
        app_url = f"postgresql://postgres@127.0.0.1:{pg.port}/posthog"
        os.environ.update(embedded_connections(chdb_path=home / "chdb", app_db_url=app_url.replace(
            "postgresql://", "postgres://"), s3_endpoint=s3.endpoint, access_key=s3.access_key,
            secret_key=s3.secret_key))  # fmt: skip
        db = AppDB.from_url(app_url.replace("postgresql://", "postgresql+psycopg://"))
        appdb_setup.prepare(db)
        for team in team_ids:
            pg.create_database(f"lake_{team}")
            s3.client().create_bucket(Bucket=f"duckling-{team}")
            Registry(db).upsert(team_id=team, bucket=f"duckling-{team}", bucket_region=s3.region,
                                db_host="127.0.0.1", db_port=pg.port, db_database=f"lake_{team}",
                                db_username="postgres")  # fmt: skip
        until = DAY0 + dt.timedelta(days=days - 1)
        conf = {"kinds": ["events"], "max_partitions": len(team_days), "end_date": until.isoformat()}
        module = load_dag_file("duckling_backfill")
        logical = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
        # Airflow's floor first: the first dag.test run of a process also pays Airflow's one-time imports
        # (its in-process API server), which would otherwise land on the package's first task
        floor_s, floor_dr = run_dag(noop_dag(len(team_days)), {}, logical)
        floor_medians = task_medians(floor_dr)
        package_s, dr = run_dag(module.duckling_full_backfill, conf, logical)
        medians = task_medians(dr)
        done = [r for r in __import__("backfill.ledger", fromlist=["Ledger"]).Ledger(db).rows("duckling")
                if r["status"] == "done"]  # fmt: skip
        if len(done) != len(team_days) or any(int(r["target_count"]) != counts[(int(r["team_id"]), r["day"])]
                                              for r in done):  # fmt: skip
            raise SystemExit("the package run did not register every team-day exactly")

        fresh = [fresh_register(pg, access, files[team_days[0]], i) for i in range(5)]
        return {
            "events_per_team_day": round(statistics.mean(counts.values())),
            "team_days": len(team_days),
            "bare_s": bare_export_s + bare_register_s,
            "bare_export_s": bare_export_s,
            "bare_register_s": bare_register_s,
            "floor_s": floor_s,
            "package_s": package_s,
            "export_task_s": medians.get("partition.export"),
            "register_task_s": medians.get("partition.register"),
            "bare_export_per_day_s": bare_export_s / len(team_days),
            "bare_register_per_day_s": bare_register_s / len(team_days),
            "fresh_register_s": statistics.median(fresh),
            "peak_rss_mb": peak_rss_mb(),
            "task_medians_s": medians,
            "floor_task_medians_s": floor_medians,
        }
    finally:
        s3.stop()
        pg.stop()


def bare_duckling(ch, pg, s3, access, team_ids: list[int], team_days: list) -> tuple[float, float, dict]:
    """The engines alone, per team-day: ClickHouse writes the Parquet file to S3, then one DuckLake
    transaction in an already attached DuckDB registers it. Returns (export s, register s, files)."""
    from backfill import sql as sqlt
    from backfill.duckdb_conn import connect

    s3.client().create_bucket(Bucket="bare")
    bare_export_s, files = 0.0, {}
    export = sqlt.Template("bench/bare_export", BARE_EXPORT)
    for team, day in team_days:
        url = access.http_url("bare", f"events/{team}/{day}.parquet")
        t0 = time.perf_counter()
        ch.query(export, {"url": url, "key_id": s3.access_key, "secret": s3.secret_key, "session_token": "",
                          "team_id": team, "day": day})  # fmt: skip
        bare_export_s += time.perf_counter() - t0
        files[(team, day)] = f"s3://bare/events/{team}/{day}.parquet"
    bare_register_s = 0.0
    for team in team_ids:
        pg.create_database(f"bare_{team}")
        con = connect()
        con.execute(access.duckdb_secret_sql("bare"))
        con.execute(
            f"ATTACH 'ducklake:postgres:{pg.conninfo(f'bare_{team}')}' AS lake (DATA_PATH 's3://bare/')"
        )
        first = files[(team, DAY0)]
        con.execute("CREATE TABLE lake.events AS SELECT * FROM read_parquet(?) LIMIT 0", [first])
        for day in [d for t, d in team_days if t == team]:
            t0 = time.perf_counter()
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM lake.events WHERE team_id = ? AND timestamp >= ? AND timestamp < ?",
                        [team, day, day + dt.timedelta(days=1)])  # fmt: skip
            con.execute("CALL ducklake_add_data_files('lake', 'events', ?)", [files[(team, day)]])
            con.execute("COMMIT")
            bare_register_s += time.perf_counter() - t0
        con.close()
    return bare_export_s, bare_register_s, files


BARE_EXPORT = """INSERT INTO FUNCTION s3({url:String}, {key_id:String}, {secret:String}, {session_token:String}, 'Parquet')
SELECT * EXCEPT (_timestamp) FROM events
WHERE team_id = {team_id:Int64}
  AND timestamp >= toDateTime64({day:Date}, 6, 'UTC') AND timestamp < toDateTime64({day:Date} + 1, 6, 'UTC')"""


def calibrated_sessions(ch, events_per_day: int) -> int:
    """sessions_per_day that gives about ``events_per_day`` events for a team generated alone."""
    from backfill.sql import Template
    from devtools import demo_data

    probe = demo_data.DemoSpec(team_ids=(999_999,), start_day=DAY0, days=1, sessions_per_day=3000)
    demo_data.generate(ch, probe)
    n = ch.scalar(Template("bench/probe", "SELECT count() AS n FROM events WHERE team_id = 999999"))
    ch.query(Template("bench/drop_probe", "DELETE FROM events WHERE team_id = 999999"))
    return max(3, round(3000 * events_per_day / max(1, n)))


FRESH_REGISTER = """
import sys, time
from backfill.duckdb_conn import connect
secret_sql, conninfo, url = sys.argv[1:4]
t0 = time.perf_counter()
con = connect()
con.execute(secret_sql)
con.execute("ATTACH 'ducklake:postgres:" + conninfo + "' AS lake (DATA_PATH 's3://bare/')")
con.execute("BEGIN TRANSACTION")
con.execute("CREATE TABLE lake.events AS SELECT * FROM read_parquet(?) LIMIT 0", [url])
con.execute("CALL ducklake_add_data_files('lake', 'events', ?)", [url])
con.execute("COMMIT")
print(time.perf_counter() - t0)
"""


def fresh_register(pg, access, file_url: str, i: int) -> float:
    """The register task's own floor: a fresh process connects, loads the extensions, attaches a catalog
    and runs one registration transaction (timed inside the process, after the imports)."""
    name = f"fresh_{i}_{uuid.uuid4().hex[:6]}"
    pg.create_database(name)
    secret_sql = access.duckdb_secret_sql("bare")
    args = [PYTHON, "-c", FRESH_REGISTER, secret_sql, pg.conninfo(name), file_url]
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=os.environ)
    return float(out.stdout.strip().splitlines()[-1])


def noop_dag(n: int):
    """Airflow's floor: scripts/bench_floor_dag.py, the duckling DAG's shape with no-op task bodies."""
    os.environ["BENCH_FLOOR_ITEMS"] = str(n)
    spec = importlib.util.spec_from_file_location(f"bench_floor_{n}", ROOT / "scripts" / "bench_floor_dag.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.bench_floor


# --- web_preagg -----------------------------------------------------------------------------------------
def web_child(spec: dict, home: Path) -> dict:
    from backfill.appdb import AppDB
    from backfill.clickhouse import ClickHouse, QueryTag
    from backfill.clickhouse_schema import create_clickhouse_schema
    from backfill.ledger import Ledger
    from backfill.sql import Template
    from backfill.web_preagg import TABLES
    from backfill.web_preagg.detect import detect
    from backfill.web_preagg.params import Window
    from backfill.web_preagg.recompute import enable_patch_parts, insert_preaggregated, recompute_team_day
    from devtools import appdb_setup, demo_data, localstack
    from devtools.airflow_env import embedded_connections

    teams, days, missing = spec["teams"], spec["days"], spec["missing"]
    pg = localstack.start_postgres(home / "pg")
    try:
        ch = ClickHouse.embedded(str(home / "chdb"))
        create_clickhouse_schema(ch)
        team_ids = list(range(1, teams + 1))
        end = DAY0 + dt.timedelta(days=days - 1)
        window = Window(DAY0, end)
        demo_data.generate(ch, demo_data.DemoSpec(team_ids=tuple(team_ids), start_day=DAY0, days=days,
                                                  sessions_per_day=spec["sessions_per_day"],
                                                  persons_per_team=50))  # fmt: skip
        tag = QueryTag("bench")
        for table in TABLES:  # the daily job, all at once
            insert_preaggregated(ch, table, table, team_ids, DAY0, end, tag)
        gaps = [(team_ids[(i * 37) % teams], end - dt.timedelta(days=i % days)) for i in range(missing)]
        gaps = sorted(set(gaps))
        probes = [(team_ids[-1], end - dt.timedelta(days=i)) for i in range(1, 4)]  # recomputed alone
        holes = gaps + [p for p in probes if p not in gaps]
        for table in TABLES:  # one delete per table for every hole (setup, not measured)
            ch.query(Template("bench/holes", HOLES), {"target": table, "teams": [t for t, _ in holes],
                                                      "days": [d for _, d in holes]}, tag=tag)  # fmt: skip
        pg.create_database("posthog")
        db = AppDB.from_url(f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/posthog")
        appdb_setup.prepare(db)
        appdb_setup.upsert_teams(db, [{"id": t, "name": f"t{t}", "web_analytics_pre_aggregated_tables_enabled": True}
                         for t in team_ids])  # fmt: skip
        ledger = Ledger(db)

        bare_detect = Template("bench/bare_detect", BARE_DETECT)
        t_bare_detect = best_of(3, lambda: ch.query(bare_detect, {"team_ids": team_ids, "start_day": DAY0,
                                                                  "end_day": end}))  # fmt: skip
        found: list = []
        t_detect = best_of(3, lambda: found.append(detect(ch, ledger, team_ids, window)))
        if {(m.team_id, m.day) for m in found[-1].missing} != set(holes):
            raise SystemExit("detection did not find exactly the gaps")

        # one team-day: the bare inserts (into scratch copies) vs the package's recompute of a missing
        # team-day (the DAG's usual case: nothing to delete), and of a present one (a delete first)
        scratch = {t: f"bench_scratch_{i}" for i, t in enumerate(TABLES)}
        for table, name in scratch.items():
            ch.query(
                Template("bench/mk", f"CREATE TABLE {name} AS {table} ENGINE = MergeTree ORDER BY tuple()")
            )

        def bare_insert(team, day):
            for table, name in scratch.items():
                insert_preaggregated(ch, table, name, [team], day, day, tag)

        t_bare_one = best_of(5, lambda: bare_insert(*probes[0]))
        missing_s = []
        for team, day in probes:
            t0 = time.perf_counter()
            recompute_team_day(ch, ledger, team, day, owner=f"probe-{day}")
            missing_s.append(time.perf_counter() - t0)
        # a stale (present) team-day: a delete first; on the production tables as they are (a mutation),
        # then after the opt-in migration (a patch part)
        t_present = best_of(2, lambda: recompute_team_day(ch, ledger, *probes[0], owner=f"b{time.time()}"))
        if not enable_patch_parts(ch).ready:
            raise SystemExit("patch parts could not be enabled")
        t_patch = best_of(3, lambda: recompute_team_day(ch, ledger, *probes[0], owner=f"p{time.time()}"))
        t0 = time.perf_counter()
        for team, day in gaps:
            bare_insert(team, day)
        t_bare_gaps = time.perf_counter() - t0
        ch.close()

        os.environ.update(embedded_connections(chdb_path=home / "chdb",
                                               app_db_url=f"postgres://postgres@127.0.0.1:{pg.port}/posthog",
                                               s3_endpoint="http://127.0.0.1:9"))  # fmt: skip
        run_dag(noop_dag(1), {}, dt.datetime(2030, 1, 1, tzinfo=dt.UTC))  # Airflow's one-time imports
        module = load_dag_file("web_preagg_backfill")
        conf = {"end_date": end.isoformat(), "lookback_days": days, "min_missing_partitions": 1,
                "max_partitions_per_run": len(gaps)}  # fmt: skip
        t_dag, _ = run_dag(module.web_preagg_backfill(), conf, dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        done = {(r["team_id"], r["day"]) for r in ledger.rows("web_preagg") if r["status"] == "done"}
        if not set(gaps) <= done:
            raise SystemExit("the DAG did not recompute every gap")
        return {
            "teams": teams,
            "days": days,
            "gaps": len(gaps),
            "bare_detect_s": t_bare_detect,
            "detect_s": t_detect,
            "bare_one_s": t_bare_one,
            "recompute_one_s": statistics.median(missing_s),
            "recompute_present_s": t_present,
            "recompute_present_patch_s": t_patch,
            "bare_gaps_s": t_bare_gaps,
            "dag_s": t_dag,
            "peak_rss_mb": peak_rss_mb(),
        }
    finally:
        pg.stop()


HOLES = """DELETE FROM {target:Identifier}
WHERE has(arrayZip({teams:Array(Int64)}, {days:Array(Date)}), (toInt64(team_id), toDate(period_bucket, 'UTC')))
SETTINGS lightweight_deletes_sync = 2"""

BARE_DETECT = """SELECT team_id, toDate(start, 'UTC') AS day, sum(session_pageviews) AS pageviews
FROM
(
    SELECT team_id, session_id, min(timestamp) AS start,
           countIf(event IN ('$pageview', '$screen')) AS session_pageviews
    FROM events
    WHERE team_id IN {team_ids:Array(Int64)}
      AND timestamp >= toDateTime64({start_day:Date} - 1, 6, 'UTC')
      AND timestamp < toDateTime64({end_day:Date} + 2, 6, 'UTC')
      AND session_id != ''
    GROUP BY team_id, session_id
)
WHERE day BETWEEN {start_day:Date} AND {end_day:Date} AND session_pageviews > 0
GROUP BY team_id, day"""


def best_of(n: int, fn) -> float:
    """Median of ``n`` timed calls."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


# --- duckling planning ----------------------------------------------------------------------------------
def planning_child(spec: dict, home: Path) -> dict:
    from backfill.appdb import AppDB
    from backfill.clickhouse import ClickHouse
    from backfill.clickhouse_schema import create_clickhouse_schema
    from backfill.duckling.detect import detect_daily, detect_full
    from backfill.duckling.run import Env, RunInfo
    from devtools import appdb_setup, localstack

    teams, days = spec["teams"], spec["days"]
    pg = localstack.start_postgres(home / "pg")
    try:
        pg.create_database("posthog")
        db = AppDB.from_url(f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/posthog")
        appdb_setup.prepare(db)
        until = DAY0 + dt.timedelta(days=days - 1)
        with db.engine.begin() as conn:
            conn.execute(db.table("duckling_registry").insert(), [
                {"team_id": t, "bucket": f"b-{t}", "bucket_region": "us-east-1", "db_host": "127.0.0.1",
                 "db_port": 5432, "db_database": f"lake_{t}", "db_username": "x"} for t in range(1, teams + 1)])  # fmt: skip
            conn.execute(db.table("duckling_team_state").insert(), [
                {"team_id": t, "earliest_day": DAY0, "full_persons_exported_at": dt.datetime(2024, 1, 1)}
                for t in range(1, teams + 1)])  # fmt: skip
            rows = ({"family": "duckling", "team_id": t, "day": DAY0 + dt.timedelta(days=i), "kind": "events",
                     "status": "done", "source_count": 100, "target_count": 100, "updated_at": dt.datetime(2024, 6, 1)}
                    for t in range(1, teams + 1) for i in range(days))  # fmt: skip
            batch = []
            for r in rows:
                batch.append(r)
                if len(batch) == 10_000:
                    conn.execute(db.table("ledger").insert(), batch)
                    batch = []
            if batch:
                conn.execute(db.table("ledger").insert(), batch)
        ch = ClickHouse.embedded(str(home / "chdb"))  # no events: the settle check's query runs, finds none
        create_clickhouse_schema(ch)
        env = Env(ch=ch, db=db)  # earliest days are cached in the team state, as after a first run
        out = {"teams": teams, "done_days": days}
        for name, fn, params in (
            (
                "full",
                detect_full,
                {"kinds": ["events"], "end_date": until.isoformat(), "max_partitions": 1000},
            ),
            ("daily", detect_daily, {"kinds": ["events", "persons"], "max_partitions": 1000}),
        ):
            run = RunInfo(
                "bench", f"plan-{name}", data_interval_start=dt.datetime.combine(until, dt.time(), dt.UTC)
            )
            tracemalloc.start()
            t0 = time.perf_counter()
            plan = fn(params, run, env, today=until + dt.timedelta(days=1))
            out[f"{name}_s"] = time.perf_counter() - t0
            out[f"{name}_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            out[f"{name}_items"] = len(plan["items"])
        return out
    finally:
        pg.stop()


# --- the table ------------------------------------------------------------------------------------------
def table(results: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    for size, r in results["duckling"].items():
        rows.append((f"duckling_full_backfill, {r['team_days']} team-days x ~{r['events_per_team_day']:,} events",
                     f"{r['bare_s']:.1f} s", f"{r['package_s']:.1f} s", f"{r['package_s'] / r['bare_s']:.2f}x"))  # fmt: skip
        rows.append((f"  Airflow floor (no-op tasks, same shape), {size}", "", f"{r['floor_s']:.1f} s",
                     f"{r['floor_s'] / r['bare_s']:.2f}x"))  # fmt: skip
        rows.append((f"  export task median vs bare export, {size}", f"{r['bare_export_per_day_s'] * 1000:.0f} ms",
                     f"{(r['export_task_s'] or 0) * 1000:.0f} ms",
                     f"{(r['export_task_s'] or 0) / r['bare_export_per_day_s']:.2f}x"))  # fmt: skip
        rows.append((f"  register task median vs fresh-process register, {size}",
                     f"{r['fresh_register_s'] * 1000:.0f} ms", f"{(r['register_task_s'] or 0) * 1000:.0f} ms",
                     f"{(r['register_task_s'] or 0) / r['fresh_register_s']:.2f}x"))  # fmt: skip
        rows.append((f"  peak RSS, {size} (own process)", "", f"{r['peak_rss_mb']:.0f} MB", ""))
    w = results["web_preagg"]
    rows += [] if not w else [
        (f"web_preagg detection, {w['teams']} teams x {w['days']} days", f"{w['bare_detect_s']:.2f} s",
         f"{w['detect_s']:.2f} s", f"{w['detect_s'] / w['bare_detect_s']:.2f}x"),
        ("web_preagg recompute of one missing team-day", f"{w['bare_one_s'] * 1000:.0f} ms",
         f"{w['recompute_one_s'] * 1000:.0f} ms", f"{w['recompute_one_s'] / w['bare_one_s']:.2f}x"),
        ("web_preagg recompute of one stale team-day, delete by mutation", f"{w['bare_one_s'] * 1000:.0f} ms",
         f"{w['recompute_present_s'] * 1000:.0f} ms", f"{w['recompute_present_s'] / w['bare_one_s']:.2f}x"),
        ("web_preagg recompute of one stale team-day, delete by patch part", f"{w['bare_one_s'] * 1000:.0f} ms",
         f"{w['recompute_present_patch_s'] * 1000:.0f} ms", f"{w['recompute_present_patch_s'] / w['bare_one_s']:.2f}x"),
        ("  stale (patch part) vs missing recompute", f"{w['recompute_one_s'] * 1000:.0f} ms",
         f"{w['recompute_present_patch_s'] * 1000:.0f} ms",
         f"{w['recompute_present_patch_s'] / w['recompute_one_s']:.2f}x"),
        ("  stale (mutation) vs missing recompute", f"{w['recompute_one_s'] * 1000:.0f} ms",
         f"{w['recompute_present_s'] * 1000:.0f} ms", f"{w['recompute_present_s'] / w['recompute_one_s']:.2f}x"),
        (f"web_preagg_backfill, {w['gaps']} missing team-days", f"{w['bare_gaps_s']:.1f} s", f"{w['dag_s']:.1f} s",
         f"{w['dag_s'] / w['bare_gaps_s']:.2f}x"),
    ]  # fmt: skip
    for p in results["planning"]:
        rows.append((f"duckling planning, {p['teams']} teams x {p['done_days']} done days", "",
                     f"full {p['full_s']:.2f} s / {p['full_peak_mb']:.1f} MB; daily {p['daily_s']:.2f} s / "
                     f"{p['daily_peak_mb']:.1f} MB", ""))  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not a measurement")
    parser.add_argument("--only", choices=("duckling", "web_preagg", "planning"), action="append")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
        fn = {"duckling": duckling_child, "web_preagg": web_child, "planning": planning_child}[args.child]
        Path(args.out).write_text(json.dumps(fn(json.loads(args.spec), Path(args.work)), default=str))
        return 0
    only = set(args.only or ("duckling", "web_preagg", "planning"))
    work = Path(tempfile.mkdtemp(prefix="backfill-bench-e2e-"))
    results: dict = {"duckling": {}, "web_preagg": None, "planning": []}
    try:
        template_db = migrated_airflow_db(work)
        if "duckling" in only:
            for size, (teams, days, events) in (
                QUICK_DUCKLING_SIZES if args.quick else DUCKLING_SIZES
            ).items():
                print(f"duckling {size}: {teams} teams x {days} days ...", flush=True)
                results["duckling"][size] = child("duckling", work, template_db,
                                                  {"teams": teams, "days": days, "events": events})  # fmt: skip
        if "web_preagg" in only:
            print("web_preagg ...", flush=True)
            results["web_preagg"] = child("web_preagg", work, template_db, QUICK_WEB if args.quick else WEB)
        if "planning" in only:
            for teams, days in QUICK_PLANNING if args.quick else PLANNING:
                print(f"planning {teams} teams x {days} days ...", flush=True)
                results["planning"].append(
                    child("planning", work, template_db, {"teams": teams, "days": days})
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if results["duckling"] or results["web_preagg"] or results["planning"]:
        rows = table(results)
        width = max(len(r[0]) for r in rows)
        print(f"\n{'measure':<{width}}  {'bare':>10}  {'package':>12}  ratio")
        for name, bare, pkg, ratio in rows:
            print(f"{name:<{width}}  {bare:>10}  {pkg:>12}  {ratio}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
