"""The paths users take, under a real scheduler (api-server + scheduler + dag-processor, LocalExecutor).

One stack per session (tests/e2e_stack.py). Each test unpauses only the DAG under test. Every task
opens the stack's embedded ClickHouse directory in its own process: tasks succeeding one after the
other, and the pytest process opening the directory right after a run, show that a finished task
process releases the directory lock.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_stack import DEMO_START, E2EStack

from backfill import sql as sqlt
from backfill.clickhouse.embedded import directory_locked as _directory_locked
from backfill.settings import DUCKLING, POOLS, WEB_PREAGG
from devtools.airflow_env import POOLS_FILE
from devtools.airflow_rest import ApiError

pytestmark = pytest.mark.scheduler

MAPPED_TASK = "backfill_team_day"
STATS_TEAM_DAYS = sqlt.Template(
    "e2e/stats_team_days",
    "SELECT DISTINCT team_id, toDate(period_bucket) AS day FROM web_pre_aggregated_stats "
    "WHERE toDate(period_bucket) BETWEEN {start:Date} AND {end:Date} ORDER BY team_id, day",
)


def _ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def max_overlap(intervals: list[tuple[dt.datetime, dt.datetime]]) -> int:
    """The largest number of intervals open at one instant (an end at t closes before a start at t)."""
    events = sorted(
        [(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1])
    )
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_max_overlap_counts_touching_intervals_as_sequential():
    t = [dt.datetime(2024, 1, 1, 0, 0, s, tzinfo=dt.UTC) for s in range(6)]
    assert max_overlap([(t[0], t[2]), (t[1], t[3]), (t[2], t[4])]) == 2
    assert max_overlap([(t[0], t[1]), (t[1], t[2])]) == 1
    assert max_overlap([(t[0], t[5]), (t[1], t[4]), (t[2], t[3])]) == 3


def test_pools_are_imported_from_the_pools_file(e2e: E2EStack):
    expected = json.loads(POOLS_FILE.read_text())
    pools = {p["name"]: p for p in e2e.airflow.api("GET", "/api/v2/pools?limit=100")["pools"]}
    for name in (POOLS.web_preagg, POOLS.duckling_export, POOLS.duckling_register):
        assert pools[name]["slots"] == expected[name]["slots"]
        assert pools[name]["description"] == expected[name]["description"]


def _mapped(e2e: E2EStack, dag_id: str, run_id: str, task_id: str = MAPPED_TASK) -> list[dict]:
    return [ti for ti in e2e.airflow.task_instances(dag_id, run_id) if ti["task_id"] == task_id]


def test_mapped_partitions_never_exceed_the_pool_slots(e2e: E2EStack):
    slots = json.loads(POOLS_FILE.read_text())[POOLS.web_preagg]["slots"]
    assert e2e.airflow.parallelism > slots, "the executor must not be what caps concurrency"
    end = DEMO_START + dt.timedelta(days=2)
    conf = {
        "team_ids": [1, 2, 3],
        "end_date": end.isoformat(),
        "lookback_days": 3,
        "min_missing_partitions": 0,
        "max_partitions_per_run": 9,
    }
    with e2e.unpaused(WEB_PREAGG.dag_id) as af:
        run = af.trigger(WEB_PREAGG.dag_id, conf)
        final = af.wait_for_run(WEB_PREAGG.dag_id, run["dag_run_id"], timeout=400)
    tis = _mapped(e2e, WEB_PREAGG.dag_id, run["dag_run_id"])
    assert final["state"] == "success", [(ti["map_index"], ti["state"]) for ti in tis]
    assert len(tis) == 9 > slots
    assert {ti["pool"] for ti in tis} == {POOLS.web_preagg}
    assert all(ti["state"] == "success" for ti in tis)
    peak = max_overlap([(_ts(ti["start_date"]), _ts(ti["end_date"])) for ti in tis])
    print(f"\npool {POOLS.web_preagg}: {slots} slots, {len(tis)} mapped tasks, at most {peak} at once")
    assert 1 <= peak <= slots
    # every task opened the chdb directory in its own process; the last one let go of it on exit
    assert _released(e2e.chdb_path), f"{e2e.chdb_path} still locked after the run"
    # the run really wrote what it planned
    rows = e2e.clickhouse_rows(STATS_TEAM_DAYS, {"start": DEMO_START, "end": end}, lock_timeout_s=30)
    assert {(r["team_id"], r["day"]) for r in rows} == {
        (t, DEMO_START + dt.timedelta(days=d)) for t in (1, 2, 3) for d in range(3)
    }


def test_rest_trigger_uses_the_conf_and_the_schema_rejects_a_bad_one(e2e: E2EStack):
    e2e.require_dag(WEB_PREAGG.dag_id)
    af = e2e.airflow
    before = af.api("GET", f"/api/v2/dags/{WEB_PREAGG.dag_id}/dagRuns?limit=1")["total_entries"]
    for bad in (
        {"lookback_days": 0},
        {"team_ids": ["two"]},
        {"tables": ["no_such_table"]},
        {"end_date": "yesterday"},
    ):
        with pytest.raises(ApiError) as err:
            af.trigger(WEB_PREAGG.dag_id, bad)
        assert err.value.status == 400, (bad, err.value)
        assert next(iter(bad)) in json.dumps(err.value.payload), (bad, err.value.payload)
    assert af.api("GET", f"/api/v2/dags/{WEB_PREAGG.dag_id}/dagRuns?limit=1")["total_entries"] == before

    start, end = DEMO_START + dt.timedelta(days=4), DEMO_START + dt.timedelta(days=5)
    conf = {
        "team_ids": [2],
        "end_date": end.isoformat(),
        "lookback_days": 2,
        "min_missing_partitions": 0,
        "max_partitions_per_run": 5,
    }
    with e2e.unpaused(WEB_PREAGG.dag_id):
        run = af.trigger(WEB_PREAGG.dag_id, conf)
        final = af.wait_for_run(WEB_PREAGG.dag_id, run["dag_run_id"], timeout=300)
    assert final["state"] == "success"
    assert final["conf"] == conf
    tis = _mapped(e2e, WEB_PREAGG.dag_id, run["dag_run_id"])
    labels = sorted(ti["rendered_map_index"] for ti in tis)
    assert len(tis) == 2, labels
    assert all("2" in label and (start.isoformat() in label or end.isoformat() in label) for label in labels)
    rows = e2e.clickhouse_rows(STATS_TEAM_DAYS, {"start": start, "end": end})
    assert {(r["team_id"], r["day"]) for r in rows} == {(2, start), (2, end)}


def _released(path: Path, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while _directory_locked(str(path)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _airflow_cli(e2e: E2EStack, *args: str) -> subprocess.CompletedProcess:
    return e2e.airflow.cli(*args, timeout=180)


def _duckling_days(e2e: E2EStack) -> dict[dt.date, int]:
    """Rows per day in the team's DuckLake ``events`` table, read through DuckDB like a customer would."""
    with e2e.lake() as con:
        rows = con.execute(
            "SELECT CAST(timestamp AS DATE) AS d, count(*) FROM lake.events GROUP BY d ORDER BY d"
        ).fetchall()
    return {d: n for d, n in rows}


