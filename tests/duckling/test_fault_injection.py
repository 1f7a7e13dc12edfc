"""Exactly once on a bad day: each scenario injects a fault on the real stack, runs the partitions the
way Airflow would (the task's own retries, then Airflow's retries of the task, then the next run), and
checks the invariant over the engines (tests/duckling/invariant.py). ``make faults`` prints the table."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from duckling_helpers import DAYS
from invariant import can_fail, check, sweep

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
    def arm(point: str, action: str = "crash", **extra) -> Path:
        once = tmp_path / f"{point.replace(':', '_')}.fired"
        spec = {point: {"action": action, "once_file": str(once), **extra}}
        monkeypatch.setenv(FAULTS_ENV, json.dumps(spec))
        return once

    return arm


TASK = Path(__file__).with_name("fault_task.py")


def _attempt_in_process(step, env, team, day, run, options, exported, before_commit, kind):
    if step == "export":
        return export_partition(item(team, day, kind, "fault"), options, run, env)
    return register_partition(exported, options, run, env, before_commit=before_commit)


def _attempt_in_a_new_process(step, env, team, day, run, options, exported):
    """The attempt in its own process, as a scheduler runs a task: a kill is a real process death."""
    env.ch.close()  # the embedded engine admits one process: the task's, while it runs
    payload = {"aws_conn_id": env.aws_conn_id, "dag_id": run.dag_id, "run_id": run.run_id,
               "try_number": run.try_number, "options": options.to_dict(),
               "item": item(team, day, "events", "fault"), "exported": exported}  # fmt: skip
    done = subprocess.run([sys.executable, str(TASK), step, json.dumps(payload, default=str)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    if done.returncode == -9:
        raise ProcessKilled(done.stderr[-500:])
    last = (done.stdout.strip().splitlines() or ["{}"])[-1]
    out = json.loads(last)
    if done.returncode == 3:
        raise DucklingError(team, day, out["error"], transient=out["transient"])
    assert done.returncode == 0, done.stderr[-2000:]
    return out


class ProcessKilled(Exception):
    """The attempt's process died of SIGKILL."""


def run_like_airflow(env, team, day, run_id, options=None, *, before_commit=None, processes=False,
                     dag_id="duckling_backfill", stats=None):  # fmt: skip
    """export then register of one partition, each retried like an Airflow task (up to 3 tries) while
    its failure is transient or its process died; ``processes``: every attempt in a new process.
    Returns (tries, status, error); ``stats`` counts the crashes met."""
    options = options or parse_params({"clickhouse_settings": FAST_S3})
    tries, exported = 0, None
    stats = stats if stats is not None else {}
    for step in ("export", "register"):
        for attempt in range(1, AIRFLOW_TRIES + 1):
            tries += 1
            run = RunInfo(dag_id, run_id, try_number=attempt)
            try:
                if processes:
                    out = _attempt_in_a_new_process(step, env, team, day, run, options, exported)
                else:
                    out = _attempt_in_process(step, env, team, day, run, options, exported, before_commit,
                                              "events")  # fmt: skip
                if step == "export":
                    exported = out
                    if exported["status"] != "exported":
                        return tries, exported["status"], None
                else:
                    return tries, out["status"], None
                break
            except (SimulatedCrash, ProcessKilled):
                stats["crashes"] = stats.get("crashes", 0) + 1
                continue  # the task process died: Airflow's heartbeat fails it, and it is retried
            except DucklingError as err:
                if not err.transient or attempt == AIRFLOW_TRIES:
                    return tries, "failed", str(err)
    return tries, "failed", "retries exhausted"


