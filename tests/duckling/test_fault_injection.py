"""Exactly once on a bad day: each scenario injects a fault on the real stack, runs the partitions the
way Airflow would (the task's own retries, then Airflow's retries of the task, then the next run), and
checks the invariant over the engines (tests/duckling/invariant.py). ``make faults`` prints the table."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import threading
import time

import psycopg
import pytest
import sqlalchemy as sa
from duckling_helpers import DAYS
from invariant import Figures, check, sweep

from backfill.duckling.errors import DucklingError
from backfill.duckling.export import export_partition
from backfill.duckling.params import RunParams, parse_params
from backfill.duckling.plan import item
from backfill.duckling.register import register_partition
from backfill.duckling.run import Env, RunInfo
from backfill.faults import ENV as FAULTS_ENV
from backfill.faults import SimulatedCrash
from backfill.ledger import DONE
from devtools.faultproxy import FaultProxy

pytestmark = pytest.mark.faults
TEAMS = (11, 12)
# the engine's own S3 client gives up quickly, so the package's retry policy is what is tested
FAST_S3 = {"s3_retry_attempts": 1, "s3_request_timeout_ms": 3000, "s3_connect_timeout_ms": 1000}
AIRFLOW_TRIES = 3  # default_args retries=2


@pytest.fixture(scope="module")
def proxy(s3, connections):
    proxy = FaultProxy(s3.port).start()
    os.environ["AIRFLOW_CONN_AWS_FAULTY"] = json.dumps(
        {
            "conn_type": "aws",
            "login": s3.access_key,
            "password": s3.secret_key,
            "extra": {"endpoint_url": proxy.endpoint, "region_name": s3.region},
        }
    )
    yield proxy
    proxy.stop()


@pytest.fixture
def faulty(env, proxy):
    """The environment as the tasks see it: every S3 request (ClickHouse, DuckDB, boto3) via the proxy."""
    proxy.heal()
    yield Env(ch=env.ch, db=env.db, aws_conn_id="aws_faulty")
    proxy.heal()


@pytest.fixture
def armed(monkeypatch, tmp_path):
    def arm(point: str, action: str = "crash") -> None:
        spec = {point: {"action": action, "once_file": str(tmp_path / f"{point.replace(':', '_')}.fired")}}
        monkeypatch.setenv(FAULTS_ENV, json.dumps(spec))

    return arm


def run_like_airflow(env, team, day, run_id, options=None, *, before_commit=None):
    """export then register of one partition, each retried like an Airflow task (up to 3 tries) while
    its failure is transient (or a crash); returns (tries, status, error)."""
    options = options or parse_params({"clickhouse_settings": FAST_S3})
    tries, exported = 0, None
    for step in ("export", "register"):
        for attempt in range(1, AIRFLOW_TRIES + 1):
            tries += 1
            run = RunInfo("duckling_backfill", run_id, try_number=attempt)
            try:
                if step == "export":
                    exported = export_partition(item(team, day, "events", "fault"), options, run, env)
                    if exported["status"] != "exported":
                        return tries, exported["status"], None
                else:
                    out = register_partition(exported, options, run, env, before_commit=before_commit)
                    return tries, out["status"], None
                break
            except SimulatedCrash:
                continue  # the task process died: Airflow's heartbeat fails it, and it is retried
            except DucklingError as err:
                if not err.transient or attempt == AIRFLOW_TRIES:
                    return tries, "failed", str(err)
    return tries, "failed", "retries exhausted"


def finish(env, record_fault, fault, tries, team_days, *, expect_done=True):
    """The next report's sweep, then the invariant; one row of the table."""
    sweep(env, team_days)
    figures = check(env, team_days)
    done = {(r["team_id"], r["day"]) for r in env.ledger.rows("duckling", status=DONE)}
    survived = figures.holds and (not expect_done or set(team_days) <= done)
    record_fault(
        fault,
        tries,
        survived,
        figures.rows_lost,
        figures.duplicate_rows,
        figures.files_lost,
        figures.orphans_left,
    )
    assert figures.holds, figures
    assert survived


@pytest.mark.parametrize(
    "fault, mode, count",
    [
        ("S3 503 SlowDown x3 (ClickHouse, DuckDB, boto3 via the proxy)", "503", 3),
        ("S3 connection reset x3", "reset", 3),
        ("S3 stalls x2 (request timeout)", "stall", 2),
    ],
)
def test_transient_s3_faults_are_retried(
    faulty, proxy, demo_data, make_duckling, record_fault, fault, mode, count
):
    make_duckling(11)
    proxy.inject(mode, count)
    tries, status, error = run_like_airflow(faulty, 11, DAYS[0], "s3-transient")
    assert proxy.served_faults >= 1  # the fault really was met
    assert status == "done", error
    finish(faulty, record_fault, fault, tries, [(11, DAYS[0])])


def test_persistent_s3_failure_is_a_clear_partition_error_then_recovers(
    faulty, proxy, demo_data, make_duckling, record_fault
):
    make_duckling(11)
    proxy.inject("500", 100_000)
    tries, status, error = run_like_airflow(faulty, 11, DAYS[0], "s3-down")
    assert status == "failed" and "team 11 day 2024-03-01: export events failed" in error and "500" in error
    assert check(faulty, [(11, DAYS[0])]).duplicate_rows == 0  # nothing half registered
    proxy.heal()
    more, status, error = run_like_airflow(faulty, 11, DAYS[0], "next-run")
    assert status == "done", error
    finish(
        faulty, record_fault, "S3 500 InternalError persistent, then healed", tries + more, [(11, DAYS[0])]
    )


