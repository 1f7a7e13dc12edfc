"""The full backfill spends its cap on days that hold data: days without events are marked done in bulk
from one grouped ClickHouse count, without a mapped task (real chdb, PostgreSQL, moto S3)."""

from __future__ import annotations

import datetime as dt

from duckling_helpers import ch_day_counts, ch_exec, lake_day_counts, run_partition

from backfill.duckling.detect import detect_full
from backfill.duckling.run import RunInfo

TEAM = 31
REAL_DAYS = [dt.date(2024, 6, 3), dt.date(2024, 6, 4), dt.date(2024, 6, 10), dt.date(2024, 6, 20)]
TODAY = dt.date(2024, 7, 1)
INSERT = """INSERT INTO events (uuid, event, properties, timestamp, team_id, distinct_id, person_id, session_id,
    elements_chain, created_at, _timestamp)
SELECT generateUUIDv4(), '$pageview', '{}', toDateTime64({at:String}, 6, 'UTC') + number, {team_id:Int64}, 'd',
       generateUUIDv4(), '', '', now64(), now()
FROM numbers({n:UInt32})"""


def test_a_stray_1970_event_does_not_cost_the_walk_its_cap(env, clickhouse, make_duckling):
    ch_exec(env, INSERT, {"at": "1970-01-01 00:00:00", "team_id": TEAM, "n": 1})  # a client clock at 0
    for day in REAL_DAYS:
        ch_exec(env, INSERT, {"at": f"{day} 12:00:00", "team_id": TEAM, "n": 7})
    make_duckling(TEAM)
    params = {"team_ids": [TEAM], "kinds": ["events"], "max_partitions": 10}
    plan = detect_full(params, RunInfo("duckling_full_backfill", "f1"), env, today=TODAY)
    planned = [it["day"] for it in plan["items"]]
    assert planned == [d.isoformat() for d in REAL_DAYS]  # the first run takes every real day
    for it in plan["items"]:
        run_partition(
            env, TEAM, dt.date.fromisoformat(it["day"]), run_id="f1", dag_id="duckling_full_backfill"
        )
    assert lake_day_counts(env, TEAM) == {d: n for d, n in ch_day_counts(env, TEAM).items() if d.year == 2024}

    # every other day of the walk (from the 2015 floor through yesterday) is done: no rows, no file
    rows = env.ledger.rows("duckling", team_ids=[TEAM], kind="events")
    floor, yesterday = dt.date(2015, 1, 1), TODAY - dt.timedelta(days=1)
    assert len(rows) == (yesterday - floor).days + 1 and {r["status"] for r in rows} == {"done"}
    empty = [r for r in rows if r["day"] not in REAL_DAYS]
    assert {(r["source_count"], r["files"]) for r in empty} == {(0, "[]")}
    again = detect_full(params, RunInfo("duckling_full_backfill", "f2"), env, today=TODAY)
    assert again["items"] == [] and again["summary"]["remaining_days"] == {}

    # a dry run marks nothing
    env.ledger.forget("duckling", TEAM)
    dry = detect_full({**params, "dry_run": True}, RunInfo("duckling_full_backfill", "d"), env, today=TODAY)
    assert dry["summary"]["would_do"] and env.ledger.rows("duckling", team_ids=[TEAM]) == []


def test_export_only_files_stay_after_a_later_export_and_a_reset(env, demo_data, make_duckling):
    """A user kept a day's export unregistered (skip_ducklake_registration); the full backfill later
    exports and registers the same day, and a reset forgets the team: the sweep keeps the first file."""
    from duckling_helpers import DAYS, s3_keys
    from invariant import sweep

    from backfill.duckling.params import RunParams

    make_duckling(11)
    kept = run_partition(env, 11, DAYS[0], run_id="x", options=RunParams(skip_ducklake_registration=True))
    [kept_file] = kept["files"]
    registered = run_partition(env, 11, DAYS[0], run_id="f", dag_id="duckling_full_backfill")
    assert registered["status"] == "done" and registered["files"] != kept["files"]
    sweep(env, [(11, DAYS[0])])
    assert kept_file.split("/", 3)[3] in s3_keys(env, 11)
    env.ledger.forget("duckling", 11)
    sweep(env, [(11, DAYS[0])])
    assert kept_file.split("/", 3)[3] in s3_keys(env, 11)
    # the reset forgot everything else of the team; a later export keeps carrying the file
    run_partition(env, 11, DAYS[0], run_id="g", dag_id="duckling_full_backfill")
    sweep(env, [(11, DAYS[0])])
    assert kept_file.split("/", 3)[3] in s3_keys(env, 11)
    assert lake_day_counts(env, 11) == {DAYS[0]: ch_day_counts(env, 11)[DAYS[0]]}
