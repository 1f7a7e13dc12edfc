"""Whole runs as users run them: under a real scheduler (LocalExecutor), every task instance a new
process that imports the package, parses its DAG file, opens its connections and reports back.

For each size, in one Airflow stack (api-server, scheduler, dag-processor; PostgreSQL metadata DB):
  bare        the engines alone per team-day (ClickHouse -> S3 Parquet, one DuckLake transaction in an
              attached DuckDB), as in scripts/bench_e2e.py
  floor       scripts/bench_floor_dag.py under the same scheduler: the duckling DAG's shape, the same
              pools, no-op bodies: what Airflow itself costs per run of this shape
  package     ``duckling_full_backfill`` for the same team-days
  share       (package - floor) / bare: what the package adds above Airflow's own floor, per unit of
              engine work (goals: <= 1.0 at ~100k events per team-day, <= 0.3 at ~1M)
Per task (medians over the package run's export and register instances), from Airflow's own timestamps
and the task's timing line (backfill.run.timed): queued -> process start, process start -> first line of
the task's code (imports, DAG parse, context), the body, body end -> state reported; and the peak RSS of
one task process (server-mode seam: the embedded engine is not loaded in an export).

Prints one table and writes JSON (``--json PATH``). Ratios in one run are the result (shared, noisy
machines). ``--quick``: small sizes, a smoke test of the script.

Run: ``make bench-scheduler`` (or ``PYTHONPATH=plugins:. .venv/bin/python scripts/bench_scheduler.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT), str(ROOT / "scripts")]

import bench_e2e  # noqa: E402  (the bare engines and the data calibration, shared with the dag.test() bench)

DAY0 = bench_e2e.DAY0
# name: (first team id, teams, days, events per team-day)
SIZES = {"100k": (101, 2, 8, 100_000), "1M": (201, 1, 6, 870_000)}
QUICK_SIZES = {"100k": (101, 1, 3, 5_000), "1M": (201, 1, 2, 40_000)}
TIMING_MARK = "backfill task timing"


def ts(value: str | None) -> float | None:
    return dt.datetime.fromisoformat(value).timestamp() if value else None


def timing_lines(log_dir: Path, dag_id: str, run_id: str) -> dict[tuple[str, int], dict]:
    """(task_id, map_index) -> the task's timing line, from the task logs the executor wrote."""
    out = {}
    pattern = str(log_dir / f"dag_id={dag_id}" / f"run_id={run_id}" / "task_id=*" / "**" / "*.log")
    for path in glob.glob(pattern, recursive=True):
        parts = Path(path).parts
        task_id = next(p.split("=", 1)[1] for p in parts if p.startswith("task_id="))
        map_index = int(next((p.split("=", 1)[1] for p in parts if p.startswith("map_index=")), "-1"))
        for line in Path(path).read_text(errors="replace").splitlines():
            if TIMING_MARK in line:
                try:
                    event = json.loads(line).get("event", line)
                except ValueError:
                    event = line
                out[(task_id, map_index)] = json.loads(event.split(TIMING_MARK, 1)[1].strip())
    return out


def breakdown(af, dag_id: str, run_id: str) -> dict[str, dict[str, float]]:
    """Per task id, medians of: queued -> first line of the task's code (executor pickup, process start,
    imports, DAG parse, context), of which in the task's own process (process start -> code), the body,
    body end -> state reported, and queued -> reported; the largest peak RSS. A task without a timing line
    (the floor's no-op tasks) has only queued -> reported."""
    lines = timing_lines(Path(af.home) / "logs", dag_id, run_id)  # the executor's task logs
    per_task: dict[str, dict[str, list[float]]] = {}
    for ti in af.task_instances(dag_id, run_id):
        queued, end = ts(ti.get("queued_when")), ts(ti.get("end_date"))
        if not (queued and end):
            continue
        d = per_task.setdefault(ti["task_id"].split(".")[-1], {})
        d.setdefault("queued_to_reported_s", []).append(end - queued)
        line = lines.get((ti["task_id"], ti["map_index"]))
        if line:
            body_start = line["body_end"] - line["body_s"]
            d.setdefault("queued_to_code_s", []).append(body_start - queued)
            d.setdefault("process_to_code_s", []).append(line["process_to_code_s"])
            d.setdefault("body_s", []).append(line["body_s"])
            d.setdefault("report_s", []).append(end - line["body_end"])
            d.setdefault("peak_rss_mb", []).append(line["peak_rss_mb"])
            embedded = line.get("embedded", {})
            d.setdefault("embedded_wait_s", []).append(embedded.get("lock_wait_s", 0.0))
            d.setdefault("embedded_open_s", []).append(embedded.get("open_s", 0.0))
    return {
        task: {k: (max(v) if k == "peak_rss_mb" else statistics.median(v)) for k, v in d.items()}
        for task, d in per_task.items()
    }