def finish(env, record_fault, fault, tries, team_days, *, fired, expect_done=True, persons=False, erased=()):
    """The next report's sweep, then the invariant; one row of the table. The check is also run once on
    the invariant broken on purpose: it must fail."""
    sweep(env, team_days)
    figures = check(env, team_days, persons=persons, erased=erased)
    done = {(r["team_id"], r["day"]) for r in env.ledger.rows("duckling", status=DONE)}
    survived = figures.holds and (not expect_done or set(team_days) <= done)
    able = can_fail(env, team_days, persons=persons, erased=erased)
    record_fault(fault, tries, survived, figures.rows_lost, figures.duplicate_rows, figures.files_lost,
                 figures.orphans_left, fired=fired, persons=(not figures.persons_diff) if persons else None,
                 can_fail=able)  # fmt: skip
    assert figures.holds, figures
    assert survived and able
    assert fired, "the row's own fault never fired"


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
    before = proxy.served_faults  # this row's own faults: the counter is the proxy's, shared by rows
    proxy.inject(mode, count)
    tries, status, error = run_like_airflow(faulty, 11, DAYS[0], "s3-transient")
    fired = proxy.served_faults - before
    assert status == "done", error
    finish(faulty, record_fault, fault, tries, [(11, DAYS[0])], fired=fired)


def test_persistent_s3_failure_is_a_clear_partition_error_then_recovers(
    faulty, proxy, demo_data, make_duckling, record_fault
):
    make_duckling(11)
    before = proxy.served_faults
    proxy.inject("500", 100_000)
    tries, status, error = run_like_airflow(faulty, 11, DAYS[0], "s3-down")
    fired = proxy.served_faults - before
    assert status == "failed" and "team 11 day 2024-03-01: export events failed" in error and "500" in error
    assert check(faulty, [(11, DAYS[0])]).duplicate_rows == 0  # nothing half registered
    proxy.heal()
    more, status, error = run_like_airflow(faulty, 11, DAYS[0], "next-run")
    assert status == "done", error
    finish(faulty, record_fault, "S3 500 InternalError persistent, then healed", tries + more, [(11, DAYS[0])],
           fired=fired)  # fmt: skip


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
    finish(env, record_fault, "catalog connections terminated before commit", tries, [(11, DAYS[0])],
           fired=len(fired))  # fmt: skip


def test_clickhouse_memory_limit_mid_export(env, demo_data, make_duckling, record_fault):
    make_duckling(11)
    starved = parse_params({"clickhouse_settings": {"max_memory_usage": 1}})
    tries, status, error = run_like_airflow(env, 11, DAYS[0], "ch-memory", starved)
    assert status == "failed" and tries == 1  # permanent: not retried
    assert "MEMORY_LIMIT_EXCEEDED" in error or "memory limit" in error.lower()
    more, status, error = run_like_airflow(env, 11, DAYS[0], "next-run")
    assert status == "done", error
    finish(
        env,
        record_fault,
        "ClickHouse memory limit in the export (permanent)",
        tries + more,
        [(11, DAYS[0])],
        fired=1,
    )  # fmt: skip (the failed first run above is the fault, met once)


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
    once = armed(point, "kill")
    stats: dict = {}
    tries, status, error = run_like_airflow(env, 11, DAYS[1], "crash", processes=True, stats=stats)
    assert once.exists() and stats["crashes"] == 1, stats  # the process died at the point, once
    assert tries >= 3 and status == "done", error
    finish(env, record_fault, f"SIGKILL {fault}", tries, [(11, DAYS[1])], fired=stats["crashes"])


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
    tries = 3 + len(outcomes)  # three exports (one found the claim live), two registers
    finish(env, record_fault, "daily and full DAG on one partition, lease lapsed before the register", tries,
           [(11, DAYS[2])], fired=1)  # fmt: skip


