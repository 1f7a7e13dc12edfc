"""Scale-out: the same DAGs on Airflow's CeleryExecutor, with Debian's redis-server on loopback as the
broker, results on the metadata PostgreSQL, and TWO Celery workers (each named, one task at a time).
A duckling backfill and a web_preagg backfill run through the scheduler: mapped task instances ran on
both workers, the pools still cap them across workers, and the invariants hold (the lake equals
ClickHouse per team-day; detection over the recomputed window finds nothing missing or stale)."""

from __future__ import annotations

import datetime as dt

import pytest
from e2e_stack import DEMO_START, DUCKLING_TEAM, E2EStack, _build
from test_scheduler_e2e import _ts, max_overlap

from backfill import sql as sqlt
from backfill.settings import DUCKLING, POOLS, WEB_PREAGG
from devtools import airflow_env, localstack

pytestmark = pytest.mark.scheduler
WORKERS = ("worker-a", "worker-b")
PER_DAY = sqlt.Template(
    "e2e/celery_days",
    "SELECT toDate(timestamp, 'UTC') AS day, uniqExact(uuid) AS n FROM events "
    "WHERE team_id = {t:Int64} AND toDate(timestamp, 'UTC') BETWEEN {s:Date} AND {e:Date} GROUP BY day",
)


def _clickhouse_days(stack: E2EStack, days: list[dt.date]) -> dict[dt.date, int]:
    """ClickHouse's distinct events per day of the duckling team: what the lake must hold."""
    rows = stack.clickhouse_rows(PER_DAY, {"t": DUCKLING_TEAM, "s": days[0], "e": days[-1]})
    return {r["day"]: int(r["n"]) for r in rows}


@pytest.fixture(scope="module")
def celery_stack(pg, s3, tmp_path_factory):
    redis = localstack.start_redis(tmp_path_factory.mktemp("redis") / "redis.log")
    stack = None
    try:
        # a task whose worker vanished is failed (and retried elsewhere) after 20 s without a heartbeat
        heartbeat = {
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
        }
        stack = _build(
            pg,
            s3,
            name="celery",
            executor="CeleryExecutor",
            broker_url=redis.url,
            workers=WORKERS,
            extra_env=heartbeat,
        )
        yield stack
    finally:
        if stack is not None:
            stack.airflow.stop()
            stack.statsd.close()
        redis.stop()


def _tis(stack: E2EStack, dag_id: str, run_id: str) -> list[dict]:
    return stack.airflow.task_instances(dag_id, run_id)


def _ran(stack: E2EStack, dag_id: str, conf: dict) -> tuple[dict, list[dict]]:
    with stack.unpaused(dag_id) as af:
        run = af.trigger(dag_id, conf)
        final = af.wait_for_run(dag_id, run["dag_run_id"], timeout=600)
    tis = _tis(stack, dag_id, run["dag_run_id"])
    assert final["state"] == "success", [
        (t["task_id"], t["map_index"], t["state"], t["hostname"]) for t in tis
    ]
    return final, tis


