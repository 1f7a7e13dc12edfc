"""Export + register against the real stack: counts, one copy, refused re-registration, kills, isolation."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from duckling_helpers import (
    DAYS,
    PERSON_DAYS,
    ch_day_counts,
    ch_exec,
    ch_persons,
    lake_day_counts,
    lake_persons,
    lake_query,
    run_partition,
    s3_keys,
)

from backfill.duckling.credentials import access_for
from backfill.duckling.errors import DucklingError
from backfill.duckling.export import export_partition
from backfill.duckling.lake import open_lake
from backfill.duckling.params import RunParams
from backfill.duckling.plan import item
from backfill.duckling.register import register_partition
from backfill.duckling.registry import Registry
from backfill.duckling.report import report
from backfill.duckling.run import RunInfo
from backfill.ledger import DONE


def test_events_two_teams_counts_match(env, demo_data, make_duckling):
    for team in demo_data.team_ids:
        make_duckling(team)
        for day in DAYS:
            out = run_partition(env, team, day)
            assert out["status"] == "done" and out["target_count"] == out["source_count"] > 0
        assert lake_day_counts(env, team) == ch_day_counts(env, team)
    rows = env.ledger.rows("duckling", kind="events")
    assert len(rows) == 6 and all(
        r["status"] == DONE and r["source_count"] == r["target_count"] for r in rows
    )


def test_duplicate_uuids_in_source_export_once(env, demo_data, make_duckling):
    make_duckling(11)
    day = DAYS[0]
    before = ch_day_counts(env, 11)[day]
    # a second copy of the day's rows with a later _timestamp (ReplacingMergeTree, not merged yet)
    ch_exec(
        env,
        "INSERT INTO events SELECT uuid, event, properties, timestamp, team_id, distinct_id, person_id, "
        "session_id, elements_chain, created_at, _timestamp + 10 FROM events "
        "WHERE team_id = 11 AND toDate(timestamp) = '2024-03-01'",
    )
    out = run_partition(env, 11, day)
    assert out["source_count"] == before
    assert lake_day_counts(env, 11)[day] == before


def test_the_latest_version_of_a_duplicated_uuid_is_exported(env, demo_data, make_duckling):
    """A uuid ingested again with a later _timestamp and other content: the lake holds the later row,
    once; uuids seen once are untouched."""
    make_duckling(11)
    day = DAYS[0]
    before = ch_day_counts(env, 11)[day]
    ch_exec(
        env,
        'INSERT INTO events SELECT uuid, event, \'{"version":"latest"}\', timestamp, team_id, distinct_id, '
        "person_id, session_id, elements_chain, created_at, _timestamp + 10 FROM events "
        "WHERE team_id = 11 AND toDate(timestamp) = '2024-03-01' AND cityHash64(uuid) % 2 = 0",
    )
    out = run_partition(env, 11, day)
    assert out["source_count"] == before == lake_day_counts(env, 11)[day]
    rows = lake_query(env, 11, "SELECT properties, count(*) FROM lake.main.events GROUP BY ALL")
    latest = sum(n for props, n in rows if props == '{"version":"latest"}')
    assert 0 < latest < before  # the re-ingested half carries the later content, the rest its own


def test_rerun_same_or_new_run_id_leaves_one_copy(env, demo_data, make_duckling):
    make_duckling(11)
    day = DAYS[1]
    for run_id in ("manual__a", "manual__a", "manual__b"):
        run_partition(env, 11, day, run_id=run_id)
        assert lake_day_counts(env, 11) == {day: ch_day_counts(env, 11)[day]}
    # three different files were written; only the last is live in the lake
    assert len(s3_keys(env, 11)) == 3
    live = lake_query(env, 11, "SELECT data_file FROM ducklake_list_files('lake', 'events')")
    assert len(live) == 1


def test_second_registration_of_a_registered_path_is_refused(env, demo_data, make_duckling):
    make_duckling(11)
    out = run_partition(env, 11, DAYS[0])
    duckling = Registry(env.db).get(11)
    with open_lake(duckling, access_for(duckling)) as lake:
        with pytest.raises(DucklingError, match="already registered"):
            lake.register_events(DAYS[0], out["files"])
        with pytest.raises(DucklingError, match="already registered"):  # even without the day delete
            lake.register_events(DAYS[0], out["files"], cleanup=False)
    assert lake_day_counts(env, 11) == {DAYS[0]: out["source_count"]}


def test_killed_between_export_and_register_then_rerun(env, demo_data, make_duckling):
    make_duckling(11)
    day, opts = DAYS[2], RunParams()
    run_a = RunInfo("duckling_backfill", "scheduled__a")
    exported_a = export_partition(item(11, day, "events", "t"), opts, run_a, env)  # then "killed"
    # while A's lease is live, another run skips the partition
    run_b = RunInfo("duckling_backfill", "scheduled__b")
    assert export_partition(item(11, day, "events", "t"), opts, run_b, env)["status"] == "in_progress"
    # A's lease expires; B takes over and completes
    lt = env.ledger.t
    with env.db.engine.begin() as conn:
        conn.execute(sa.update(lt).values(lease_expires_at=dt.datetime(2000, 1, 1)))
    exported_b = export_partition(item(11, day, "events", "t"), opts, run_b, env)
    register_partition(exported_b, opts, run_b, env)
    assert lake_day_counts(env, 11) == {day: ch_day_counts(env, 11)[day]}
    # A's late register cannot sneak in: it lost the claim
    with pytest.raises(DucklingError, match="lost the ledger claim"):
        register_partition(exported_a, opts, run_a, env)
    assert lake_day_counts(env, 11) == {day: ch_day_counts(env, 11)[day]}
    # A's file is an orphan (never referenced, no live claim): the report removes it
    summary = {
        "mode": "daily",
        "items": [item(11, day, "events", "t")],
        "in_progress": [],
        "deferred_over_cap": 0,
    }
    rep = report(summary, opts, run_b, env)
    assert rep["orphans_removed"] == exported_a["files"]
    assert s3_keys(env, 11) == [f.split("/", 3)[3] for f in exported_b["files"]]
    assert lake_day_counts(env, 11) == {day: ch_day_counts(env, 11)[day]}  # still readable


def test_concurrent_reader_sees_old_or_new_day(env, demo_data, make_duckling):
    make_duckling(11)
    day = DAYS[0]
    old = run_partition(env, 11, day, run_id="r1")["source_count"]
    ch_exec(
        env,
        "DELETE FROM events WHERE team_id = 11 AND toDate(timestamp) = '2024-03-01' "
        "AND cityHash64(uuid) % 3 = 0",
    )
    new = ch_day_counts(env, 11)[day]
    assert 0 < new < old
    seen = []

    def reader():  # another process's view while the register transaction is open
        seen.append(lake_day_counts(env, 11).get(day, 0))

    run_partition(env, 11, day, run_id="r2", before_commit=reader)
    seen.append(lake_day_counts(env, 11).get(day, 0))
    assert seen == [old, new]


def test_concurrent_registrations_and_table_creation(env, demo_data, make_duckling):
    import threading

    make_duckling(12)
    opts = RunParams()
    runs = [RunInfo("duckling_backfill", f"r{i}") for i in range(len(DAYS))]
    exported = [
        export_partition(item(12, d, "events", "t"), opts, r, env) for d, r in zip(DAYS, runs, strict=True)
    ]
    errors = []

    def reg(e, r):
        try:
            register_partition(e, opts, r, env)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reg, args=(e, r)) for e, r in zip(exported, runs, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert lake_day_counts(env, 12) == ch_day_counts(env, 12)


def test_day_without_events_is_done_with_zero_rows_and_clears_stale_rows(env, demo_data, make_duckling):
    make_duckling(11)
    day = DAYS[0]
    run_partition(env, 11, day, run_id="r1")
    ch_exec(env, "DELETE FROM events WHERE team_id = 11 AND toDate(timestamp) = '2024-03-01'")
    out = run_partition(env, 11, day, run_id="r2")
    assert out["status"] == "done" and out["files"] == [] and out["source_count"] == 0
    assert lake_day_counts(env, 11) == {}
    row = env.ledger.rows("duckling", team_ids=[11], kind="events")[0]
    assert (row["status"], row["source_count"], row["target_count"]) == (DONE, 0, 0)


def test_persons_latest_state_out_of_order_and_after_changes(env, demo_data, make_duckling):
    for team in demo_data.team_ids:
        make_duckling(team)
        for day in reversed(PERSON_DAYS):  # out of date order on purpose
            assert run_partition(env, team, day, "persons")["status"] == "done"
        assert lake_persons(env, team) == ch_persons(env, team)
    # a version bump, a distinct-id move and a deletion written on a later day
    later = dt.datetime(2024, 3, 20, 12, tzinfo=dt.UTC)
    persons, distinct = ch_persons(env, 11)
    bump, gone = persons[0]["id"], persons[1]["id"]
    moved = distinct[0]["distinct_id"]
    bump_sql = (
        "INSERT INTO person SELECT id, created_at, team_id, {props:String}, 1, {deleted:Int8}, "
        "version + {step:UInt64}, toDateTime({at:DateTime64(6, 'UTC')}) FROM person "
        "WHERE team_id = 11 AND id = toUUID({id:String}) ORDER BY version DESC LIMIT 1"
    )
    ch_exec(env, bump_sql, {"props": '{"plan": "bumped"}', "deleted": 0, "step": 1, "at": later, "id": bump})
    ch_exec(env, bump_sql, {"props": "{}", "deleted": 1, "step": 5, "at": later, "id": gone})
    ch_exec(
        env,
        "INSERT INTO person_distinct_id2 SELECT 11, {d:String}, toUUID({p:String}), 0, 9, "
        "toDateTime({at:DateTime64(6, 'UTC')})",
        {"d": moved, "p": bump, "at": later},
    )
    run_partition(env, 11, dt.date(2024, 3, 20), "persons")
    lake_p, lake_d = lake_persons(env, 11)
    assert (lake_p, lake_d) == ch_persons(env, 11)
    assert gone not in {p["id"] for p in lake_p}
    assert {d["distinct_id"]: d["person_id"] for d in lake_d}[moved] == bump
    # replaying an old day (lower versions) changes nothing: no resurrection, no downgrade
    run_partition(env, 11, PERSON_DAYS[0], "persons", run_id="replay")
    assert lake_persons(env, 11) == ch_persons(env, 11)


def test_full_persons_snapshot_equals_latest_state(env, demo_data, make_duckling):
    make_duckling(12)
    out = run_partition(env, 12, DAYS[-1], "persons_full", dag_id="duckling_full_backfill")
    assert out["status"] == "done"
    assert lake_persons(env, 12) == ch_persons(env, 12)
    state = env.db.table("duckling_team_state")
    with env.db.engine.connect() as conn:
        assert conn.execute(sa.select(state.c.full_persons_exported_at)).scalar() is not None


def test_the_shared_duckdb_instance_keeps_no_catalog_or_secret_between_tasks(env, demo_data, make_duckling):
    """open_lake reuses the process's DuckDB instance (extensions loaded once); after each use neither
    the team's catalog nor its S3 secret is left on it for the next task."""
    from backfill import duckdb_conn

    make_duckling(11)
    run_partition(env, 11, DAYS[0])
    with duckdb_conn.session(cleanup=lambda con: None) as con:
        databases = {r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()}
        secrets = {r[0] for r in con.execute("SELECT name FROM duckdb_secrets()").fetchall()}
        loaded = {
            r[0]
            for r in con.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()
        }
    assert "lake" not in databases and "duckling_s3" not in secrets
    assert {"ducklake", "postgres_scanner", "httpfs"} <= loaded  # the reused part