def test_backfill_create_runs_three_days_into_the_duckling(e2e: E2EStack):
    dag_id = DUCKLING.daily_dag_id
    e2e.require_dag(dag_id)
    first, last = DEMO_START + dt.timedelta(days=7), DEMO_START + dt.timedelta(days=9)
    days = [first + dt.timedelta(days=i) for i in range(3)]
    e2e.require_dag(DOWNSTREAM)
    with e2e.unpaused(dag_id, also=(DOWNSTREAM,)) as af:
        out = _airflow_cli(
            e2e,
            "backfill",
            "create",
            "--dag-id",
            dag_id,
            "--from-date",
            first.isoformat(),
            "--to-date",
            last.isoformat(),
            "--max-active-runs",
            "1",
            "--reprocess-behavior",
            "completed",
        )
        backfills = af.api("GET", f"/api/v2/backfills?dag_id={dag_id}")["backfills"]
        assert len(backfills) == 1, (out.stdout, backfills)
        backfill_id = backfills[0]["id"]
        runs = _wait_backfill(af, dag_id, backfill_id, expected=3)
        # each registration emitted team 1's events asset: the downstream DAG ran on them
        consumed = _wait_asset_events(af, DOWNSTREAM, {d.isoformat() for d in days})
    assert sorted(r["state"] for r in runs) == ["success"] * 3, runs
    assert {(e["extra"]["team_id"], e["extra"]["kind"], e["uri"]) for e in consumed} == {
        (1, "events", "duckling://team-1/events")
    }
    assert sorted(_ts(r["logical_date"]).date() for r in runs) == days
    assert all(r["run_type"] == "backfill" for r in runs)
    per_day = _duckling_days(e2e)
    assert sorted(per_day) == days, per_day
    assert all(n > 0 for n in per_day.values())


DOWNSTREAM = "duckling_downstream"  # tests/e2e/dags: scheduled on duckling://team-1/events


def _wait_asset_events(af, dag_id: str, days: set[str], timeout: float = 300) -> list[dict]:
    """The asset events consumed by ``dag_id``'s asset-triggered runs, once they cover ``days``."""

    def consumed() -> list[dict] | None:
        runs = af.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?run_type=asset_triggered&limit=100")["dag_runs"]
        events = [
            event
            for r in runs
            if r["state"] == "success"
            for event in af.api(
                "GET", f"/api/v2/dags/{dag_id}/dagRuns/{r['dag_run_id']}/upstreamAssetEvents"
            )["asset_events"]
        ]
        return events if {e["extra"]["day"] for e in events} >= days else None

    return af.wait_until(consumed, f"{dag_id}: asset-triggered runs consuming {sorted(days)}", timeout)


def _wait_backfill(af, dag_id: str, backfill_id: int, expected: int, timeout: float = 420) -> list[dict]:
    def finished() -> list[dict] | None:
        runs = af.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?run_type=backfill&limit=100")["dag_runs"]
        done = [r for r in runs if r["state"] in ("success", "failed")]
        return runs if len(runs) >= expected and len(done) == len(runs) else None

    return af.wait_until(finished, f"backfill {backfill_id} of {dag_id}: {expected} runs finished", timeout)


def test_airflow_dags_backfill_is_gone_in_airflow_3(e2e: E2EStack):
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "dags", "backfill", "x"],
        env=e2e.airflow.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "airflow backfill create" in proc.stdout + proc.stderr