def test_two_celery_workers_share_a_duckling_and_a_web_preagg_backfill(celery_stack: E2EStack):
    stack = celery_stack
    pools = airflow_env.load_pools()
    assert stack.airflow.executor == "CeleryExecutor"

    days = [DEMO_START + dt.timedelta(days=i) for i in range(6)]
    conf = {"team_ids": [DUCKLING_TEAM], "kinds": ["events"], "start_date": days[0].isoformat(),
            "end_date": days[-1].isoformat()}  # fmt: skip
    _, tis = _ran(stack, DUCKLING.daily_dag_id, conf)
    mapped = [t for t in tis if t["map_index"] >= 0]
    assert len(mapped) == 2 * len(days)
    hosts = {t["hostname"] for t in mapped}
    print(f"\nduckling: {len(mapped)} mapped task instances on {sorted(hosts)}")
    assert hosts == set(WORKERS), "both workers ran mapped task instances"
    for task, pool in (
        ("partition.export", POOLS.duckling_export),
        ("partition.register", POOLS.duckling_register),
    ):
        runs = [(_ts(t["start_date"]), _ts(t["end_date"])) for t in mapped if t["task_id"] == task]
        assert max_overlap(runs) <= pools[pool]["slots"], task
    with stack.lake() as con:
        lake = dict(con.execute(
            "SELECT CAST(timezone('UTC', timestamp) AS DATE), count(*) FROM lake.events GROUP BY 1"
        ).fetchall())  # fmt: skip
    source = _clickhouse_days(stack, days)
    assert lake == source and set(lake) == set(days)

    end = DEMO_START + dt.timedelta(days=2)
    conf = {
        "team_ids": [1, 2, 3],
        "end_date": end.isoformat(),
        "lookback_days": 3,
        "min_missing_partitions": 0,
        "max_partitions_per_run": 9,
    }
    _, tis = _ran(stack, WEB_PREAGG.dag_id, conf)
    mapped = [t for t in tis if t["task_id"] == "backfill_team_day" and t["map_index"] >= 0]
    assert len(mapped) == 9
    print(f"web_preagg: {len(mapped)} mapped task instances on {sorted({t['hostname'] for t in mapped})}")
    assert {t["hostname"] for t in tis} <= set(WORKERS)
    runs = [(_ts(t["start_date"]), _ts(t["end_date"])) for t in mapped]
    assert max_overlap(runs) <= pools[POOLS.web_preagg]["slots"]
    # a from-scratch check: detection over the window now finds nothing missing and nothing stale
    from backfill.appdb import AppDB
    from backfill.clickhouse import ClickHouse
    from backfill.ledger import Ledger
    from backfill.web_preagg.detect import detect
    from backfill.web_preagg.params import Window

    ch = ClickHouse.embedded(str(stack.chdb_path), lock_timeout_s=120)
    db = AppDB.from_url(stack.app_db_url)
    try:
        found = detect(ch, Ledger(db), [1, 2, 3], Window(DEMO_START, end))
    finally:
        ch.close()
        db.engine.dispose()
    assert found.missing == [] and found.stale == [] and len(found.present) == 9


def test_a_worker_killed_mid_run_and_the_other_finishes_it(celery_stack: E2EStack):
    """SIGKILL one worker (and its task processes) while it runs a mapped task: after the heartbeat
    timeout the task is retried on the other worker and the run succeeds, exactly once in the lake."""
    import os
    import signal
    import time

    stack = celery_stack
    af = stack.airflow
    days = [DEMO_START + dt.timedelta(days=i) for i in range(6, 9)]
    conf = {"team_ids": [DUCKLING_TEAM], "kinds": ["events"], "start_date": days[0].isoformat(),
            "end_date": days[-1].isoformat()}  # fmt: skip
    dag_id = DUCKLING.daily_dag_id
    with stack.unpaused(dag_id):
        run_id = af.trigger(dag_id, conf)["dag_run_id"]
        victim = None
        deadline = time.monotonic() + 180
        while victim is None:
            assert time.monotonic() < deadline, "no mapped task ran on worker-a"
            running = [t for t in _tis(stack, dag_id, run_id)
                       if t["map_index"] >= 0 and t["state"] == "running" and t["hostname"] == WORKERS[0]]  # fmt: skip
            victim = running[0] if running else None
            time.sleep(0.5)
        worker = af.processes.pop(f"worker-{WORKERS[0]}")  # gone for good: check_alive must not miss it
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
        final = af.wait_for_run(dag_id, run_id, timeout=600)
    tis = _tis(stack, dag_id, run_id)
    assert final["state"] == "success", [
        (t["task_id"], t["map_index"], t["state"], t["hostname"]) for t in tis
    ]
    [again] = [t for t in tis if (t["task_id"], t["map_index"]) == (victim["task_id"], victim["map_index"])]
    print(
        f"\nkilled {victim['task_id']}[{victim['map_index']}] on {WORKERS[0]}; try {again['try_number']} on {again['hostname']}"
    )
    assert again["try_number"] > victim["try_number"] and again["hostname"] == WORKERS[1]
    with stack.lake() as con:
        rows = con.execute(
            "SELECT CAST(timezone('UTC', timestamp) AS DATE) AS d, count(*), count(DISTINCT uuid) FROM lake.events "
            "WHERE CAST(timezone('UTC', timestamp) AS DATE) BETWEEN ? AND ? GROUP BY d",
            [days[0], days[-1]],
        ).fetchall()
    source = _clickhouse_days(stack, days)
    assert {d: (n, u) for d, n, u in rows} == {d: (n, n) for d, n in source.items()}  # one copy per uuid