def test_a_register_stalled_past_its_lease_never_commits_beside_the_takeover(
    env, demo_data, make_duckling, record_fault
):
    """Daily's register opened its DuckLake transaction (files added) and stalled past its lease; the full
    run claimed, exported and registered the same empty team-day meanwhile. The fence refuses the stale
    commit (without it: every row twice)."""
    make_duckling(11)
    day, opts = DAYS[2], RunParams()
    daily = RunInfo("duckling_backfill", "stalled")
    exported = export_partition(item(11, day, "events", "t"), opts, daily, env)
    stalls, takeover = [], {}

    def stall():
        stalls.append(1)
        lt = env.ledger.t
        with env.db.engine.begin() as conn:
            conn.execute(sa.update(lt).values(lease_expires_at=dt.datetime(2000, 1, 1)))
        thread = threading.Thread(target=lambda: takeover.update(
            status=run_like_airflow(env, 11, day, "takeover", dag_id="duckling_full_backfill")))  # fmt: skip
        thread.start()
        thread.join()

    with pytest.raises(DucklingError, match="lost the claim"):
        register_partition(exported, opts, daily, env, before_commit=stall)
    tries, status, error = takeover["status"]
    assert status == "done", error
    finish(env, record_fault, "register stalled past its lease, another run took over", 2 + tries,
           [(11, day)], fired=len(stalls))  # fmt: skip


def test_soak_concurrent_daily_and_full_with_repeating_faults(
    faulty, proxy, demo_data, make_duckling, monkeypatch, record_fault
):
    """Daily and full runs concurrently over the same partitions, several rounds, S3 faults injected at
    random and crash points that fire again and again (each hit with some probability); then the next
    day's run after the leases lapsed finishes what the crashes left, and the invariant holds."""
    seed = int(os.environ.get("FAULT_SOAK_SEED") or time.time()) % 100_000
    print(
        f"soak seed {seed} (FAULT_SOAK_SEED={seed} replays the fault choices; the interleaving is the OS's)"
    )
    rng = random.Random(seed)
    for team in TEAMS:
        make_duckling(team)
    partitions = [(t, d) for t in TEAMS for d in DAYS]
    points = ("export:written", "register:files_added", "register:committed")
    monkeypatch.setenv(FAULTS_ENV, json.dumps({p: {"action": "crash", "probability": 0.2} for p in points}))
    before = proxy.served_faults
    stats: dict = {}
    tries_total, errors = [0], []

    def run(name: str, round_no: int) -> None:
        order = partitions[:]
        random.Random(f"{seed}-{name}-{round_no}").shuffle(order)
        for team, day in order:
            if rng.random() < 0.3:
                proxy.inject(rng.choice(("503", "reset")), rng.randint(1, 3))
            tries, status, error = run_like_airflow(faulty, team, day, f"soak-{seed}-{round_no}-{name}",
                                                    dag_id=f"duckling_{name}", stats=stats)  # fmt: skip
            tries_total[0] += tries
            if status not in ("done", "in_progress", "failed"):
                errors.append(f"{team} {day}: {status} {error}")

    for round_no in range(3):
        threads = [
            threading.Thread(target=run, args=(name, round_no)) for name in ("backfill", "full_backfill")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    proxy.heal()
    monkeypatch.delenv(FAULTS_ENV)
    fired = (proxy.served_faults - before) + stats.get("crashes", 0)
    # the next day's run: the crashed runs' leases have lapsed, it takes every unfinished partition over
    lt = faulty.ledger.t
    with faulty.db.engine.begin() as conn:
        conn.execute(
            sa.update(lt).where(lt.c.status == "claimed").values(lease_expires_at=dt.datetime(2000, 1, 1))
        )
    for team, day in partitions:
        if (team, day) not in {(r["team_id"], r["day"]) for r in faulty.ledger.rows("duckling", status=DONE)}:
            tries, status, error = run_like_airflow(faulty, team, day, f"soak-{seed}-next")
            tries_total[0] += tries
            assert status == "done", f"seed {seed}: {team} {day}: {error}"
    assert errors == [], f"seed {seed}: {errors}"
    assert stats.get("crashes", 0) > 1, "crash points fire more than once in a soak"
    finish(faulty, record_fault, f"soak: daily+full concurrently x3 rounds, repeating faults (seed {seed})",
           tries_total[0], partitions, fired=fired)  # fmt: skip
