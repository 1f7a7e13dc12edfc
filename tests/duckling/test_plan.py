"""Pure decisions (no services) and the daily DAG's detection of failed and late partitions."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from duckling_helpers import DAYS, ch_exec, run_partition

from backfill.duckling import errors
from backfill.duckling.detect import detect_daily
from backfill.duckling.layout import file_name, object_key
from backfill.duckling.params import RunParams, parse_params
from backfill.duckling.plan import days_of_run, pending_days, plan_daily, plan_full
from backfill.duckling.registry import Duckling
from backfill.duckling.run import RunInfo
from backfill.params import ParamsError
from backfill.settings import DUCKLING

D = dt.date(2024, 3, 1)


def test_daily_plan_order_cap_and_in_progress():
    items, summary = plan_daily(
        teams=[1, 2],
        days=[D],
        kinds=("events", "persons"),
        failed=[(1, D - dt.timedelta(days=3), "events"), (9, D, "events")],
        late=[(2, D - dt.timedelta(days=1))],
        live={(2, D, "persons")},
        cap=4,
    )
    labels = [i["label"] for i in items]
    # fair: one item per team per round, the longest-waiting item first; a team's persons before its events
    assert labels == [
        "team 2 · 2024-02-29 · events",
        "team 1 · 2024-03-01 · persons",
        "team 1 · 2024-02-27 · events",
        "team 2 · 2024-03-01 · events",
    ]
    assert summary["in_progress"] == ["team 2 · 2024-03-01 · persons"] and summary["deferred_over_cap"] == 1


def test_full_plan_round_robin_oldest_first_with_full_persons():
    until = D + dt.timedelta(days=3)
    pending = {
        1: pending_days(D, until, [D], set(), 4),
        2: pending_days(D + dt.timedelta(days=2), until, [], set(), 4),
    }
    items, summary = plan_full(
        pending=pending,
        remaining={1: 3, 2: 2},
        until=until,
        needs_full_persons=[2],
        kinds=("events", "persons"),
        live=set(),
        cap=4,
    )
    assert [i["label"] for i in items] == [
        "team 2 · 2024-03-04 · persons_full",
        "team 1 · 2024-03-02 · events",
        "team 2 · 2024-03-03 · events",
        "team 1 · 2024-03-03 · events",
    ]
    assert summary["deferred_over_cap"] == 2 and summary["remaining_days"] == {1: 3, 2: 2}


def test_pending_days_streams_the_done_days_and_stops_at_the_limit():
    days = [D + dt.timedelta(days=i) for i in range(10)]
    done = iter([days[0], days[1], days[3], days[9]])  # ascending, consumed once
    assert pending_days(D, days[9], done, {days[4]}, 3) == [days[2], days[5], days[6]]
    assert pending_days(D, days[9], iter(days), set(), 5) == []
    assert pending_days(D, days[9], iter([]), set(), 100) == days


def test_cap_never_exceeds_max_map_length():
    with pytest.raises(ParamsError):
        parse_params({"max_partitions": DUCKLING.max_map_length + 1})
    items, summary = plan_daily(
        teams=list(range(1, 3000)),
        days=[D],
        kinds=("events",),
        failed=[],
        late=[],
        live=set(),
        cap=DUCKLING.max_map_length,
    )
    assert len(items) == DUCKLING.max_map_length and summary["deferred_over_cap"] == 2999 - 1024


def test_days_of_run():
    today = dt.date(2024, 3, 10)
    start = dt.datetime(2024, 3, 5, tzinfo=dt.UTC)
    assert days_of_run(RunParams(), start, today) == [dt.date(2024, 3, 5)]
    assert days_of_run(RunParams(), None, today) == [dt.date(2024, 3, 9)]
    opts = parse_params({"start_date": "2024-03-01", "end_date": "2024-03-03"}, today=today)
    assert days_of_run(opts, start, today) == [dt.date(2024, 3, 1), dt.date(2024, 3, 2), dt.date(2024, 3, 3)]


def test_file_names_are_unique_and_paths_partitioned():
    a, b = (
        file_name("scheduled__2024-03-01T00:00:00+00:00", 2),
        file_name("scheduled__2024-03-01T00:00:00+00:00", 2),
    )
    assert a != b and a.startswith("scheduled__2024-03-01T00_00_00_00_00-try2-")
    assert (
        object_key("events", 42, D, a) == f"backfill/events/team_id=42/year=2024/month=03/day=01/{a}.parquet"
    )


@pytest.mark.parametrize(
    "message, transient",
    [
        ("Code: 499. DB::Exception: Message: Please reduce your request rate. SlowDown (S3_ERROR)", True),
        ("Code: 499. DB::Exception: HTTP 503 Service Unavailable (S3_ERROR)", True),
        ("Code: 499. DB::Exception: Message: The specified bucket does not exist (S3_ERROR)", False),
        ("Code: 499. DB::Exception: Access Denied. (S3_ERROR)", False),
        ("Code: 210. DB::NetException: Connection reset by peer (NETWORK_ERROR)", True),
        ("Code: 241. DB::Exception: Query memory limit exceeded (MEMORY_LIMIT_EXCEEDED)", False),
        ("Code: 36. DB::Exception: Object in bucket b with key k already exists. (BAD_ARGUMENTS)", False),
    ],
)
def test_clickhouse_error_classification(message, transient):
    assert errors.is_transient_clickhouse(RuntimeError(message)) is transient


@pytest.mark.parametrize(
    "message, transient",
    [
        (
            "TransactionContext Error: Failed to commit: Transaction conflict - attempting to insert into table",
            True,
        ),
        ("HTTP Error: HTTP GET error reading 's3://b/k' (HTTP 503 Service Unavailable)", True),
        ("HTTP Error: HTTP GET error reading 's3://b/k' in region 'us-east-1' (HTTP 403 Forbidden)", False),
        ("IO Error: Connection error for HTTP HEAD to 'http://x' could not connect", True),
        ("Binder Error: column x not found", False),
    ],
)
def test_duckdb_error_classification(message, transient):
    assert errors.is_transient_duckdb(RuntimeError(message)) is transient


def test_retry_policy_retries_transient_only():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("Code: 499. SlowDown (S3_ERROR)")
        return "ok"

    assert errors.with_retries(flaky, errors.is_transient_clickhouse, "t") == "ok" and len(calls) == 3
    calls.clear()

    def denied():
        calls.append(1)
        raise RuntimeError("Code: 499. Access Denied (S3_ERROR)")

    with pytest.raises(RuntimeError, match="Access Denied"):
        errors.with_retries(denied, errors.is_transient_clickhouse, "t")
    assert len(calls) == 1


def test_registry_forms_validate():
    remote = Duckling(
        team_id=1,
        bucket="my-bucket",
        db_host="db.example.com",
        db_port=5432,
        db_database="lake",
        db_username="duck",
        db_password="pw",
    )
    assert remote.validate() is remote and "pw" not in repr(remote)
    local = Duckling(team_id=1, bucket="my-bucket", catalog_path="/tmp/x.ducklake")
    assert local.validate().is_local
    with pytest.raises(errors.RegistryError, match="choose one form"):
        Duckling(team_id=1, bucket="my-bucket", catalog_path="/tmp/x", db_host="h").validate()
    with pytest.raises(errors.RegistryError, match="catalog_path"):
        Duckling(team_id=1, bucket="my-bucket", catalog_path="relative/x").validate()


def test_daily_detect_retries_failed_and_late_days(env, demo_data, make_duckling):
    make_duckling(11)
    for day in DAYS:
        run_partition(env, 11, day)
    # a failed partition 5 days before today, and late events (fewer rows now) on DAYS[1]
    t = env.ledger.t
    with env.db.engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.day == DAYS[0]).values(status="failed", error="boom"))
    ch_exec(
        env,
        "DELETE FROM events WHERE team_id = 11 AND toDate(timestamp) = '2024-03-02' "
        "AND cityHash64(uuid) % 2 = 0",
    )
    today = DAYS[0] + dt.timedelta(days=5)
    run = RunInfo(
        "duckling_backfill", "scheduled__x", data_interval_start=dt.datetime(2024, 3, 4, tzinfo=dt.UTC)
    )
    plan = detect_daily({"kinds": ["events"]}, run, env, today=today)
    assert [(i["label"], i["reason"]) for i in plan["items"]] == [  # oldest first: retries come first
        ("team 11 · 2024-03-01 · events", "retry failed"),
        ("team 11 · 2024-03-02 · events", "late events"),
        ("team 11 · 2024-03-04 · events", "scheduled"),
    ]


def test_daily_cap_starves_no_team_and_every_teams_persons_converge():
    """150 teams x (events, persons) a day under a cap of 100: no team waits more than one run for its
    persons, whatever the cap deferred before (the ledger is simulated: deferred rows come back)."""
    teams, cap = list(range(1, 151)), 100
    ledger: dict[tuple[int, dt.date, str], str] = {}
    uncovered: dict[int, set[dt.date]] = {t: set() for t in teams}
    served_runs: dict[int, list[int]] = {t: [] for t in teams}
    for run in range(8):
        day = D + dt.timedelta(days=run)
        for t in teams:
            uncovered[t].add(day)  # persons changed that day in ClickHouse
        deferred = [k for k, status in ledger.items() if status == "deferred"]
        items, summary = plan_daily(
            teams=teams,
            days=[day],
            kinds=("events", "persons"),
            failed=[],
            deferred=deferred,
            late=[],
            live=set(),
            cap=cap,
        )
        assert len(items) == cap
        for it in items:
            key = (it["team_id"], dt.date.fromisoformat(it["day"]), it["kind"])
            ledger[key] = "done"
            if it["kind"] == "persons":
                uncovered[key[0]].discard(key[1])
                served_runs[key[0]].append(run)
            elif it["kind"] == "persons_full":  # the latest state: every change up to that day
                uncovered[key[0]] = {d for d in uncovered[key[0]] if d > key[1]}
                served_runs[key[0]].append(run)
        for t, d, k in summary["deferred"]:
            ledger.setdefault((t, dt.date.fromisoformat(d), k), "deferred")
        for t, d, k in summary["superseded"]:
            ledger[(t, dt.date.fromisoformat(d), k)] = "skipped"
        # after every run, a team lags at most this run's day: nothing older is left uncovered
        assert all(u <= {day} for u in uncovered.values()), {t: u for t, u in uncovered.items() if u - {day}}
    # every team is served at least every second run, the first as well as the 150th
    for t in teams:
        runs = served_runs[t]
        assert runs and runs[0] <= 1 and all(b - a <= 2 for a, b in zip(runs, runs[1:], strict=False)), (
            t,
            runs,
        )
