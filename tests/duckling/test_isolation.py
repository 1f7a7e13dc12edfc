"""One partition's failure stays that partition's: the healthy teams are registered in the same run, a
permanent failure is not retried, a transient one is, and no race loses a registered file."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from duckling_helpers import DAYS, ch_day_counts, lake_day_counts, lake_query, s3_keys

from backfill.duckling import orphans
from backfill.duckling.errors import DucklingError
from backfill.duckling.export import export_partition
from backfill.duckling.params import RunParams
from backfill.duckling.plan import item
from backfill.duckling.register import register_partition
from backfill.duckling.report import report
from backfill.duckling.run import RunInfo
from backfill.faults import InjectedFault
from backfill.ledger import CLAIMED, DONE, FAILED

DAY = DAYS[0]
# dag.test() reuses a run (and its conf) found for the same logical date: each test has its own minute
LOGICAL = dt.datetime(DAY.year, DAY.month, DAY.day, tzinfo=dt.UTC) + dt.timedelta(days=1)


@pytest.fixture
def dags(dag_module):
    return dag_module("duckling_backfill")


def _tis(dr):
    return {(ti.task_id, ti.map_index): ti for ti in dr.get_task_instances()}


@pytest.mark.parametrize(
    "bad_row, cause",
    [
        ({"bucket": "no-such-bucket-here"}, "bucket does not exist"),  # fails inside the export
        ({"db_port": 70000}, "db_port 70000 is not a port"),  # fails reading the registry row
    ],
    ids=["missing-bucket", "invalid-registry-row"],
)
def test_one_bad_team_fails_alone_and_the_run_says_so(dags, env, demo_data, make_duckling, bad_row, cause):
    make_duckling(11)
    make_duckling(12, **bad_row)
    minute = dt.timedelta(minutes=10 + len(cause))  # the run for [D, D+1) all the same: the day is D
    dr = dags.duckling_backfill.test(logical_date=LOGICAL + minute, run_conf={"kinds": ["events"]})
    assert str(getattr(dr.state, "value", dr.state)) == "failed"  # the report fails the run
    # the healthy team was exported AND registered in the same run
    assert lake_day_counts(env, 11) == {DAY: ch_day_counts(env, 11)[DAY]}
    rows = {r["team_id"]: r for r in env.ledger.rows("duckling")}
    assert rows[11]["status"] == DONE
    # the bad team's partition was claimed, and its failure is on its ledger row with the cause
    assert rows[12]["status"] == FAILED and cause in rows[12]["error"] and "team 12" in rows[12]["error"]
    tis = _tis(dr)
    exports = {ti.rendered_map_index: ti for (tid, _), ti in tis.items() if tid == "partition.export"}
    bad = exports["team 12 · 2024-03-01 · events"]
    # B: a permanent failure ends the task instance at once: one try, no retry
    assert str(bad.state) == "failed" and bad.try_number == 1
    assert str(tis[("report", -1)].state) == "failed"


def test_report_fails_for_a_partition_that_never_ran(env, demo_data, make_duckling):
    make_duckling(11)
    run = RunInfo("duckling_backfill", "scheduled__x")
    summary = {
        "mode": "daily",
        "items": [item(11, DAY, "events", "t")],
        "in_progress": [],
        "deferred_over_cap": 0,
    }
    with pytest.raises(DucklingError, match="1 partition\\(s\\) failed: team 11 · 2024-03-01 · events: the "):
        report(summary, RunParams(), run, env, results=[])


def test_transient_failure_in_register_succeeds_on_the_retry(env, demo_data, make_duckling):
    make_duckling(11)
    opts, run = RunParams(), RunInfo("duckling_backfill", "scheduled__r", try_number=1)
    exported = export_partition(item(11, DAY, "events", "t"), opts, run, env)

    def catalog_drops():
        raise InjectedFault("server closed the connection unexpectedly")

    with pytest.raises(DucklingError) as err:
        register_partition(exported, opts, run, env, before_commit=catalog_drops)
    assert err.value.transient  # so Airflow retries it
    assert env.ledger.rows("duckling")[0]["status"] == FAILED
    assert lake_day_counts(env, 11) == {}  # rolled back: nothing half registered
    retry = RunInfo("duckling_backfill", "scheduled__r", try_number=2)  # Airflow's retry of the same task
    assert register_partition(exported, opts, retry, env)["status"] == "done"
    assert lake_day_counts(env, 11) == {DAY: ch_day_counts(env, 11)[DAY]}


def test_register_after_a_crash_past_the_commit_completes_without_a_second_copy(
    env, demo_data, make_duckling
):
    make_duckling(11)
    opts, run = RunParams(), RunInfo("duckling_backfill", "scheduled__c")
    exported = export_partition(item(11, DAY, "events", "t"), opts, run, env)
    from backfill.duckling.credentials import access_for
    from backfill.duckling.lake import open_lake

    duckling = env.registry.get(11)
    with open_lake(duckling, access_for(duckling)) as lake:  # the first try committed, then died
        lake.ensure_tables("events", create_if_missing=True, validate=True)
        lake.register_events(DAY, exported["files"])
    retry = RunInfo("duckling_backfill", "scheduled__c", try_number=2)  # Airflow's retry of the task
    assert register_partition(exported, opts, retry, env)["status"] == "done"
    assert lake_day_counts(env, 11) == {DAY: ch_day_counts(env, 11)[DAY]}
    assert env.ledger.rows("duckling")[0]["status"] == DONE


def test_a_progressing_run_keeps_its_claims_while_its_tasks_queue(env, demo_data, make_duckling):
    make_duckling(11)
    opts = RunParams()
    run_a, run_b = RunInfo("duckling_full_backfill", "a"), RunInfo("duckling_backfill", "b")
    exported = export_partition(item(11, DAYS[0], "events", "t"), opts, run_a, env)
    lt = env.ledger.t
    with env.db.engine.begin() as conn:  # register waited in the pool past the lease
        conn.execute(sa.update(lt).values(lease_expires_at=dt.datetime(2000, 1, 1)))
    export_partition(item(11, DAYS[1], "events", "t"), opts, run_a, env)  # run A still progresses
    assert export_partition(item(11, DAYS[0], "events", "t"), opts, run_b, env)["status"] == "in_progress"
    assert register_partition(exported, opts, run_a, env)["status"] == "done"
    assert lake_day_counts(env, 11)[DAYS[0]] == ch_day_counts(env, 11)[DAYS[0]]


def test_orphan_sweep_never_deletes_a_file_registered_while_it_runs(
    env, demo_data, make_duckling, monkeypatch
):
    make_duckling(11)
    opts = RunParams()
    sweeper, other = RunInfo("duckling_full_backfill", "sweeper"), RunInfo("duckling_backfill", "other")
    # another run exported the day (live claim); the sweeping run reports on the same day
    exported = export_partition(item(11, DAY, "events", "t"), opts, other, env)
    real_list = orphans.list_days_files

    def list_then_other_run_registers(s3client, bucket, team_id, days):
        files = real_list(s3client, bucket, team_id, days)
        assert files[DAY]  # the exported file was listed
        register_partition(exported, opts, other, env)  # commits and marks DONE right after the listing
        return files

    monkeypatch.setattr(orphans, "list_days_files", list_then_other_run_registers)
    swept = orphans.sweep([item(11, DAY, "events", "t")], sweeper, env)
    assert swept.removed == [] and swept.warnings == []
    assert s3_keys(env, 11) == [f.split("/", 3)[3] for f in exported["files"]]
    # every file the catalog references exists: the lake is readable and complete
    assert lake_day_counts(env, 11) == {DAY: ch_day_counts(env, 11)[DAY]}
    live = lake_query(env, 11, "SELECT data_file FROM ducklake_list_files('lake', 'events')")
    assert [r[0] for r in live] == exported["files"]
    assert {r["status"] for r in env.ledger.rows("duckling")} == {DONE} != {CLAIMED}