def test_catalog_connections_terminated_during_register(env, pg, demo_data, make_duckling, record_fault):
    row = make_duckling(11)

    def terminate_catalog_backends():
        with psycopg.connect(pg.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (row["db_database"],),
            )

    fired = []

    def once():
        if not fired:
            fired.append(1)
            terminate_catalog_backends()

    tries, status, error = run_like_airflow(env, 11, DAYS[0], "catalog-restart", before_commit=once)
    assert fired and status == "done", error
    finish(env, record_fault, "catalog connections terminated before commit", tries, [(11, DAYS[0])])


def test_clickhouse_memory_limit_mid_export(env, demo_data, make_duckling, record_fault):
    make_duckling(11)
    starved = parse_params({"clickhouse_settings": {"max_memory_usage": 1}})
    tries, status, error = run_like_airflow(env, 11, DAYS[0], "ch-memory", starved)
    assert status == "failed" and tries == 1  # permanent: not retried
    assert "MEMORY_LIMIT_EXCEEDED" in error or "memory limit" in error.lower()
    more, status, error = run_like_airflow(env, 11, DAYS[0], "next-run")
    assert status == "done", error
    finish(
        env, record_fault, "ClickHouse memory limit in the export (permanent)", tries + more, [(11, DAYS[0])]
    )


@pytest.mark.parametrize(
    "point, fault",
    [
        ("export:claimed", "crash after the claim, before writing"),
        ("export:written", "crash after the export wrote its file"),
        ("register:files_added", "crash inside the register transaction"),
        ("register:committed", "crash after the register commit, before the ledger"),
    ],
)
def test_a_crash_at_each_point_is_completed_by_the_retry(
    env, demo_data, make_duckling, armed, record_fault, point, fault
):
    make_duckling(11)
    armed(point)
    tries, status, error = run_like_airflow(env, 11, DAYS[1], "crash")
    assert tries >= 3 and status == "done", error
    finish(env, record_fault, fault, tries, [(11, DAYS[1])])


def test_daily_and_full_on_the_same_partition_at_once(env, demo_data, make_duckling, record_fault):
    make_duckling(11)
    opts = RunParams()
    daily, full = RunInfo("duckling_backfill", "daily"), RunInfo("duckling_full_backfill", "full")
    a = export_partition(item(11, DAYS[2], "events", "t"), opts, daily, env)
    assert export_partition(item(11, DAYS[2], "events", "t"), opts, full, env)["status"] == "in_progress"
    lt = env.ledger.t
    with env.db.engine.begin() as conn:  # the daily run stalls past its lease; the full run takes over
        conn.execute(sa.update(lt).values(lease_expires_at=dt.datetime(2000, 1, 1)))
    b = export_partition(item(11, DAYS[2], "events", "t"), opts, full, env)
    outcomes: dict[str, str] = {}

    def register(name, exported, run):
        try:
            outcomes[name] = register_partition(exported, opts, run, env)["status"]
        except DucklingError as err:
            outcomes[name] = f"refused: {err.cause[:40]}"

    threads = [
        threading.Thread(target=register, args=a_b) for a_b in (("daily", a, daily), ("full", b, full))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes["full"] == "done" and outcomes["daily"].startswith("refused: lost the ledger claim")
    finish(env, record_fault, "daily and full DAG on one partition, lease lapsed", 4, [(11, DAYS[2])])


def test_soak_random_interleavings_and_faults(
    faulty, proxy, demo_data, make_duckling, armed, monkeypatch, record_fault
):
    seed = int(os.environ.get("FAULT_SOAK_SEED") or time.time()) % 100_000
    print(f"soak seed {seed} (FAULT_SOAK_SEED={seed} replays it)")
    rng = random.Random(seed)
    for team in TEAMS:
        make_duckling(team)
    partitions = [(t, d) for t in TEAMS for d in DAYS]
    faults = ["none", "503", "reset", "export:written", "register:files_added", "register:committed"]
    total = Figures()
    tries_total, deadline = 0, time.monotonic() + 240
    for round_no in range(4):
        if time.monotonic() > deadline:
            break
        for run_name in ("daily", "full"):
            order = partitions[:]
            rng.shuffle(order)
            for team, day in order:
                fault = rng.choice(faults)
                monkeypatch.delenv(FAULTS_ENV, raising=False)
                if fault in ("503", "reset"):
                    proxy.inject(fault, rng.randint(1, 3))
                elif ":" in fault:
                    armed(fault)
                tries, status, error = run_like_airflow(
                    faulty, team, day, f"soak-{seed}-{round_no}-{run_name}"
                )
                tries_total += tries
                proxy.heal()
                assert status in ("done", "in_progress"), f"seed {seed}: {team} {day} {fault}: {error}"
        sweep(faulty, partitions)
        figures = check(faulty, partitions)
        assert figures.holds, f"seed {seed} round {round_no}: {figures}"
        total = total + figures
    record_fault(
        f"soak: daily+full x4 rounds, random faults (seed {seed})",
        tries_total,
        total.holds,
        total.rows_lost,
        total.duplicate_rows,
        total.files_lost,
        total.orphans_left,
    )