SERVER_MODE_PROBE = r"""
import importlib, importlib.util, json, sys
import airflow.sdk
from airflow.sdk import plugins_manager
spec = importlib.util.spec_from_file_location("dagfile", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
plugins_manager.integrate_macros_plugins()
importlib.import_module(sys.argv[2])
from backfill.clickhouse import ClickHouse
ClickHouse.from_conn_id()
from backfill.run import peak_rss_mb
print(json.dumps({"rss_mb": peak_rss_mb(), "chdb": "chdb" in sys.modules}))
"""


def server_mode_rss(home: Path) -> dict[str, dict]:
    """A task process in server mode up to its first query: the DAG file, the plugins, the task's step
    module, the seam's client (no ClickHouse server here to query; the embedded engine is not loaded)."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}", "AIRFLOW_HOME": str(home / "probe"),
           "AIRFLOW_CONN_CLICKHOUSE_DEFAULT": json.dumps({"conn_type": "clickhouse", "host": "127.0.0.1",
                                                          "port": 1, "schema": "default"})}  # fmt: skip
    out = {}
    for step in ("backfill.duckling.export", "backfill.duckling.register"):
        done = subprocess.run([sys.executable, "-c", SERVER_MODE_PROBE, str(ROOT / "dags" / "duckling_backfill.py"),
                               step], env=env, capture_output=True, text=True, check=True)  # fmt: skip
        out[step.rsplit(".", 1)[1]] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def settle_scheduled(af, dag_id: str, timeout: float = 300) -> None:
    def finished() -> bool:
        runs = af.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?run_type=scheduled&limit=100")["dag_runs"]
        return bool(runs) and all(r["state"] in ("success", "failed") for r in runs)

    af.wait_until(finished, f"{dag_id}: the scheduled run finished", timeout)


def run_wall(af, dag_id: str, conf: dict, timeout: float) -> tuple[float, str]:
    run = af.trigger(dag_id, conf)
    final = af.wait_for_run(dag_id, run["dag_run_id"], timeout=timeout)
    if final["state"] != "success":
        raise SystemExit(f"{dag_id} {run['dag_run_id']}: {final['state']}")
    return ts(final["end_date"]) - ts(final["start_date"]), run["dag_run_id"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not a measurement")
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES

    from backfill.appdb import AppDB
    from backfill.clickhouse import ClickHouse
    from backfill.clickhouse_schema import create_clickhouse_schema
    from backfill.duckling.credentials import S3Access
    from backfill.duckling.registry import Registry
    from backfill.ledger import Ledger
    from devtools import airflow_env, airflow_stack, appdb_setup, demo_data, localstack

    home = Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
    pg = localstack.start_postgres(home / "pg")
    s3 = localstack.start_moto(home / "moto.log")
    af = None
    results: dict = {"sizes": {}}
    try:
        access = S3Access(s3.access_key, s3.secret_key, "", s3.region, s3.endpoint)
        ch = ClickHouse.embedded(str(home / "chdb"))
        create_clickhouse_schema(ch)
        plan = {}
        for name, (first, teams, days, per_day) in sizes.items():
            team_ids = list(range(first, first + teams))
            sessions = bench_e2e.calibrated_sessions(ch, per_day)
            for team in team_ids:
                demo_data.generate(ch, demo_data.DemoSpec(team_ids=(team,), start_day=DAY0, days=days,
                                                          sessions_per_day=sessions, persons_per_team=1000))  # fmt: skip
            counts = {(int(r["team_id"]), r["day"]): int(r["n"]) for r in ch.query(
                "duckling/count_events_days", {"team_ids": team_ids, "start_day": DAY0,
                                               "end_day": DAY0 + dt.timedelta(days=days - 1)})}  # fmt: skip
            team_days = sorted(counts)
            export_s, register_s, _ = bench_e2e.bare_duckling(ch, pg, s3, access, team_ids, team_days)
            plan[name] = (team_ids, days, team_days, counts, export_s + register_s)
        ch.close()  # the scheduler's tasks take the embedded engine's directory from here on

        pg.create_database("posthog")
        pg.create_database("airflow")
        db = AppDB.from_url(pg.url("posthog"))
        appdb_setup.prepare(db)
        dags = home / "dags"
        dags.mkdir()
        shutil.copyfile(ROOT / "dags" / "duckling_backfill.py", dags / "duckling_backfill.py")
        shutil.copyfile(ROOT / "scripts" / "bench_floor_dag.py", dags / "bench_floor_dag.py")
        af = airflow_stack.LocalAirflow(
            home=home / "airflow",
            metadata_url=pg.url("airflow"),
            port=localstack.free_port(),
            parallelism=8,
            fast_parsing=True,
            dags_folder=dags,
            extra_env={"BENCH_FLOOR_POOLS": "1"},
            connections=airflow_env.embedded_connections(
                chdb_path=home / "chdb",
                app_db_url=f"postgres://postgres@127.0.0.1:{pg.port}/posthog",
                s3_endpoint=s3.endpoint,
                access_key=s3.access_key,
                secret_key=s3.secret_key,
                region=s3.region,
            ),  # fmt: skip
        )
        af.migrate()
        af.import_pools()
        af.start()
        af.wait_for_dags(["duckling_full_backfill", "bench_floor"], timeout=240)
        for dag_id in ("duckling_full_backfill", "bench_floor"):
            af.set_paused(dag_id, False)
        # unpausing creates the latest scheduled run: let it finish while no duckling is registered (it
        # would walk every team's history), then register the bench's ducklings
        settle_scheduled(af, "duckling_full_backfill")
        for team_ids, *_ in plan.values():
            for team in team_ids:
                pg.create_database(f"lake_{team}")
                s3.client().create_bucket(Bucket=f"duckling-{team}")
                Registry(db).upsert(team_id=team, bucket=f"duckling-{team}", bucket_region=s3.region,
                                    db_host="127.0.0.1", db_port=pg.port, db_database=f"lake_{team}",
                                    db_username="postgres")  # fmt: skip

        for name, (team_ids, days, team_days, counts, bare_s) in plan.items():
            n = len(team_days)
            floor_s, floor_run = run_wall(af, "bench_floor", {"n": n}, timeout=1800)
            conf = {"team_ids": team_ids, "kinds": ["events"], "max_partitions": n,
                    "end_date": (DAY0 + dt.timedelta(days=days - 1)).isoformat()}  # fmt: skip
            package_s, run_id = run_wall(af, "duckling_full_backfill", conf, timeout=3600)
            done = [r for r in Ledger(db).rows("duckling", team_ids=team_ids)
                    if r["status"] == "done" and r["kind"] == "events"]  # fmt: skip
            if sorted((int(r["team_id"]), r["day"]) for r in done) != team_days or any(
                int(r["target_count"]) != counts[(int(r["team_id"]), r["day"])] for r in done
            ):
                got = sorted((int(r["team_id"]), r["day"], r["target_count"]) for r in done)
                raise SystemExit(f"{name}: the scheduler run did not register every team-day exactly: "
                                 f"{got} vs {[(t, d, counts[(t, d)]) for t, d in team_days]}")  # fmt: skip
            results["sizes"][name] = {
                "events_per_team_day": round(statistics.mean(counts.values())),
                "team_days": n,
                "bare_s": bare_s,
                "floor_s": floor_s,
                "package_s": package_s,
                "share_above_floor": (package_s - floor_s) / bare_s,
                "package_vs_bare": package_s / bare_s,
                "tasks": breakdown(af, "duckling_full_backfill", run_id),
                "floor_tasks": breakdown(af, "bench_floor", floor_run),
            }
    finally:
        if af is not None:
            af.stop()
        s3.stop()
        pg.stop()

    results["server_mode_before_first_query"] = server_mode_rss(home)
    print_table(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


def print_table(results: dict) -> None:
    print("\nLocalExecutor, duckling_full_backfill (one Airflow stack, one run)")
    print(
        f"{'size':<8}{'team-days':>10}{'bare':>9}{'floor':>9}{'package':>9}{'pkg/bare':>9}{'share':>8}  goal"
    )
    for name, r in results["sizes"].items():
        goal = 0.3 if name == "1M" else 1.0
        print(f"{name:<8}{r['team_days']:>10}{r['bare_s']:>8.1f}s{r['floor_s']:>8.1f}s{r['package_s']:>8.1f}s"
              f"{r['package_vs_bare']:>8.2f}x{r['share_above_floor']:>7.2f}x  <= {goal}x")  # fmt: skip
    print("\nper task, medians in s: queued->code (of which in its own process), body [of which: waiting for"
          " the embedded engine's directory / opening chdb], body end->reported, queued->reported; peak RSS MB")  # fmt: skip
    for name, r in results["sizes"].items():
        for label, tasks in (("package", r["tasks"]), ("floor", r["floor_tasks"])):
            for task in ("export", "register"):
                t = tasks.get(task)
                if not t:
                    continue
                if "body_s" in t:
                    print(f"  {name:<5} {label:<8} {task:<9} {t['queued_to_code_s']:>6.2f} ({t['process_to_code_s']:.2f})"
                          f" {t['body_s']:>6.2f} [{t['embedded_wait_s']:.2f} / {t['embedded_open_s']:.2f}]"
                          f" {t['report_s']:>6.2f} {t['queued_to_reported_s']:>6.2f}   {t['peak_rss_mb']:>5.0f}")  # fmt: skip
                else:
                    print(f"  {name:<5} {label:<8} {task:<9} {'':>29}{t['queued_to_reported_s']:>6.2f}")
    for step, r in results.get("server_mode_before_first_query", {}).items():
        print(f"server mode, {step} task process before its first query: {r['rss_mb']:.0f} MB RSS"
              f" (chdb loaded: {r['chdb']})")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
